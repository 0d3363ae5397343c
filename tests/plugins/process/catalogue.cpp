// The catalogue processes ou, subvp, edm and cosine, checked together from one table of their
// closed forms (SCIENCE.md section 1): several plugins per test case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "process_checks.hpp"

// ------------------------------------------------------------------ ou, subvp, edm, cosine
// Each is checked against the SCIENCE.md table coded independently below (plain closed forms,
// without the plugins' cancellation-free rewrites), including the table's g^2 column.

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Case {
    std::string name, json;
    double t_end, prior_std;
    std::function<double(double)> alpha, sigma2, g2;
    // Length scale of the variation of alpha and sigma near t (for finite-difference steps).
    std::function<double(double)> scale;
};

Case ou_case(double theta, double t_end, const std::string& json) {
    return {"ou", json, t_end, 1.0,
            [=](double t) { return std::exp(-theta * t); },
            [=](double t) { return 1.0 - std::exp(-2.0 * theta * t); },
            [=](double) { return 2.0 * theta; },
            [=](double t) { return std::min(t, 1.0 / theta); }};
}

Case subvp_case(double b0, double b1, const std::string& json) {
    auto B = [=](double t) { return b0 * t + 0.5 * (b1 - b0) * t * t; };
    return {"subvp", json, 1.0, 1.0,
            [=](double t) { return std::exp(-0.5 * B(t)); },
            [=](double t) {
                const double one_minus_a2 = 1.0 - std::exp(-B(t));
                return one_minus_a2 * one_minus_a2;
            },
            [=](double t) { return (b0 + t * (b1 - b0)) * (1.0 - std::exp(-2.0 * B(t))); },
            [=](double t) { return t; }};
}

Case edm_case(double smax, const std::string& json) {
    return {"edm", json, smax, smax,
            [](double) { return 1.0; },
            [](double t) { return t * t; },
            [](double t) { return 2.0 * t; },
            [](double t) { return t; }};
}

Case cosine_case(double s, double t_end, const std::string& json) {
    auto u = [=](double t) { return (t + s) / (1.0 + s) * kPi / 2.0; };
    auto alpha = [=](double t) { return std::cos(u(t)) / std::cos(s / (1.0 + s) * kPi / 2.0); };
    return {"cosine", json, t_end, 1.0, alpha,
            [=](double t) { return 1.0 - alpha(t) * alpha(t); },
            // "from alpha": with sigma^2 = 1 - alpha^2, g^2 = -2 alpha'/alpha = pi/(1+s) tan(u).
            [=](double t) { return kPi / (1.0 + s) * std::tan(u(t)); },
            [=](double t) { return std::min(t, 1.0 - t); }};
}

std::vector<Case> new_cases() {
    return {ou_case(1.0, 5.0, "{}"),
            ou_case(0.3, 2.0, R"({"theta": 0.3, "t_end": 2.0})"),
            subvp_case(0.1, 20.0, "{}"),
            subvp_case(0.5, 4.0, R"({"beta_min": 0.5, "beta_max": 4.0})"),
            edm_case(80.0, "{}"),
            edm_case(10.0, R"({"sigma_max": 10})"),
            cosine_case(0.008, 0.9946, "{}"),
            cosine_case(0.02, 0.9, R"({"s": 0.02, "t_end": 0.9})"),
            cosine_case(0.0, 0.99, R"({"s": 0.0, "t_end": 0.99})")};
}

const std::vector<double> fractions = {1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};

}  // namespace

TEST_CASE("ou, subvp, edm, cosine: alpha, sigma and the prior match the closed forms", "[process][catalogue]") {
    for (const Case& c : new_cases()) {
        auto p = process(c.name, c.json);
        INFO(c.name << " " << c.json);
        CHECK(p->t_end() == c.t_end);
        CHECK(rel_close(p->prior_std(), c.prior_std, 1e-15));
        CHECK(p->alpha(0.0) == 1.0);
        CHECK(p->sigma(0.0) == 0.0);
        for (double f : fractions) {
            const double t = f * c.t_end;
            INFO("t = " << t);
            const double a = c.alpha(t), s2 = c.sigma2(t);
            // The references lose about 1e-16 / value to cancellation (cos near pi/2, 1 - alpha^2).
            CHECK(rel_close(p->alpha(t), a, 1e-14 + 4e-16 / a));
            CHECK(rel_close(p->sigma(t) * p->sigma(t), s2, 1e-14 + 4e-16 / s2));
        }
    }
    // Cross-checks between processes: sub-VP has VP's mean and sigma_subvp = sigma_vp^2; OU with
    // rate theta is VP with the constant schedule beta = 2 theta.
    auto vp = process("vp"), sub = process("subvp");
    auto ou = process("ou", R"({"theta": 0.7})"), vp_const = process("vp", R"({"beta_min": 1.4, "beta_max": 1.4})");
    for (double t : {1e-6, 0.01, 0.3, 1.0}) {
        CHECK(rel_close(sub->alpha(t), vp->alpha(t), 1e-15));
        CHECK(rel_close(sub->sigma(t), vp->sigma(t) * vp->sigma(t), 1e-14));
        CHECK(rel_close(ou->alpha(t), vp_const->alpha(t), 1e-14));
        CHECK(rel_close(ou->sigma(t), vp_const->sigma(t), 1e-14));
    }
    // Hand-computed: cosine at the default T = 0.9946 has alpha = sin(0.0054 k) / cos(0.008 k), k = pi / 2.016.
    auto cos_p = process("cosine");
    const double k = kPi / 2.016;
    CHECK(rel_close(cos_p->alpha(0.9946), std::sin(0.0054 * k) / std::cos(0.008 * k), 1e-12));
    CHECK(cos_p->alpha(0.9946) == Approx(0.0084155).epsilon(1e-4));
    CHECK(rel_close(process("edm")->sigma(37.5), 37.5, 1e-15));
}

