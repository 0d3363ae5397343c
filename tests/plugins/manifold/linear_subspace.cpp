// The `linear_subspace` manifold: its gaussian, cube and fourier laws, projection, quadrature,
// the exact noised score and normal noise.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "catalogue_checks.hpp"

// ---- linear subspace ---------------------------------------------------------------------------

TEST_CASE("linear_subspace: parameters", "[manifold][linear_subspace]") {
    mdlab::test::TestContext ctx(1);
    auto m = prepared("linear_subspace", "{}", ctx);
    CHECK(m->ambient_dim() == 3);
    CHECK(m->intrinsic_dim() == 2);
    CHECK_NOTHROW(prepared("linear_subspace", R"({"k": 4, "ambient_dim": 4})", ctx));
    expect_input_error("linear_subspace", R"({"k": 5, "ambient_dim": 4})", "ambient_dim", {"k = 5"});
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("linear_subspace", R"({"law": "sphere"})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("linear_subspace", R"({"scale": 0})"));
}

TEST_CASE("linear_subspace: gaussian law, moments and projection", "[manifold][linear_subspace]") {
    const std::size_t n = 40000, D = 7, k = 3;
    const double s = 1.5;
    mdlab::test::TestContext ctx(31);
    auto m = prepared("linear_subspace", R"({"k": 3, "ambient_dim": 7, "scale": 1.5})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, k);
    const Matrix x = m->sample(n, ctx.stream("data"));
    const Vector d = m->distance(x);
    CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
    const Matrix z = q.coords(x);
    CHECK(max_abs_diff(m->intrinsic_coords(x), z) < 1e-13);
    CHECK(max_abs_diff(q.embed(z), x) < 1e-13);

    // Mean 0 and covariance s^2 I_k within Monte Carlo error (Var z_i^2 = 2 s^4, Var z_i z_j = s^4).
    for (std::size_t i = 0; i < k; ++i) {
        double m1 = 0.0;
        for (std::size_t r = 0; r < n; ++r) m1 += z(r, i);
        m1 /= n;
        CHECK(std::abs(m1) < 5.0 * s / std::sqrt(n));
        for (std::size_t j = i; j < k; ++j) {
            double c = 0.0;
            for (std::size_t r = 0; r < n; ++r) c += z(r, i) * z(r, j);
            c /= n;
            const double se = s * s * (i == j ? std::sqrt(2.0) : 1.0) / std::sqrt(n);
            INFO("covariance (" << i << ", " << j << ") = " << c);
            CHECK(std::abs(c - (i == j ? s * s : 0.0)) < 5.0 * se);
        }
        std::vector<double> zi(n);
        for (std::size_t r = 0; r < n; ++r) zi[r] = z(r, i);
        const double ks = ks_statistic(zi, [&](double v) { return normal_cdf(v / s); });
        INFO("KS statistic of coordinate " << i << ": " << ks);
        CHECK(ks < ks_999);
    }

    // Projection Q Q^T x, idempotent, distance |x - p| = |x - Q Q^T x|.
    const Matrix y = gaussian_points(500, D, 2.0, 9);
    const Matrix p = m->project(y);
    CHECK(max_abs_diff(p, q.embed(q.coords(y))) < 1e-13);
    CHECK(max_abs_diff(m->project(p), p) < 1e-13);
    const Vector dy = m->distance(y);
    for (std::size_t i = 0; i < 500; ++i) CHECK(std::abs(dy(i) - row_dist(y, i, p, i)) < 1e-13);

    // Tangent bases are Q at every point: the same basis at every point, bit for bit (one code
    // path), and Q as this test computes it to rounding (the plugin and the test are separate
    // binaries: the compiler may contract or vectorise the orthonormalisation differently, which
    // moves entries of size <= 1 by a few ulps).
    mdlab::TangentBases t;
    m->tangent_bases(x, t);
    REQUIRE(t.shape()[2] == k);
    double worst = 0.0, spread = 0.0;
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t a = 0; a < D; ++a)
            for (std::size_t j = 0; j < k; ++j) {
                worst = std::max(worst, std::abs(t(i, a, j) - q.matrix()(a, j)));
                spread = std::max(spread, std::abs(t(i, a, j) - t(0, a, j)));
            }
    CHECK(spread == 0.0);
    CHECK(worst <= 8 * std::numeric_limits<double>::epsilon());
}

TEST_CASE("linear_subspace: cube law, uniformity and projection onto the cube", "[manifold][linear_subspace]") {
    const std::size_t n = 40000, D = 5, k = 2;
    const double s = 0.7;
    mdlab::test::TestContext ctx(32);
    auto m = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 5, "scale": 0.7, "law": "cube"})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, k);
    const Matrix x = m->sample(n, ctx.stream("data"));
    const Vector d = m->distance(x);
    CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
    const Matrix z = q.coords(x);
    for (std::size_t i = 0; i < k; ++i) {
        std::vector<double> zi(n);
        double m2 = 0.0;
        for (std::size_t r = 0; r < n; ++r) {
            zi[r] = z(r, i);
            REQUIRE(std::abs(zi[r]) <= s * (1.0 + 1e-14));
            m2 += zi[r] * zi[r];
        }
        m2 /= n;
        const double ks = ks_statistic(zi, [&](double v) { return std::clamp((v + s) / (2.0 * s), 0.0, 1.0); });
        INFO("KS statistic " << ks << ", E z^2 = " << m2);
        CHECK(ks < ks_999);
        // E z^2 = s^2 / 3, Var z^2 = s^4 (1/5 - 1/9).
        CHECK(std::abs(m2 - s * s / 3.0) < 5.0 * s * s * std::sqrt((0.2 - 1.0 / 9.0) / n));
    }

    // Projection: Q clamp(Q^T x); no point of the cube is closer (checked on random cube points).
    const Matrix y = gaussian_points(200, D, 1.5, 10);
    const Matrix p = m->project(y);
    Matrix zc = q.coords(y);
    for (double& v : zc) v = std::clamp(v, -s, s);
    CHECK(max_abs_diff(p, q.embed(zc)) < 1e-13);
    CHECK(max_abs_diff(m->project(p), p) < 1e-13);
    CHECK(max_abs_diff(m->intrinsic_coords(y), zc) < 1e-13);
    const Vector dy = m->distance(y);
    const Matrix cube = m->sample(5000, ctx.stream("cube"));
    for (std::size_t i = 0; i < 200; ++i) {
        CHECK(std::abs(dy(i) - row_dist(y, i, p, i)) < 1e-13);
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t c = 0; c < 5000; ++c) best = std::min(best, row_dist(y, i, cube, c));
        CHECK(dy(i) <= best + 1e-13);
    }
    Matrix out;
    CHECK_FALSE(m->noised_score(y, 0.5, 0.5, out));
}

