// The built-in forward processes `vp` and `ve` against the closed forms of SCIENCE.md section 1:
// alpha and sigma, their derivatives (against central finite differences), g^2, accuracy at tiny
// t, the prior, and the mean and variance of perturb (Monte Carlo within standard errors).
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;

std::shared_ptr<mdlab::ForwardProcess> process(const std::string& name, const std::string& json = "{}") {
    return mdlab::test::make<mdlab::ForwardProcess>(name, json);
}

bool rel_close(double a, double b, double tol) { return std::abs(a - b) <= tol * std::abs(b); }

// Central difference of f at t with step h (error O(h^2 f''')).
template <class F>
double central(F&& f, double t, double h) {
    return (f(t + h) - f(t - h)) / (2.0 * h);
}

// Closed forms of the linear VP schedule.
struct VpRef {
    double b0, b1;
    double beta(double t) const { return b0 + t * (b1 - b0); }
    double B(double t) const { return b0 * t + 0.5 * (b1 - b0) * t * t; }
    double alpha(double t) const { return std::exp(-0.5 * B(t)); }
    double sigma(double t) const { return std::sqrt(1.0 - std::exp(-B(t))); }
};

const std::vector<double> times = {1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};

// perturb(x0, t) row-wise: mean alpha x0 and variance sigma^2 per coordinate, within 5 standard
// errors; coordinates uncorrelated.
void check_perturb(const mdlab::ForwardProcess& p, double t) {
    const std::size_t n = 40000;
    const std::vector<double> x0v = {1.0, -2.0, 0.5, 0.0};
    const std::size_t D = x0v.size();
    Matrix x0 = Matrix::from_shape({n, D});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) x0(i, j) = x0v[j];
    const mdlab::RandomStream stream(2024, "perturb-test");
    const Matrix xt = p.perturb(x0, t, stream);
    REQUIRE(xt.shape() == x0.shape());
    const double a = p.alpha(t), s = p.sigma(t);
    std::vector<double> mean(D, 0.0), var(D, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) mean[j] += xt(i, j);
    for (double& m : mean) m /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) var[j] += (xt(i, j) - mean[j]) * (xt(i, j) - mean[j]);
    for (double& v : var) v /= static_cast<double>(n - 1);
    double cov01 = 0.0;
    for (std::size_t i = 0; i < n; ++i) cov01 += (xt(i, 0) - mean[0]) * (xt(i, 1) - mean[1]);
    cov01 /= static_cast<double>(n - 1);
    const double se_mean = s / std::sqrt(static_cast<double>(n));
    const double se_var = s * s * std::sqrt(2.0 / static_cast<double>(n - 1));
    for (std::size_t j = 0; j < D; ++j) {
        INFO("t = " << t << ", coordinate " << j << ": mean " << mean[j] << " vs " << a * x0v[j]
                    << ", variance " << var[j] << " vs " << s * s);
        CHECK(std::abs(mean[j] - a * x0v[j]) < 5.0 * se_mean);
        CHECK(std::abs(var[j] - s * s) < 5.0 * se_var);
    }
    CHECK(std::abs(cov01) < 5.0 * s * s / std::sqrt(static_cast<double>(n)));

    // Same stream, same draws; the result does not depend on the thread count.
    Matrix one, two;
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
        one = p.perturb(x0, t, stream);
    }
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
        two = p.perturb(x0, t, stream);
    }
    CHECK(std::equal(one.data(), one.data() + one.size(), xt.data()));
    CHECK(std::equal(two.data(), two.data() + two.size(), xt.data()));
}

}  // namespace

// ---------------------------------------------------------------------------------------- VP

