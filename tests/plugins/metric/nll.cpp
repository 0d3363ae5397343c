// The nll metric against the exact log-density of a Gaussian mixture noised to t_min: with the
// mixture's exact (oracle) score, the probability-flow ODE maps p_{t_min} onto p_T, so the
// per-point NLL equals -log p_{t_min}(x) / D, computed here in long double, up to the ODE's
// discretisation (measured: orders 4 and 2 of rk4 and heun), the finite differences of the
// divergence and the prior's mismatch with p_T (exp(-20) on the ou process with T = 20 used
// here; a sigma_max of 1e4 on ve and edm). Hutchinson's divergence agrees with the exact one within
// its error bar.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "csv_column.hpp"
#include "error_key.hpp"
#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "metric_value.hpp"

namespace {

using mdlab::Matrix;
using mdlab::test::value;

// A mixture of 3 isotropic Gaussians in R^d with given means (mu_k)_a = cos(1.7 (k + 1) (a + 1) + k),
// scaled by `spread`, weights 0.5, 0.3, 0.2 and standard deviation `std`.
struct Mixture {
    std::size_t d;
    double std = 0.4, spread = 1.5;
    std::vector<double> weights{0.5, 0.3, 0.2};
    std::vector<std::vector<double>> means;
    std::shared_ptr<mdlab::Manifold> manifold;
    std::shared_ptr<const mdlab::ForwardProcess> process;
    std::shared_ptr<mdlab::ScoreEstimator> oracle;

    explicit Mixture(std::size_t dim, const std::string& process_name = "ou", const std::string& process_params = R"({"t_end": 20})")
        : d(dim) {
        std::ostringstream json;
        json.precision(17);  // the means round-trip exactly
        json << R"({"components": 3, "ambient_dim": )" << d << R"(, "std": )" << std << R"(, "weights": [0.5, 0.3, 0.2], "means": [)";
        for (std::size_t k = 0; k < 3; ++k) {
            means.emplace_back(d);
            json << (k ? ", [" : "[");
            for (std::size_t a = 0; a < d; ++a) {
                means[k][a] = spread * std::cos(1.7 * double((k + 1) * (a + 1)) + double(k));
                json << (a ? ", " : "") << means[k][a];
            }
            json << "]";
        }
        json << "]}";
        mdlab::test::TestContext ctx(5, "mixture");
        manifold = mdlab::test::prepared("gaussian_mixture", json.str(), ctx);
        process = mdlab::test::make<mdlab::ForwardProcess>(process_name, process_params);
        oracle = mdlab::test::make<mdlab::ScoreEstimator>("oracle", R"({"method": "closed_form"})");
        mdlab::Inputs in;
        in.set("manifold", std::shared_ptr<const mdlab::Manifold>(manifold));
        in.set("process", process);
        mdlab::test::TestContext octx(7, "oracle");
        oracle->prepare(in, octx);
    }

    // log p_t(x) of the mixture noised to t: sum_k w_k N(x; alpha mu_k, (alpha^2 std^2 + sigma^2) I).
    long double log_density(const double* x, double t) const {
        const long double a = process->alpha(t), s = process->sigma(t), v = a * a * std * std + s * s;
        long double total = 0.0L;
        for (std::size_t k = 0; k < 3; ++k) {
            long double r2 = 0.0L;
            for (std::size_t j = 0; j < d; ++j) {
                const long double r = x[j] - a * means[k][j];
                r2 += r * r;
            }
            total += weights[k] * std::exp(-r2 / (2.0L * v)) / std::pow(2.0L * 3.14159265358979323846264338L * v, 0.5L * d);
        }
        return std::log(total);
    }

    // n draws of p_{t_min}.
    std::shared_ptr<const Matrix> points(std::size_t n, double t_min, std::uint64_t seed = 3) const {
        mdlab::test::TestContext ctx(seed, "points");
        const Matrix x0 = manifold->sample(n, ctx.stream("x0"));
        return std::make_shared<const Matrix>(process->perturb(x0, t_min, ctx.stream("eps")));
    }
};

struct Result {
    mdlab::Values values;
    std::vector<double> nll;  // per point, from <node>.nll.csv
};

Result run_nll(const std::string& params, const Mixture& m, std::shared_ptr<const Matrix> x, std::uint64_t seed = 9) {
    auto metric = mdlab::test::make<mdlab::Metric>("nll", params);
    mdlab::Inputs in;
    in.set("samples", std::move(x));
    in.set("score", std::shared_ptr<const mdlab::ScoreEstimator>(m.oracle));
    mdlab::test::TestContext ctx(seed, "node");
    Result r;
    r.values = metric->evaluate(in, ctx);
    r.nll = csv_column(ctx.output_dir() / "node.nll.csv", "nll");
    return r;
}

// The exact -log p_{t_min}(x_i) / D per point.
std::vector<double> exact_nll(const Mixture& m, const Matrix& x, double t_min) {
    std::vector<double> out(mdlab::rows(x));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = double(-m.log_density(mdlab::row(x, i), t_min) / double(m.d));
    return out;
}

double mean_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(a[i] - b[i]);
    return s / double(a.size());
}