TEST_CASE("ou, subvp, edm, cosine: derivatives match finite differences, f and g^2 match the table",
          "[process][catalogue]") {
    for (const Case& c : new_cases()) {
        auto p = process(c.name, c.json);
        for (double f : {0.01, 0.1, 0.3, 0.5, 0.9, 0.99, 1.0}) {
            const double t = f * c.t_end;
            INFO(c.name << " " << c.json << " t = " << t);
            // Step 1e-5 of the local scale: truncation ~1e-10, rounding ~1e-11 relative; 1e-6 has margin.
            const double h = 1e-5 * c.scale(t);
            const double fd_log_alpha = central([&](double u) { return std::log(p->alpha(u)); }, t, h);
            const double fd_sigma = central([&](double u) { return p->sigma(u); }, t, h);
            const double fd_sigma2 = central([&](double u) { return p->sigma(u) * p->sigma(u); }, t, h);
            const double s = p->sigma(t);
            if (fd_log_alpha == 0.0) CHECK(p->dlog_alpha_dt(t) == 0.0);
            else CHECK(rel_close(p->dlog_alpha_dt(t), fd_log_alpha, 1e-6));
            CHECK(rel_close(p->dsigma_dt(t), fd_sigma, 1e-6));
            // f = (d log alpha / dt) x, with alpha the table's (not the plugin's).
            const double fd_table = central([&](double u) { return std::log(c.alpha(u)); }, t, h);
            if (fd_table == 0.0) CHECK(p->drift_rate(t) == 0.0);
            else CHECK(rel_close(p->drift_rate(t), fd_table, 1e-6));
            // g^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2 equals the table's g^2 column, both
            // through the plugin's analytic derivatives and through finite differences.
            CHECK(rel_close(p->g2(t), c.g2(t), 1e-12));
            CHECK(rel_close(fd_sigma2 - 2.0 * fd_log_alpha * s * s, c.g2(t), 1e-6));
        }
    }
}

TEST_CASE("ou, subvp, edm, cosine: the marginal variance ODE integrates to alpha^2 s0^2 + sigma^2",
          "[process][catalogue]") {
    // dv/dt = 2 (d log alpha/dt) v + g^2 (the table's column), v(0) = s0^2, by classical RK4.
    // The error bound is measured: Richardson's |v_N - v_2N| (the error of v_N, order 4).
    auto integrate = [](const mdlab::ForwardProcess& p, const Case& c, double s0, std::size_t steps,
                        std::vector<double>& at_checkpoints) {
        const double T = c.t_end, h = T / double(steps);
        auto rhs = [&](double t, double v) { return 2.0 * p.dlog_alpha_dt(t) * v + c.g2(t); };
        double v = s0 * s0;
        at_checkpoints.clear();
        for (std::size_t i = 0; i < steps; ++i) {
            const double t = T * double(i) / double(steps);
            const double k1 = rhs(t, v), k2 = rhs(t + h / 2, v + h / 2 * k1), k3 = rhs(t + h / 2, v + h / 2 * k2),
                         k4 = rhs(t + h, v + h * k3);
            v += h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4);
            if ((i + 1) % (steps / 10) == 0) at_checkpoints.push_back(v);
        }
    };
    double worst_error = 0.0, worst_bound = 0.0;
    for (const Case& c : new_cases()) {
        auto p = process(c.name, c.json);
        for (double s0 : {0.5, 2.0}) {
            std::vector<double> coarse, fine;
            integrate(*p, c, s0, 10000, coarse);
            integrate(*p, c, s0, 20000, fine);
            REQUIRE(fine.size() == 10);
            for (std::size_t j = 0; j < 10; ++j) {
                const double t = c.t_end * double(j + 1) / 10.0;
                const double a = p->alpha(t), s = p->sigma(t);
                const double exact = a * a * s0 * s0 + s * s;
                const double tol = std::abs(coarse[j] - fine[j]) + 1e-13 * exact;
                INFO(c.name << " " << c.json << " s0 = " << s0 << " t = " << t << ": RK4 " << fine[j]
                            << ", closed form " << exact << ", Richardson bound " << tol);
                CHECK(std::abs(fine[j] - exact) <= tol);
                worst_error = std::max(worst_error, std::abs(fine[j] - exact) / exact);
                worst_bound = std::max(worst_bound, tol / exact);
            }
        }
    }
    WARN("variance ODE by RK4 (20000 steps): largest relative error " << worst_error
         << ", largest Richardson bound " << worst_bound);
}