// The fourier law, computed here from its declared formula, independently of the plugin:
// f(u) = 1 + a sum_{m<=M} c_m cos(2 pi m u + phi_m), c_m = m^-(s+1/2) / sum_j j^-(s+1/2),
// phi_m = 2 pi frac(m^2 g), g = (sqrt 5 - 1) / 2; and its distribution function
// F(u) = u + a sum_m c_m (sin(2 pi m u + phi_m) - sin phi_m) / (2 pi m).
struct DeclaredFourier {
    double s, a;
    int modes;
    double c(int m) const {
        double total = 0.0;
        for (int j = 1; j <= modes; ++j) total += std::pow(j, -(s + 0.5));
        return std::pow(m, -(s + 0.5)) / total;
    }
    double phase(int m) const {
        const double g = double(m) * m * (std::sqrt(5.0) - 1.0) / 2.0;
        return 2.0 * pi * (g - std::floor(g));
    }
    double density(double u) const {
        double v = 1.0;
        for (int m = 1; m <= modes; ++m) v += a * c(m) * std::cos(2.0 * pi * m * u + phase(m));
        return v;
    }
    double cdf(double u) const {
        double v = u;
        for (int m = 1; m <= modes; ++m)
            v += a * c(m) * (std::sin(2.0 * pi * m * u + phase(m)) - std::sin(phase(m))) / (2.0 * pi * m);
        return v;
    }
};