TEST_CASE("vp: alpha and sigma match the closed forms", "[process][vp]") {
    auto p = process("vp");
    const VpRef ref{0.1, 20.0};
    CHECK(p->t_end() == 1.0);
    CHECK(p->alpha(0.0) == 1.0);
    CHECK(p->sigma(0.0) == 0.0);
    for (double t : times) {
        INFO("t = " << t);
        CHECK(rel_close(p->alpha(t), ref.alpha(t), 1e-14));
        // The reference 1 - exp(-B) cancels at small t: tolerance from its own rounding error.
        CHECK(rel_close(p->sigma(t), ref.sigma(t), 1e-15 / ref.B(t) + 1e-14));
        CHECK(rel_close(p->alpha(t) * p->alpha(t) + p->sigma(t) * p->sigma(t), 1.0, 1e-14));
    }
    // Hand-computed values at the defaults: B(1) = 0.1 + 19.9 / 2 = 10.05.
    CHECK(rel_close(p->alpha(1.0), std::exp(-5.025), 1e-14));
    CHECK(rel_close(p->sigma(1.0), std::sqrt(1.0 - std::exp(-10.05)), 1e-14));
    CHECK(rel_close(p->alpha(0.5), std::exp(-0.5 * (0.05 + 19.9 / 8.0)), 1e-14));

    auto q = process("vp", R"({"beta_min": 0.5, "beta_max": 4.0, "t_end": 2.0})");
    const VpRef rq{0.5, 4.0};
    CHECK(q->t_end() == 2.0);
    for (double t : {0.1, 1.0, 1.5, 2.0}) {
        CHECK(rel_close(q->alpha(t), rq.alpha(t), 1e-14));
        CHECK(rel_close(q->sigma(t), rq.sigma(t), 1e-13));
    }
    // A constant schedule (beta_min = beta_max) is the OU process with theta = beta / 2.
    auto ou = process("vp", R"({"beta_min": 2.0, "beta_max": 2.0})");
    for (double t : {0.1, 0.7}) {
        CHECK(rel_close(ou->alpha(t), std::exp(-t), 1e-14));
        CHECK(rel_close(ou->sigma(t), std::sqrt(1.0 - std::exp(-2.0 * t)), 1e-13));
    }
}

TEST_CASE("vp: sigma is accurate at tiny t", "[process][vp]") {
    auto p = process("vp");
    for (double t : {1e-8, 1e-10, 1e-12}) {
        const double B = 0.1 * t + 0.5 * 19.9 * t * t;
        // 1 - exp(-B) = B - B^2/2 + B^3/6 - ...; the truncation is ~B^4/24, far below 1e-16 B.
        const double series = std::sqrt(B - B * B / 2.0 + B * B * B / 6.0);
        INFO("t = " << t << ": sigma " << p->sigma(t) << ", series " << series);
        CHECK(rel_close(p->sigma(t), series, 1e-14));
        // dsigma/dt = beta exp(-B) / (2 sigma) ~ sqrt(beta_min / (4 t)) at tiny t.
        const double beta = 0.1 + 19.9 * t;
        CHECK(rel_close(p->dsigma_dt(t), beta * std::exp(-B) / (2.0 * series), 1e-13));
    }
    CHECK(std::isinf(p->dsigma_dt(0.0)));
}

TEST_CASE("vp: derivatives match finite differences and g^2 = beta", "[process][vp]") {
    for (const std::string& json : {std::string("{}"), std::string(R"({"beta_min": 0.5, "beta_max": 4.0})")}) {
        auto p = process("vp", json);
        const bool defaults = json == "{}";
        const VpRef ref{defaults ? 0.1 : 0.5, defaults ? 20.0 : 4.0};
        for (double t : {0.01, 0.1, 0.3, 0.5, 0.9, 0.99}) {
            INFO(json << " t = " << t);
            const double h = 1e-5 * t;
            const double fd_log_alpha = central([&](double u) { return std::log(p->alpha(u)); }, t, h);
            const double fd_sigma = central([&](double u) { return p->sigma(u); }, t, h);
            const double fd_sigma2 = central([&](double u) { return p->sigma(u) * p->sigma(u); }, t, h);
            CHECK(rel_close(p->dlog_alpha_dt(t), fd_log_alpha, 1e-7));
            CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-6));
            CHECK(rel_close(p->dsigma_dt(t), ref.beta(t) * std::exp(-ref.B(t)) / (2.0 * ref.sigma(t)), 1e-12));
            CHECK(rel_close(p->dlog_alpha_dt(t), -0.5 * ref.beta(t), 1e-14));
            // SCIENCE.md: g^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2 = beta(t) for VP.
            CHECK(rel_close(p->g2(t), ref.beta(t), 1e-13));
            CHECK(rel_close(fd_sigma2 - 2.0 * fd_log_alpha * p->sigma(t) * p->sigma(t), ref.beta(t), 1e-6));
            CHECK(rel_close(p->drift_rate(t), -0.5 * ref.beta(t), 1e-14));
        }
    }
}