double mean(const std::vector<double>& v) {
    double s = 0.0;
    for (double x : v) s += x;
    return s / double(v.size());
}

}  // namespace

TEST_CASE("nll: with the exact mixture score, the NLL is the exact log-density noised to t_min", "[nll]") {
    const Mixture m(2);
    const double t_min = 1e-3;
    const auto x = m.points(200, t_min);
    const std::vector<double> exact = exact_nll(m, *x, t_min);
    const Result r = run_nll(R"({"t_min": 0.001, "steps": 128})", m, x);
    REQUIRE(r.nll.size() == 200);
    double worst = 0.0;
    for (std::size_t i = 0; i < exact.size(); ++i) worst = std::max(worst, std::abs(r.nll[i] - exact[i]));
    INFO("largest per-point error " << worst);
    CHECK(worst < 5e-5);
    CHECK(mean_abs_diff(r.nll, exact) < 5e-6);
    CHECK(value(r.values, "nll") == Approx(mean(exact)).margin(5e-6));
    CHECK(value(r.values, "bits_per_dim") == Approx(value(r.values, "nll") / std::log(2.0)).epsilon(1e-14));
    CHECK(value(r.values, "probes") == 0.0);
    CHECK(value(r.values, "n_points") == 200.0);
    CHECK(value(r.values, "nfe") == 128.0 * 4.0 * 5.0);  // steps x stages x (1 + 2 D)
    // The standard error over the points, against the spread of the exact values.
    double var = 0.0;
    for (double e : exact) var += (e - mean(exact)) * (e - mean(exact));
    CHECK(value(r.values, "nll_stderr") == Approx(std::sqrt(var / 199.0 / 200.0)).epsilon(1e-4));
    WARN("nll on a 2-D mixture (ou, t_min 1e-3, rk4, 128 steps): " << value(r.values, "nll") << " nats/dim, exact "
                                                                   << mean(exact) << ", largest per-point error " << worst);
}

TEST_CASE("nll: on ve and edm (alpha = 1) the same exact density", "[nll]") {
    // sigma_max = 1e4: the prior N(0, sigma_max^2 I) differs from the true p_T by a log-density of
    // order |x(T)| |mu| / sigma_max^2 ~ 1e-4 per point.
    for (const auto& [name, params] : {std::pair<std::string, std::string>{"ve", R"({"sigma_max": 1e4})"},
                                       std::pair<std::string, std::string>{"edm", R"({"sigma_max": 1e4})"}}) {
        const Mixture m(2, name, params);
        const double t_min = name == "ve" ? 0.05 : 0.02;  // sigma(t_min) ~ 0.02 on both
        const auto x = m.points(100, t_min, 8);
        const std::vector<double> exact = exact_nll(m, *x, t_min);
        const Result r = run_nll(R"({"steps": 96, "t_min": )" + std::to_string(t_min) + "}", m, x);
        INFO(name << ": nll " << value(r.values, "nll") << ", exact " << mean(exact));
        CHECK(mean_abs_diff(r.nll, exact) < 2e-4);
        CHECK(std::abs(value(r.values, "nll") - mean(exact)) < 1e-4);
        WARN("nll on " << name << " (sigma_max 1e4, 96 rk4 steps): mean per-point error " << mean_abs_diff(r.nll, exact)
                       << ", nll " << value(r.values, "nll") << " vs exact " << mean(exact));
    }
}

TEST_CASE("nll: the ODE error falls with the steps at order 4 (rk4) and 2 (heun)", "[nll]") {
    const Mixture m(2);
    const double t_min = 1e-3;
    const auto x = m.points(100, t_min, 4);
    const std::vector<double> exact = exact_nll(m, *x, t_min);
    for (const std::string method : {"rk4", "heun"}) {
        std::vector<double> errors;
        for (int steps : {16, 32, 64, 128}) {
            const Result r = run_nll(R"({"t_min": 0.001, "fd_step": 1e-4, "method": ")" + method +
                                         R"(", "steps": )" + std::to_string(steps) + "}",
                                     m, x);
            errors.push_back(mean_abs_diff(r.nll, exact));
        }
        const double order = std::log2(errors[2] / errors[3]);
        WARN("nll " << method << ": mean error at 16, 32, 64, 128 steps " << errors[0] << ", " << errors[1] << ", "
                    << errors[2] << ", " << errors[3] << "; observed orders " << std::log2(errors[0] / errors[1])
                    << ", " << std::log2(errors[1] / errors[2]) << ", " << order);
        if (method == "rk4")
            CHECK(order > 3.5);
        else
            CHECK(order > 1.8);
        CHECK(order < (method == "rk4" ? 4.6 : 2.5));
    }
}

