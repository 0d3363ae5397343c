// The knn_kl metric against KL between Gaussians and between a von Mises law and the uniform law.
#include <algorithm>
#include <functional>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/knn_divergence.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "density_metric_checks.hpp"

// ---------------------------------------------------------------------------------------------
// knn_kl

TEST_CASE("knn_kl_divergence recovers KL between Gaussians", "[knn_kl]") {
    // KL(N(m1, S1) || N(m2, S2)) = 1/2 [tr(S2^-1 S1) + (m2 - m1)^T S2^-1 (m2 - m1) - d + ln(det S2 / det S1)].
    // 1-D: P = N(0.5, 0.8^2), Q = N(0, 1). 2-D: P = N((0.5, -0.3), S1), x = (0.5 + 0.7 a,
    // -0.3 + 0.6 a + 0.9 b) with a, b ~ N(0, 1): S1 = [[0.49, 0.42], [0.42, 1.17]]; Q = N(0, I).
    // R = 6 repetitions of n = m = 4000, k = 5; the mean must be within 4 standard errors
    // (knn_kl_sd / sqrt(R)) plus the bias allowance of the closed form.
    const std::size_t n = 4000, k = 5;
    const int R = 6;
    for (std::size_t dim : {1, 2}) {
        const double exact =
            dim == 1 ? 0.5 * (0.64 + 0.25 - 1.0 + std::log(1.0 / 0.64))
                     : 0.5 * (0.49 + 1.17 + 0.25 + 0.09 - 2.0 - std::log(0.49 * 1.17 - 0.42 * 0.42));
        double sum = 0.0, var_lr = 0.0;
        for (int r = 0; r < R; ++r) {
            mdlab::Rng rng(100 + r);
            Matrix x = Matrix::from_shape({n, dim}), y = Matrix::from_shape({n, dim});
            std::vector<double> log_ratio(n);
            for (std::size_t i = 0; i < n; ++i) {
                if (dim == 1) {
                    const double a = rng.normal();
                    x(i, 0) = 0.5 + 0.8 * a;
                    y(i, 0) = rng.normal();
                    // log p(x) - log q(x) = -ln 0.8 - a^2 / 2 + x^2 / 2
                    log_ratio[i] = -std::log(0.8) - 0.5 * a * a + 0.5 * x(i, 0) * x(i, 0);
                } else {
                    const double a = rng.normal(), b = rng.normal();
                    x(i, 0) = 0.5 + 0.7 * a;
                    x(i, 1) = -0.3 + 0.6 * a + 0.9 * b;
                    y(i, 0) = rng.normal();
                    y(i, 1) = rng.normal();
                    // p is the push-forward of N(0, I_2) by a map of determinant 0.63.
                    log_ratio[i] = -std::log(0.63) - 0.5 * (a * a + b * b) +
                                   0.5 * (x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1));
                }
            }
            sum += mdlab::kernels::knn_kl_divergence(x, y, k, dim);
            var_lr += variance(log_ratio) / R;
        }
        const double mean = sum / R, se = knn_kl_sd(var_lr, n, k) / std::sqrt(double(R));
        INFO("d = " << dim << ": mean " << mean << " exact " << exact << " se " << se);
        CHECK(std::abs(mean - exact) < 4.0 * se + knn_kl_bias);
    }
}