TEST_CASE("vp: prior and parameter checks", "[process][vp]") {
    CHECK(process("vp")->prior_std() == 1.0);
    CHECK_THROWS_WITH(process("vp", R"({"beta_min": 5.0, "beta_max": 1.0})"), Catch::Contains("beta_max"));
    try {
        process("vp", R"({"beta_min": 5.0, "beta_max": 1.0})");
        FAIL("beta_max < beta_min was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "beta_max");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("beta_max"));
    }
    CHECK_THROWS(process("vp", R"({"t_end": 0})"));
    CHECK_THROWS(process("vp", R"({"beta_min": -1})"));
    CHECK_NOTHROW(process("vp", R"({"beta_min": 3.0, "beta_max": 3.0})"));
}

TEST_CASE("vp: perturb has mean alpha x0 and variance sigma^2", "[process][vp]") {
    auto p = process("vp");
    for (double t : {0.05, 0.3, 1.0}) check_perturb(*p, t);
}

// ---------------------------------------------------------------------------------------- VE

TEST_CASE("ve: alpha and sigma match the closed forms", "[process][ve]") {
    auto p = process("ve");
    CHECK(p->t_end() == 1.0);
    CHECK(rel_close(p->sigma(0.0), 0.01, 1e-15));
    CHECK(rel_close(p->sigma(1.0), 50.0, 1e-14));
    CHECK(rel_close(p->sigma(0.5), std::sqrt(0.01 * 50.0), 1e-14));  // geometric mean
    for (double t : times) {
        INFO("t = " << t);
        CHECK(p->alpha(t) == 1.0);
        CHECK(p->dlog_alpha_dt(t) == 0.0);
        CHECK(rel_close(p->sigma(t), 0.01 * std::pow(5000.0, t), 1e-13));
    }
    auto q = process("ve", R"({"sigma_min": 0.002, "sigma_max": 80, "t_end": 0.5})");
    CHECK(q->t_end() == 0.5);
    for (double t : {0.0, 0.2, 0.5}) CHECK(rel_close(q->sigma(t), 0.002 * std::pow(40000.0, t), 1e-13));
}

TEST_CASE("ve: derivatives match finite differences and g^2 = d(sigma^2)/dt", "[process][ve]") {
    auto p = process("ve");
    const double L = std::log(5000.0);
    for (double t : {0.0, 0.01, 0.2, 0.5, 0.8, 1.0}) {
        INFO("t = " << t);
        const double h = 1e-5;
        const double fd_sigma = central([&](double u) { return p->sigma(u); }, t, h);
        const double fd_sigma2 = central([&](double u) { return p->sigma(u) * p->sigma(u); }, t, h);
        const double s = p->sigma(t);
        CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-8));
        CHECK(rel_close(p->dsigma_dt(t), s * L, 1e-14));
        // SCIENCE.md: g^2 = d(sigma^2)/dt = 2 sigma^2 log(sigma_max / sigma_min) for VE.
        CHECK(rel_close(p->g2(t), fd_sigma2, 1e-8));
        CHECK(rel_close(p->g2(t), 2.0 * s * s * L, 1e-13));
        CHECK(p->drift_rate(t) == 0.0);
    }
}

TEST_CASE("ve: prior and parameter checks", "[process][ve]") {
    CHECK(rel_close(process("ve")->prior_std(), 50.0, 1e-14));
    CHECK(rel_close(process("ve", R"({"t_end": 0.5})")->prior_std(), std::sqrt(0.01 * 50.0), 1e-14));
    CHECK_THROWS_WITH(process("ve", R"({"sigma_min": 1.0, "sigma_max": 1.0})"), Catch::Contains("sigma_max"));
    try {
        process("ve", R"({"sigma_min": 2.0, "sigma_max": 1.0})");
        FAIL("sigma_max < sigma_min was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "sigma_max");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("sigma_max"));
    }
    CHECK_THROWS(process("ve", R"({"sigma_min": 0})"));
}

TEST_CASE("ve: perturb has mean x0 and variance sigma^2", "[process][ve]") {
    auto p = process("ve");
    for (double t : {0.0, 0.4, 1.0}) check_perturb(*p, t);
}
