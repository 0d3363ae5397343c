// The gradient_error metric: Stein's identity, solenoidal and gradient errors, the KL bounds.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "csv.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "score_metric_checks.hpp"

TEST_CASE("gradient_error: a solenoidal error has a large L2 norm and no gradient part", "[gradient_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    // eps = 1: the Stein form's noise floor (of order L / (n D) E lambda |s|^2, see the plugin)
    // must sit well below 1e-2 l2 at this n.
    const double eps = 1.0;
    const std::size_t n = 20000;
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), eps);
    for (const char* family : {"fourier", "polynomial"}) {
        INFO("family " << family);
        const std::string params =
            std::string(R"({"n": 20000, "times": 4, "spacing": "uniform", "t_min": 0.05, "form": "both", "family": ")") +
            family + "\"}";
        const Run r = run_metric("gradient_error", params, rotated, s.exact, s);
        // |e|^2 = eps^2 |J s|^2 = eps^2 |x|^2 / V^2 with |x|^2 ~ V chi^2_D.
        double closed = 0.0, var = 0.0;
        for (const auto& row : r.curve) {
            const double t = num(row, "t"), lam = num(row, "lambda"), V = s.V(t);
            closed += lam * eps * eps * double(s.d) / V;
            var += lam * lam * std::pow(eps, 4) * 2.0 * double(s.d) / (V * V) / double(n);
            CHECK(num(row, "gradient") <= num(row, "l2"));
        }
        closed /= double(r.curve.size());
        const double se = std::sqrt(var) / double(r.curve.size());
        const double l2 = value(r.values, "l2"), g = value(r.values, "gradient"), f = value(r.values, "noise_floor");
        const double gs = value(r.values, "gradient_stein"), fs = value(r.values, "noise_floor_stein");
        WARN(family << " solenoidal: l2 " << l2 << " (closed " << closed << ", SE " << se << "), gradient " << g << " floor " << f
                    << ", stein " << gs << " floor " << fs);
        CHECK(std::abs(l2 - closed) <= 4.5 * se);
        CHECK(g <= 3.0 * f);
        CHECK(g < 1e-2 * l2);
        CHECK(gs <= 3.0 * fs);
        CHECK(gs < 1e-2 * l2);
        CHECK(value(r.values, "gradient_fraction") < 1e-2);
    }
    WARN("solenoidal test: " << mdlab::test::seconds_since(t0) << " s");
}

TEST_CASE("gradient_error: a gradient error is all gradient; Stein agrees with the oracle form", "[gradient_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    const double eps = 0.5;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps);
    for (const char* family : {"polynomial", "fourier"}) {
        INFO("family " << family);
        const std::string params =
            std::string(R"({"n": 20000, "times": 4, "spacing": "uniform", "t_min": 0.05, "family": ")") + family + "\"";
        const Run both = run_metric("gradient_error", params + R"(, "form": "both"})", scaled, s.exact, s);
        const Run stein = run_metric("gradient_error", params + "}", scaled, nullptr, s);
        const double l2 = value(both.values, "l2"), g = value(both.values, "gradient"),
                     gs = value(both.values, "gradient_stein"), fs = value(both.values, "noise_floor_stein");
        WARN(family << " gradient error: l2 " << l2 << ", gradient " << g << " (fraction "
                    << value(both.values, "gradient_fraction") << "), stein " << gs << " floor " << fs);
        CHECK(g <= l2);
        if (std::string(family) == "polynomial")
            CHECK(value(both.values, "gradient_fraction") > 0.999);  // degree 2 spans the quadratic potential
        else
            CHECK(value(both.values, "gradient_fraction") > 0.9);
        // Without the oracle the Stein form is what runs, on the same draws.
        CHECK(!has_value(stein.values, "l2"));
        CHECK(value(stein.values, "gradient") == gs);
        CHECK(value(stein.values, "noise_floor") == fs);
        // form stein with the oracle connected: the Stein figure beside the full L2 error.
        const Run stein_l2 = run_metric("gradient_error", params + R"(, "form": "stein"})", scaled, s.exact, s);
        CHECK(value(stein_l2.values, "gradient") == gs);
        CHECK(value(stein_l2.values, "l2") == l2);
        CHECK(value(stein_l2.values, "gradient_fraction") == gs / l2);
    }
    WARN("gradient test: " << mdlab::test::seconds_since(t0) << " s");
}

// (1/2) int_a^b g(t)^2 eps^2 D / V(t) dt by the midpoint rule in log t on 20000 cells: the
// Girsanov bound of the error eps s (|eps s|^2 = eps^2 |x|^2 / V^2, E|x|^2 = D V).
double half_integral_closed(const Setup& s, double eps, double a, double b) {
    const std::size_t m = 20000;
    double sum = 0.0;
    const double h = std::log(b / a) / double(m);
    for (std::size_t i = 0; i < m; ++i) {
        const double t = a * std::exp((double(i) + 0.5) * h);
        sum += s.proc->g2(t) * eps * eps * double(s.d) / s.V(t) * t * h;
    }
    return 0.5 * sum;
}