TEST_CASE("knn_kl_divergence: scale invariance, sample-size term and refusals", "[knn_kl]") {
    // The estimate depends on distances only through ratios (and on m, n through log(m / (n-1))).
    mdlab::Rng rng(3);
    Matrix x = Matrix::from_shape({300, 2}), y = Matrix::from_shape({500, 2});
    for (auto& v : x) v = rng.normal();
    for (auto& v : y) v = 1.3 * rng.normal();
    const double a = mdlab::kernels::knn_kl_divergence(x, y, 3, 2);
    CHECK(mdlab::kernels::knn_kl_divergence(Matrix(x * 7.0), Matrix(y * 7.0), 3, 2) == Approx(a).epsilon(1e-12));
    // A direct computation from brute-force neighbour distances.
    double s = 0.0;
    for (std::size_t i = 0; i < 300; ++i) {
        std::vector<double> own, other;
        for (std::size_t j = 0; j < 300; ++j)
            if (j != i) own.push_back(std::hypot(x(i, 0) - x(j, 0), x(i, 1) - x(j, 1)));
        for (std::size_t j = 0; j < 500; ++j) other.push_back(std::hypot(x(i, 0) - y(j, 0), x(i, 1) - y(j, 1)));
        std::nth_element(own.begin(), own.begin() + 2, own.end());
        std::nth_element(other.begin(), other.begin() + 2, other.end());
        s += std::log(other[2] / own[2]);
    }
    CHECK(a == Approx(2.0 * s / 300.0 + std::log(500.0 / 299.0)).epsilon(1e-12));
    // Six copies of one point of P (an atom): rho_3 = 0 there and KL(P || Q) = +inf; with
    // k = 6 the k-th neighbour of the copies is another point and the estimate is finite.
    Matrix dup = x;
    for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t c = 0; c < 2; ++c) dup(i, c) = x(0, c);
    CHECK(std::isinf(mdlab::kernels::knn_kl_divergence(dup, y, 3, 2)));
    CHECK(mdlab::kernels::knn_kl_divergence(dup, y, 3, 2) > 0.0);
    CHECK(std::isfinite(mdlab::kernels::knn_kl_divergence(dup, y, 6, 2)));
    // A point of P on k copies in Q: Q has atoms, no density: refused.
    Matrix qdup = y;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t c = 0; c < 2; ++c) qdup(i, c) = x(5, c);
    CHECK_THROWS_WITH(mdlab::kernels::knn_kl_divergence(x, qdup, 3, 2), Catch::Contains("nu_k = 0"));
    CHECK_THROWS(mdlab::kernels::knn_kl_divergence(x, y, 0, 2));
    CHECK_THROWS(mdlab::kernels::knn_kl_divergence(Matrix(mdlab::zeros(3, 2)), y, 3, 2));
}

TEST_CASE("knn_kl end to end on a linear subspace: shifted and scaled Gaussian", "[knn_kl]") {
    // mu_data = N(0, I_2) on a random 2-plane of R^5. Samples s x + c u, x ~ mu_data, u a unit
    // vector of the plane: N(c e, s^2 I_2) in the plane's coordinates, so
    //   KL = 1/2 [2 s^2 + c^2 - 2 - 4 ln s] = s^2 + c^2 / 2 - 1 - 2 ln s.
    // Samples pushed off the plane are projected back first: adding normal noise changes nothing.
    auto m = plugin("linear_subspace", R"({"k": 2, "ambient_dim": 5})");
    const std::size_t n = 4000;
    const double s = 0.8, c = 1.0;
    Matrix y = m->sample(n, mdlab::RandomStream(4, "model"));
    const Matrix e = m->sample(1, mdlab::RandomStream(4, "direction"));
    double norm = 0.0;
    for (std::size_t a = 0; a < 5; ++a) norm += e(0, a) * e(0, a);
    norm = std::sqrt(norm);
    std::vector<double> log_ratio(n);
    for (std::size_t i = 0; i < n; ++i) {
        double r2 = 0.0;
        for (std::size_t a = 0; a < 5; ++a) r2 += y(i, a) * y(i, a);  // |x|^2 before the change
        for (std::size_t a = 0; a < 5; ++a) y(i, a) = s * y(i, a) + c * e(0, a) / norm;
        double z2 = 0.0;
        for (std::size_t a = 0; a < 5; ++a) z2 += y(i, a) * y(i, a);
        log_ratio[i] = -2.0 * std::log(s) - 0.5 * r2 + 0.5 * z2;  // log p(z) - log q(z)
    }
    const double exact = s * s + c * c / 2.0 - 1.0 - 2.0 * std::log(s);
    const auto v = evaluate("knn_kl", y, m);
    CHECK(names(v) == std::vector<std::string>{"kl", "baseline_kl", "n_samples", "n_reference"});
    const double sd = knn_kl_sd(variance(log_ratio), n, 5), sd0 = knn_kl_sd(0.0, n, 5);
    INFO("kl " << value(v, "kl") << " exact " << exact << " sd " << sd << "; baseline " << value(v, "baseline_kl")
               << " sd " << sd0);
    CHECK(std::abs(value(v, "kl") - exact) < 4.0 * sd + knn_kl_bias);
    CHECK(std::abs(value(v, "baseline_kl")) < 4.0 * sd0 + knn_kl_bias);
    // Noise normal to the plane is removed by the projection.
    mdlab::Rng rng(6);
    Matrix noisy = y;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 5; ++a) noisy(i, a) += 0.1 * rng.normal();
    const Matrix back = m->project(noisy);
    const auto vn = evaluate("knn_kl", m->project(y), m);
    CHECK(value(vn, "kl") == Approx(value(v, "kl")).epsilon(1e-9));
    CHECK(std::abs(value(evaluate("knn_kl", noisy, m), "kl") - value(evaluate("knn_kl", back, m), "kl")) < 1e-9);
    // Matching the reference and the baseline against a direct call of the kernel.
    const Matrix ref = m->project(drawn(*m, n, "reference")), base = m->project(drawn(*m, n, "baseline"));
    CHECK(value(v, "kl") == Approx(mdlab::kernels::knn_kl_divergence(m->project(y), ref, 5, 2)).epsilon(1e-12));
    CHECK(value(v, "baseline_kl") == Approx(mdlab::kernels::knn_kl_divergence(base, ref, 5, 2)).epsilon(1e-12));
}