TEST_CASE("linear_subspace: fourier law, parameters and the declared density", "[manifold][linear_subspace]") {
    using mdlab::test::make;
    CHECK_THROWS_WITH(make<mdlab::Manifold>("linear_subspace", R"({"law": "fourier", "amplitude": 1.0})"),
                      Catch::Contains("'amplitude'") && Catch::Contains("[0, 1)"));
    CHECK_THROWS_WITH(make<mdlab::Manifold>("linear_subspace", R"({"law": "fourier", "smoothness": -0.5})"),
                      Catch::Contains("'smoothness'"));
    CHECK_THROWS_WITH(make<mdlab::Manifold>("linear_subspace", R"({"law": "fourier", "modes": 0})"),
                      Catch::Contains("'modes'"));

    // The quadrature's weights are the density at the midpoints over r^k, before any
    // renormalisation: the plugin's density is the declared one and integrates to 1.
    const DeclaredFourier f{1.5, 0.8, 12};
    mdlab::test::TestContext ctx(34);
    auto m = prepared("linear_subspace",
                      R"({"k": 2, "ambient_dim": 5, "scale": 0.5, "law": "fourier", "smoothness": 1.5, "modes": 12, "amplitude": 0.8})",
                      ctx);
    const mdlab::Isometry q = embedding_of(ctx, 5, 2);
    const std::size_t r = 40;
    const mdlab::Quadrature rule = m->quadrature(r);
    REQUIRE(mdlab::rows(rule.nodes) == r * r);
    const Matrix z = q.coords(rule.nodes);
    double worst = 0.0, lowest = 1e300;
    for (std::size_t i = 0; i < r * r; ++i) {
        const double expected = f.density(z(i, 0) + 0.5) * f.density(z(i, 1) + 0.5) / double(r * r);
        worst = std::max(worst, std::abs(rule.weights(i) - expected));
        lowest = std::min(lowest, rule.weights(i) * double(r * r));
    }
    CHECK(worst < 1e-14);
    CHECK(lowest >= (1.0 - 0.8) * (1.0 - 0.8) - 1e-12);  // bounded below by (1 - a)^k
    Matrix out;
    CHECK_FALSE(m->noised_score(rule.nodes, 0.5, 0.5, out));
}

TEST_CASE("linear_subspace: fourier law, samples follow the density (chi-square)", "[manifold][linear_subspace]") {
    const std::size_t n = 40000;
    for (const double s : {0.0, 1.0, 2.0}) {
        const DeclaredFourier f{s, 0.9, 64};
        mdlab::test::TestContext ctx(35);
        auto m = prepared("linear_subspace",
                          R"({"k": 2, "ambient_dim": 6, "scale": 0.5, "law": "fourier", "amplitude": 0.9, "smoothness": )" +
                              std::to_string(s) + "}",
                          ctx);
        const mdlab::Isometry q = embedding_of(ctx, 6, 2);
        const Matrix x = m->sample(n, ctx.stream("data"));
        const Vector d = m->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
        const Matrix z = q.coords(x);
        // 5 x 4 cells of unequal widths (the law has structure at every scale); expected counts
        // from the product of the declared distribution functions: chi-square with 19 degrees.
        const std::vector<double> e0{0.0, 0.13, 0.41, 0.5, 0.77, 1.0}, e1{0.0, 0.2, 0.55, 0.61, 1.0};
        std::vector<double> count(20, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            const double u0 = z(i, 0) + 0.5, u1 = z(i, 1) + 0.5;
            REQUIRE(u0 >= -1e-14);
            REQUIRE(u0 <= 1.0 + 1e-14);
            const auto b0 = std::upper_bound(e0.begin() + 1, e0.end() - 1, u0) - (e0.begin() + 1);
            const auto b1 = std::upper_bound(e1.begin() + 1, e1.end() - 1, u1) - (e1.begin() + 1);
            count[b0 * 4 + b1] += 1.0;
        }
        double chi2 = 0.0;
        for (std::size_t b0 = 0; b0 < 5; ++b0)
            for (std::size_t b1 = 0; b1 < 4; ++b1) {
                const double p = (f.cdf(e0[b0 + 1]) - f.cdf(e0[b0])) * (f.cdf(e1[b1 + 1]) - f.cdf(e1[b1]));
                chi2 += std::pow(count[b0 * 4 + b1] - n * p, 2) / (n * p);
            }
        INFO("s = " << s << ": chi-square " << chi2);
        CHECK(chi2 < chi2_19_999);
        CHECK(std::abs(f.cdf(1.0) - 1.0) < 1e-12);
    }
}