TEST_CASE("nll: Hutchinson's divergence agrees with the exact one within its error bar", "[nll]") {
    const Mixture m(6);
    const double t_min = 1e-2;
    const auto x = m.points(300, t_min, 6);
    const std::vector<double> exact = exact_nll(m, *x, t_min);
    const std::string common = R"("t_min": 0.01, "steps": 128)";
    const Result e = run_nll("{" + common + R"(, "divergence": "exact"})", m, x);
    const Result h = run_nll("{" + common + R"(, "divergence": "hutchinson", "probes": 2})", m, x);
    CHECK(value(h.values, "probes") == 2.0);
    CHECK(mean_abs_diff(e.nll, exact) < 1e-4);
    // The per-point difference is Hutchinson's noise alone (same points, same ODE).
    std::vector<double> diff(exact.size());
    for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = h.nll[i] - e.nll[i];
    double var = 0.0;
    for (double v : diff) var += (v - mean(diff)) * (v - mean(diff));
    const double se = std::sqrt(var / double(diff.size() - 1) / double(diff.size()));
    INFO("hutchinson - exact " << mean(diff) << ", its standard error " << se);
    CHECK(se > 0.0);
    CHECK(std::abs(mean(diff)) < 4.0 * se);
    CHECK(std::abs(value(h.values, "nll") - mean(exact)) < 3.0 * value(h.values, "nll_stderr"));
    WARN("nll on a 6-D mixture: exact divergence " << value(e.values, "nll") << ", hutchinson (2 probes) "
                                                  << value(h.values, "nll") << " +- " << value(h.values, "nll_stderr")
                                                  << ", exact density " << mean(exact) << "; hutchinson - exact "
                                                  << mean(diff) << " +- " << se);
    // Same seed, same probes: bit-identical, on any number of threads; another seed, other probes.
    CHECK(run_nll("{" + common + R"(, "divergence": "hutchinson", "probes": 2})", m, x).nll == h.nll);
    CHECK(run_nll("{" + common + R"(, "divergence": "hutchinson", "probes": 2})", m, x, 10).nll != h.nll);
    {
        tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
        CHECK(run_nll("{" + common + R"(, "divergence": "hutchinson", "probes": 2})", m, x).nll == h.nll);
    }
}

TEST_CASE("nll: divergence auto is exact up to D = 32 and Hutchinson beyond", "[nll]") {
    for (std::size_t d : {32, 33}) {
        const Mixture m(d);
        const auto x = m.points(8, 0.05);
        const Result r = run_nll(R"({"t_min": 0.05, "steps": 6})", m, x);
        CHECK(value(r.values, "probes") == (d <= 32 ? 0.0 : 1.0));
        CHECK(value(r.values, "nfe") == 6.0 * 4.0 * (d <= 32 ? 1.0 + 2.0 * double(d) : 3.0));
        CHECK(std::isfinite(value(r.values, "nll")));
    }
}

TEST_CASE("nll: bad inputs are refused naming the key", "[nll]") {
    using mdlab::test::error_key;
    const Mixture m(2);
    const auto x = m.points(5, 0.01);
    CHECK(error_key([&] { run_nll(R"({"t_min": 25})", m, x); }) == "t_min");
    CHECK(error_key([&] { run_nll(R"({"t_min": 0})", m, x); }) == "t_min");
    CHECK(error_key([&] { run_nll(R"({"divergence": "trace"})", m, x); }) == "divergence");
    CHECK(error_key([&] { run_nll(R"({"method": "euler"})", m, x); }) == "method");
    CHECK(error_key([&] { run_nll(R"({"probes": 0})", m, x); }) == "probes");
    CHECK(error_key([&] { run_nll(R"({"steps": 0})", m, x); }) == "steps");
    CHECK(error_key([&] { run_nll(R"({"fd_step": 0})", m, x); }) == "fd_step");
    Matrix wrong = Matrix::from_shape({4, 3});
    wrong.fill(0.0);
    CHECK(error_key([&] { run_nll("{}", m, std::make_shared<const Matrix>(wrong)); }) == "samples");
    Matrix nan = *x;
    nan(2, 1) = NAN;
    CHECK(error_key([&] { run_nll("{}", m, std::make_shared<const Matrix>(nan)); }) == "samples");
}