TEST_CASE("ou, subvp, edm, cosine: accurate at tiny t", "[process][catalogue]") {
    for (double t : {1e-8, 1e-10, 1e-12}) {
        INFO("t = " << t);
        // OU: 1 - exp(-x) = x - x^2/2 + x^3/6 - ..., x = 2 theta t; truncation x^4/24 << 1e-16 x.
        auto ou = process("ou", R"({"theta": 1.5})");
        const double x = 3.0 * t;
        const double ou_series = std::sqrt(x - x * x / 2 + x * x * x / 6);
        CHECK(rel_close(ou->sigma(t), ou_series, 1e-14));
        CHECK(rel_close(ou->dsigma_dt(t), 1.5 * std::exp(-x) / ou_series, 1e-13));

        // sub-VP: sigma = 1 - exp(-B) = B - B^2/2 + B^3/6; d sigma/dt = beta exp(-B) -> beta_min.
        auto sub = process("subvp");
        const double B = 0.1 * t + 0.5 * 19.9 * t * t;
        CHECK(rel_close(sub->sigma(t), B - B * B / 2 + B * B * B / 6, 1e-14));
        CHECK(rel_close(sub->dsigma_dt(t), (0.1 + 19.9 * t) * std::exp(-B), 1e-14));
        CHECK(rel_close(sub->g2(t), (0.1 + 19.9 * t) * (2 * B - 2 * B * B + 4 * B * B * B / 3), 1e-8));

        // EDM: sigma = t exactly.
        CHECK(process("edm")->sigma(t) == t);

        // cosine: with alpha = cos(d) - tan(c) sin(d) (c = k s, d = k t), expanding the square gives
        // 1 - alpha^2 = sin d (2 tan(c) cos d + (1 - tan^2 c) sin d), free of cancellation.
        auto cs = process("cosine");
        const double k = kPi / 2.016, c = 0.008 * k, d = k * t, tc = std::tan(c);
        const double s2 = std::sin(d) * (2 * tc * std::cos(d) + (1 - tc * tc) * std::sin(d));
        CHECK(rel_close(cs->sigma(t) * cs->sigma(t), s2, 1e-14));
        // sigma ~ sqrt(C t): d sigma/dt = sigma / (2t) up to relative O(t).
        CHECK(rel_close(cs->dsigma_dt(t), std::sqrt(s2) / (2 * t), 1e-6));
        CHECK(rel_close(cs->g2(t), kPi / 1.008 * std::tan((t + 0.008) / 1.008 * kPi / 2), 1e-6));
    }
    CHECK(std::isinf(process("ou")->dsigma_dt(0.0)));
    CHECK(std::isinf(process("cosine")->dsigma_dt(0.0)));
    CHECK(process("subvp")->dsigma_dt(0.0) == 0.1);
    CHECK(rel_close(process("cosine", R"({"s": 0})")->dsigma_dt(0.0), kPi / 2, 1e-15));
}

TEST_CASE("ou, subvp, edm, cosine: perturb has mean alpha x0 and variance sigma^2", "[process][catalogue]") {
    for (const Case& c : new_cases()) {
        if (c.json != "{}") continue;
        INFO(c.name);
        auto p = process(c.name);
        for (double f : {0.05, 0.3, 1.0}) check_perturb(*p, f * c.t_end);
    }
}

TEST_CASE("ou, subvp, edm, cosine: parameter checks", "[process][catalogue]") {
    auto key_of = [](const std::string& name, const std::string& json) -> std::string {
        try {
            process(name, json);
        } catch (const mdlab::InputError& e) {
            return e.key();
        } catch (const std::exception& e) {
            return std::string("other: ") + e.what();
        }
        return "accepted";
    };
    // alpha(1) = 0 for the cosine schedule: t_end must stay below 1.
    CHECK(key_of("cosine", R"({"t_end": 1.0})") == "t_end");
    CHECK(key_of("cosine", R"({"t_end": 1.5})") == "t_end");
    CHECK(key_of("cosine", R"({"t_end": 0.999999})") == "accepted");
    CHECK(key_of("subvp", R"({"beta_min": 5.0, "beta_max": 1.0})") == "beta_max");
    CHECK_THROWS(process("cosine", R"({"s": -0.1})"));
    CHECK_THROWS(process("cosine", R"({"t_end": 0})"));
    CHECK_THROWS(process("ou", R"({"theta": 0})"));
    CHECK_THROWS(process("ou", R"({"t_end": -1})"));
    CHECK_THROWS(process("edm", R"({"sigma_max": 0})"));
    CHECK_THROWS(process("subvp", R"({"beta_min": -1})"));
}