TEST_CASE("linear_subspace: fourier law, coefficients decay like m^-(s+1/2)", "[manifold][linear_subspace]") {
    // The midpoint rule integrates the trigonometric polynomial f(u) e^{-2 pi i m u} exactly for
    // m + modes < r, so the Fourier coefficients of the law's marginal are exact: |f_m| = a c_m / 2
    // for m <= modes, proportional to m^-(s+1/2), and 0 beyond.
    for (const double s : {1.0, 2.0}) {
        const DeclaredFourier f{s, 0.6, 32};
        mdlab::test::TestContext ctx(36);
        auto m = prepared("linear_subspace",
                          R"({"k": 1, "ambient_dim": 3, "scale": 0.5, "law": "fourier", "modes": 32, "amplitude": 0.6, "smoothness": )" +
                              std::to_string(s) + "}",
                          ctx);
        const mdlab::Isometry q = embedding_of(ctx, 3, 1);
        const mdlab::Quadrature rule = m->quadrature(256);
        const Matrix z = q.coords(rule.nodes);
        const double scale_free = f.c(1);  // a c_m / 2 / m^-(s+1/2) is a / 2 c_1 for every m
        for (int mode = 1; mode <= 60; ++mode) {
            double re = 0.0, im = 0.0;
            for (std::size_t i = 0; i < mdlab::rows(z); ++i) {
                re += rule.weights(i) * std::cos(2.0 * pi * mode * (z(i, 0) + 0.5));
                im -= rule.weights(i) * std::sin(2.0 * pi * mode * (z(i, 0) + 0.5));
            }
            const double size = std::hypot(re, im);
            INFO("s = " << s << ", mode " << mode << ": |f_m| = " << size);
            if (mode <= 32) CHECK(std::abs(size * std::pow(mode, s + 0.5) / (0.3 * scale_free) - 1.0) < 1e-9);
            else CHECK(size < 1e-13);
        }
    }
}