TEST_CASE("knn_kl on the circle: von Mises against uniform in both directions, across the angle seam", "[knn_kl]") {
    // KL(vM(kappa) || uniform) = E[kappa cos(theta - theta0)] - ln I0(kappa) = kappa I1/I0 - ln I0;
    // direction data_samples: KL(uniform || vM) = E_unif[-kappa cos] + ln I0 = ln I0(kappa), whose
    // log-ratio has variance kappa^2 / 2 under the uniform law.
    // The mode is put at theta = 0 (mode 0), on the seam of the angle coordinate [0, 2 pi): the
    // ambient (chord) distances between projected points do not see the seam.
    const double kappa = 2.0;
    auto uniform = plugin("circle", R"({"ambient_dim": 3})");
    auto vm = plugin("circle", R"({"ambient_dim": 3, "density": "von_mises", "kappa": 2.0, "mode": 0.0})");
    const std::size_t n = 4000;
    const Matrix y = vm->sample(n, mdlab::RandomStream(8, "model"));
    const Matrix theta = uniform->intrinsic_coords(y);
    std::vector<double> log_ratio(n);
    for (std::size_t i = 0; i < n; ++i) log_ratio[i] = kappa * std::cos(theta(i, 0));
    const double i0 = std::cyl_bessel_i(0.0, kappa), i1 = std::cyl_bessel_i(1.0, kappa);
    const double exact = kappa * i1 / i0 - std::log(i0), exact_reverse = std::log(i0);
    const auto v = evaluate("knn_kl", y, uniform);
    const auto r = evaluate("knn_kl", y, uniform, R"({"direction": "data_samples"})");
    const double sd = knn_kl_sd(variance(log_ratio), n, 5), sd_reverse = knn_kl_sd(kappa * kappa / 2, n, 5);
    INFO("kl " << value(v, "kl") << " exact " << exact << " sd " << sd << " baseline " << value(v, "baseline_kl")
               << "; reverse " << value(r, "kl") << " exact " << exact_reverse << " sd " << sd_reverse);
    CHECK(std::abs(value(v, "kl") - exact) < 4.0 * sd + knn_kl_bias);
    CHECK(std::abs(value(r, "kl") - exact_reverse) < 4.0 * sd_reverse + knn_kl_bias);
    for (const auto* w : {&v, &r}) CHECK(std::abs(value(*w, "baseline_kl")) < 4.0 * knn_kl_sd(0.0, n, 5) + knn_kl_bias);
    // The two directions differ here (0.82 against 0.57).
    CHECK(value(r, "kl") - value(v, "kl") > 0.1);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("knn_kl", R"({"direction": "both"})"));
}

TEST_CASE("knn_kl checks its inputs", "[knn_kl]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestGaussian>(2);
    CHECK_THROWS_AS(evaluate("knn_kl", Matrix(mdlab::zeros(10, 3)), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("knn_kl", Matrix(mdlab::zeros(5, 2)), m), mdlab::InputError);  // n = 5 = k
    Matrix bad = drawn(*m, 20, "x");
    bad(3, 0) = INFINITY;
    CHECK_THROWS_WITH(evaluate("knn_kl", bad, m), Catch::Contains("row 3") && Catch::Contains("samples"));
    CHECK_THROWS_AS(evaluate("knn_kl", drawn(*m, 20, "x"), m, R"({"reference_size": 3})"), mdlab::InputError);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("knn_kl", R"({"k": 33})"));
    // Eight copies of one point: the samples' law has an atom, KL = +inf; the baseline is finite.
    Matrix copies = drawn(*m, 20, "x");
    for (std::size_t i = 0; i < 8; ++i) copies(i, 0) = copies(0, 0), copies(i, 1) = copies(0, 1);
    const auto v = evaluate("knn_kl", copies, m);
    CHECK(std::isinf(value(v, "kl")));
    CHECK(std::isfinite(value(v, "baseline_kl")));
    // An atomic mu_data (here: every reference point at the origin) has no density: refused,
    // with the metric's context in the message.
    std::shared_ptr<const mdlab::Manifold> atom = std::make_shared<TestAtom>();
    CHECK_THROWS_WITH(evaluate("knn_kl", drawn(*m, 20, "x"), atom),
                      Catch::Contains("knn_kl (samples") && Catch::Contains("nu_k = 0"));
}