TEST_CASE("gradient_error: KL bounds (1/2) int g^2 |grad phi|^2 dt and Girsanov's against closed forms", "[gradient_error]") {
    Setup s;
    const double eps = 0.5, t_min = 1e-3;
    const double closed = half_integral_closed(s, eps, t_min, 1.0);
    const std::string params = R"({"n": 5000, "times": 40, "t_min": 0.001, "family": "polynomial", "form": "both"})";
    // A gradient error: all of it is in the gradient part, so both bounds are the closed form.
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps);
    const Run g = run_metric("gradient_error", params, scaled, s.exact, s);
    const double kb = value(g.values, "kl_bound"), gb = value(g.values, "girsanov_bound");
    WARN("gradient error eps = 0.5: kl_bound " << kb << ", stein " << value(g.values, "kl_bound_stein")
                                               << ", girsanov_bound " << gb << ", closed form " << closed);
    CHECK(gb == Approx(closed).epsilon(0.03));  // Monte Carlo (1% SE) and the 40-point rule
    CHECK(kb <= gb);
    CHECK(kb >= 0.999 * gb);  // degree 2 spans the quadratic potential
    CHECK(value(g.values, "kl_bound_stein") == Approx(kb).epsilon(0.05));
    // A solenoidal error of the same size: Girsanov's bound is unchanged, the gradient-only bound
    // is at its noise floor.
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), eps);
    const Run r = run_metric("gradient_error", params, rotated, s.exact, s);
    const double kr = value(r.values, "kl_bound"), fr = value(r.values, "kl_bound_floor");
    WARN("solenoidal error eps = 0.5: kl_bound " << kr << " (floor " << fr << "), girsanov_bound "
                                                 << value(r.values, "girsanov_bound"));
    CHECK(value(r.values, "girsanov_bound") == Approx(closed).epsilon(0.03));
    CHECK(kr <= 3.0 * fr);
    CHECK(kr < 1e-2 * closed);
    // One time: no integral.
    const Run one = run_metric("gradient_error", R"({"n": 500, "times": 1})", scaled, s.exact, s);
    CHECK(std::isnan(value(one.values, "kl_bound")));
}

TEST_CASE("gradient_error: the Stein and oracle forms agree within Monte Carlo error", "[gradient_error]") {
    // Over K independent seeds, d = gradient_stein - gradient (same draws) has a mean that differs
    // from 0 only by the forms' different noise biases, each between 0 and its noise floor:
    // -floor_oracle - 4.5 SE <= mean(d) <= floor_stein + 4.5 SE, SE = sd(d) / sqrt(K).
    Setup s;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), 0.5);
    const int K = 8;
    for (const char* family : {"polynomial", "fourier"}) {
        const std::string params =
            std::string(R"({"n": 10000, "times": 2, "form": "both", "family": ")") + family + "\"}";
        double sum = 0.0, sum2 = 0.0, fo = 0.0, fs = 0.0, g = 0.0;
        for (int k = 0; k < K; ++k) {
            const Run r = run_metric("gradient_error", params, scaled, s.exact, s, 100 + k);
            const double d = value(r.values, "gradient_stein") - value(r.values, "gradient");
            sum += d, sum2 += d * d;
            fo += value(r.values, "noise_floor") / K;
            fs += value(r.values, "noise_floor_stein") / K;
            g += value(r.values, "gradient") / K;
        }
        const double mean = sum / K, se = std::sqrt((sum2 / K - mean * mean) * K / (K - 1.0) / K);
        WARN(family << ": mean(stein - oracle) " << mean << " (SE " << se << "), floors " << fo << " / " << fs
                    << ", gradient " << g);
        CHECK(mean >= -fo - 4.5 * se);
        CHECK(mean <= fs + 4.5 * se);
        CHECK(fs + 4.5 * se < 0.2 * g);  // the check is much tighter than the value itself
    }
}

TEST_CASE("gradient_error: with random projections the polynomial family sees the share P / D of an isotropic field", "[gradient_error]") {
    // D = 12, degree 2: the 90 coordinate monomials exceed 64 features, so the family uses P = 9
    // projections (54 monomials). e = eps s = -eps x / V is isotropic: the gradients of
    // polynomials in R^T x capture exactly its component in span(R), E|R^T e|^2 / E|e|^2 = P / D.
    Setup s;
    s.d = 12;
    s.manifold = std::make_shared<GaussManifold>(s.d, s.v);
    s.exact = std::make_shared<GaussianScore>(s.proc, s.d, std::sqrt(s.v));
    const std::size_t n = 5000, P = 9;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), 0.5);
    const Run r = run_metric("gradient_error", R"({"n": 5000, "times": 3, "family": "polynomial"})", scaled, s.exact, s);
    CHECK(value(r.values, "features") == 54.0);
    const double share = double(P) / double(s.d);
    // Per time the captured share is A / (A + C), A ~ chi^2_{nP}, C ~ chi^2_{n(D-P)}: a Beta law
    // with variance share (1 - share) / (n D / 2 + 1). The part outside span(R) adds pure-noise
    // bias between 0 and the noise floor.
    const double se = std::sqrt(share * (1.0 - share) / (double(n * s.d) / 2.0 + 1.0));
    const double frac = value(r.values, "gradient_fraction");
    const double bias = value(r.values, "noise_floor") / value(r.values, "l2");
    INFO("fraction " << frac << ", P / D = " << share << ", SE " << se << ", floor / l2 " << bias);
    CHECK(frac >= share - 4.5 * se);
    CHECK(frac <= share + bias + 4.5 * se);
}

TEST_CASE("gradient_error: the exact score has no error in the oracle form", "[gradient_error]") {
    Setup s;
    const Run r = run_metric("gradient_error", R"({"n": 1000, "times": 2})", s.exact, s.exact, s);
    CHECK(value(r.values, "gradient") == 0.0);
    CHECK(value(r.values, "l2") == 0.0);
    CHECK(value(r.values, "noise_floor") == 0.0);
    CHECK(std::isnan(value(r.values, "gradient_fraction")));
}