TEST_CASE("linear_subspace: quadrature rules are exact for polynomials", "[manifold][linear_subspace]") {
    const std::size_t D = 4;
    mdlab::test::TestContext ctx(33);
    // Moments of the coordinates z = Q^T x under a rule.
    auto moment = [&](const mdlab::Quadrature& r, const mdlab::Isometry& q, int p1, int p2) {
        const Matrix z = q.coords(r.nodes);
        double e = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(z); ++i)
            e += r.weights(i) * std::pow(z(i, 0), p1) * (mdlab::cols(z) > 1 ? std::pow(z(i, 1), p2) : 1.0);
        return e;
    };
    auto weight_sum = [](const mdlab::Quadrature& r) {
        double t = 0.0;
        for (double w : r.weights) t += w;
        return t;
    };
    SECTION("Gauss-Hermite for the gaussian law") {
        const double s = 0.8;
        auto m = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 4, "scale": 0.8})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, D, 2);
        const mdlab::Quadrature r = m->quadrature(5);  // exact up to degree 9 per coordinate
        REQUIRE(mdlab::rows(r.nodes) == 25);
        CHECK(std::abs(weight_sum(r) - 1.0) < 1e-14);
        const Vector dist = m->distance(r.nodes);
        CHECK(*std::max_element(dist.begin(), dist.end()) < 1e-13);
        const double s2 = s * s;
        CHECK(moment(r, q, 2, 0) == Approx(s2).epsilon(1e-13));
        CHECK(moment(r, q, 4, 0) == Approx(3 * s2 * s2).epsilon(1e-13));
        CHECK(moment(r, q, 0, 6) == Approx(15 * s2 * s2 * s2).epsilon(1e-13));
        CHECK(moment(r, q, 8, 0) == Approx(105 * s2 * s2 * s2 * s2).epsilon(1e-12));
        CHECK(moment(r, q, 2, 2) == Approx(s2 * s2).epsilon(1e-13));
        CHECK(moment(r, q, 4, 4) == Approx(9 * s2 * s2 * s2 * s2).epsilon(1e-12));
        CHECK(std::abs(moment(r, q, 3, 0)) < 1e-14);
        CHECK(std::abs(moment(r, q, 1, 1)) < 1e-14);
        // Degree 10 is beyond the rule: E z^10 = 945 s^10 is missed (the test can fail).
        CHECK(std::abs(moment(r, q, 10, 0) / (945 * std::pow(s, 10)) - 1.0) > 1e-3);
        // E exp(z_1 / s) = e^{1/2}: spectral convergence.
        const mdlab::Quadrature r20 = m->quadrature(20);
        const Matrix z = q.coords(r20.nodes);
        double e = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(z); ++i) e += r20.weights(i) * std::exp(z(i, 0) / s);
        CHECK(e == Approx(std::exp(0.5)).epsilon(1e-13));
        // A large 1-D rule stays accurate (Golub-Welsch).
        auto line = prepared("linear_subspace", R"({"k": 1, "ambient_dim": 4, "scale": 0.8})", ctx);
        const mdlab::Isometry q1 = embedding_of(ctx, D, 1);
        const mdlab::Quadrature big = line->quadrature(400);
        CHECK(std::abs(weight_sum(big) - 1.0) < 1e-13);
        CHECK(moment(big, q1, 2, 0) == Approx(s2).epsilon(1e-12));
        CHECK(moment(big, q1, 4, 0) == Approx(3 * s2 * s2).epsilon(1e-12));
        // Too many nodes: refused with the key k.
        auto wide = prepared("linear_subspace", R"({"k": 7, "ambient_dim": 8})", ctx);
        try {
            wide->quadrature(8);  // 8^7 = 2.1e6 nodes
            FAIL("accepted");
        } catch (const mdlab::InputError& err) {
            CHECK(err.key() == "k");
        }
        CHECK_NOTHROW(wide->quadrature(7));  // 7^7 = 823543
    }
    SECTION("Gauss-Legendre and midpoint rules for the cube") {
        const double s = 1.3;
        auto m = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 4, "scale": 1.3, "law": "cube"})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, D, 2);
        const mdlab::Quadrature r = m->quadrature(6);  // exact up to degree 11 per coordinate
        REQUIRE(mdlab::rows(r.nodes) == 36);
        CHECK(std::abs(weight_sum(r) - 1.0) < 1e-14);
        // E z^p = s^p / (p + 1) for even p.
        for (int p : {2, 4, 6, 10})
            CHECK(moment(r, q, p, 0) == Approx(std::pow(s, p) / (p + 1)).epsilon(1e-13));
        CHECK(moment(r, q, 4, 6) == Approx(std::pow(s, 10) / 35.0).epsilon(1e-13));
        CHECK(std::abs(moment(r, q, 12, 0) / (std::pow(s, 12) / 13.0) - 1.0) > 1e-4);
        // Above 1000 nodes per coordinate the rule is the midpoint rule:
        // (1/n) sum ((2i + 1)/n - 1)^2 = (1 - 1/n^2) / 3 exactly.
        auto line = prepared("linear_subspace", R"({"k": 1, "ambient_dim": 4, "scale": 1.3, "law": "cube"})", ctx);
        const mdlab::Isometry q1 = embedding_of(ctx, D, 1);
        const std::size_t big = 2000;
        const mdlab::Quadrature mid = line->quadrature(big);
        CHECK(std::abs(weight_sum(mid) - 1.0) < 1e-12);
        CHECK(moment(mid, q1, 2, 0) == Approx(s * s / 3.0 * (1.0 - 1.0 / double(big * big))).epsilon(1e-12));
        const mdlab::Quadrature gl = line->quadrature(1000);
        CHECK(moment(gl, q1, 2, 0) == Approx(s * s / 3.0).epsilon(1e-12));
    }
}

namespace {
// log N(x; 0, S) for S = L L^T (Cholesky computed here), up to a constant.
double gaussian_log_density(const std::vector<double>& L, std::size_t D, const std::vector<double>& x) {
    std::vector<double> y(D);
    for (std::size_t i = 0; i < D; ++i) {
        double v = x[i];
        for (std::size_t j = 0; j < i; ++j) v -= L[i * D + j] * y[j];
        y[i] = v / L[i * D + i];
    }
    double q = 0.0;
    for (double v : y) q += v * v;
    return -0.5 * q;
}
std::vector<double> cholesky(std::vector<double> a, std::size_t D) {
    for (std::size_t j = 0; j < D; ++j) {
        for (std::size_t k = 0; k < j; ++k) a[j * D + j] -= a[j * D + k] * a[j * D + k];
        a[j * D + j] = std::sqrt(a[j * D + j]);
        for (std::size_t i = j + 1; i < D; ++i) {
            for (std::size_t k = 0; k < j; ++k) a[i * D + j] -= a[i * D + k] * a[j * D + k];
            a[i * D + j] /= a[j * D + j];
        }
        for (std::size_t i = 0; i < j; ++i) a[i * D + j] = 0.0;
    }
    return a;
}
}  // namespace

TEST_CASE("linear_subspace: noised score matches finite differences of the Gaussian log density", "[manifold][linear_subspace]") {
    const std::size_t D = 5, k = 2;
    const double s = 0.8;
    mdlab::test::TestContext ctx(34);
    auto m = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 5, "scale": 0.8})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, k);
    const Matrix x = gaussian_points(40, D, 1.0, 12);
    for (auto [alpha, sigma] : {std::pair<double, double>{1.0, 0.05}, {0.5, 0.7}, {0.01, 1.0}, {1.0, 1e-3}, {0.9, 3.0}}) {
        // Covariance alpha^2 s^2 Q Q^T + sigma^2 I, built entry by entry.
        std::vector<double> S(D * D);
        for (std::size_t a = 0; a < D; ++a)
            for (std::size_t b = 0; b < D; ++b) {
                double qq = 0.0;
                for (std::size_t j = 0; j < k; ++j) qq += q.matrix()(a, j) * q.matrix()(b, j);
                S[a * D + b] = alpha * alpha * s * s * qq + (a == b ? sigma * sigma : 0.0);
            }
        const std::vector<double> L = cholesky(S, D);
        Matrix score;
        REQUIRE(m->noised_score(x, alpha, sigma, score));
        double worst = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
            std::vector<double> xi(x.data() + i * D, x.data() + (i + 1) * D), fd(D);
            const double h = 1e-4 * sigma;
            double norm = 0.0, err = 0.0;
            for (std::size_t a = 0; a < D; ++a) {
                std::vector<double> xp = xi, xm = xi;
                xp[a] += h, xm[a] -= h;
                fd[a] = (gaussian_log_density(L, D, xp) - gaussian_log_density(L, D, xm)) / (2.0 * h);
                norm += score(i, a) * score(i, a);
                err += (score(i, a) - fd[a]) * (score(i, a) - fd[a]);
            }
            worst = std::max(worst, std::sqrt(err / norm));
        }
        INFO("alpha " << alpha << ", sigma " << sigma << ": largest relative error " << worst);
        CHECK(worst < 1e-6);
    }
}

TEST_CASE("linear_subspace: normal noise lies in the orthogonal complement with E dist^2 = (D - k) s^2", "[manifold][linear_subspace]") {
    const std::size_t n = 20000, D = 6, k = 2;
    const double s = 0.3;
    mdlab::test::TestContext ctx(35);
    auto clean = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 6})", ctx);
    auto noisy = prepared("linear_subspace", R"({"k": 2, "ambient_dim": 6, "noise": 0.3})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, k);
    const Matrix x0 = clean->sample(n, ctx.stream("data"));
    const Matrix x = noisy->sample(n, ctx.stream("data"));
    CHECK(max_abs_diff(q.coords(x), q.coords(x0)) < 1e-13);
    const Vector d = clean->distance(x);
    double sum = 0.0;
    for (double v : d) sum += v * v;
    const double mean = sum / n / (s * s), se = std::sqrt(2.0 * (D - k) / n);
    INFO("E dist^2 / s^2 = " << mean << ", expected " << D - k << " +- " << se);
    CHECK(std::abs(mean - double(D - k)) < 4.0 * se);
}
