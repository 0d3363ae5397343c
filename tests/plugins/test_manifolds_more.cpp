// The catalogue manifolds `swiss_roll`, `linear_subspace`, `gaussian_mixture` and `dataset`
// against closed forms and independent computations: samples on M, exact projections (checked
// against brute force), intrinsic-coordinate laws (chi-square / Kolmogorov-Smirnov at fixed
// seeds), quadrature rules (exact moments, Monte Carlo agreement within standard errors), exact
// noised scores (against finite differences of independently computed log densities), tangent
// bases (against finite differences of the parametrisation), normal noise, file reading, and
// reproducibility (seed, thread count).
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

namespace {

using mdlab::Matrix;
using mdlab::Vector;
using mdlab::test::chi2_19_999;
using mdlab::test::embedding_of;
using mdlab::test::gaussian_points;
using mdlab::test::identical;
using mdlab::test::max_abs_diff;
using mdlab::test::pi;
using mdlab::test::prepared;
using mdlab::test::row_dist;

// Pearson chi-square of values in [0, 1) against the density pdf on [0, 1), `bins` equal bins
// (bin probabilities by composite Simpson, 200 panels per bin).
template <class Pdf>
double chi_square(const std::vector<double>& v, Pdf pdf, std::size_t bins) {
    std::vector<double> count(bins, 0.0);
    for (double x : v) {
        REQUIRE(x >= 0.0);
        REQUIRE(x <= 1.0);
        count[std::min<std::size_t>(static_cast<std::size_t>(x * static_cast<double>(bins)), bins - 1)] += 1.0;
    }
    double chi2 = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
        const double lo = static_cast<double>(b) / static_cast<double>(bins), w = 1.0 / static_cast<double>(bins);
        const int panels = 200;
        const double h = w / panels;
        double s = pdf(lo) + pdf(lo + w);
        for (int i = 1; i < panels; ++i) s += (i % 2 ? 4.0 : 2.0) * pdf(lo + i * h);
        const double expected = static_cast<double>(v.size()) * s * h / 3.0;
        chi2 += (count[b] - expected) * (count[b] - expected) / expected;
    }
    return chi2;
}
constexpr double chi2_49_999 = 85.351;  // upper 0.1% point, 49 degrees of freedom

// Kolmogorov-Smirnov statistic sqrt(n) sup |F_n - F|; below 1.949 with probability 0.999.
template <class Cdf>
double ks_statistic(std::vector<double> v, Cdf cdf) {
    std::sort(v.begin(), v.end());
    const double n = static_cast<double>(v.size());
    double d = 0.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double f = cdf(v[i]);
        d = std::max({d, std::abs(f - static_cast<double>(i) / n), std::abs(static_cast<double>(i + 1) / n - f)});
    }
    return std::sqrt(n) * d;
}
constexpr double ks_999 = 1.949;

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// The densities of the coordinate u in [0, 1), written out from their documented formulas.
double irregular_pdf(double u) { return (0.25 + std::abs(std::sin(2.0 * pi * u))) / (0.25 + 2.0 / pi); }
double von_mises_pdf(double u, double kappa, double mode) {
    return std::exp(kappa * std::cos(2.0 * pi * (u - mode))) / std::cyl_bessel_i(0.0, kappa);
}

// Expects `make` of a plugin with these params to throw an InputError with this key whose
// message contains every string in `parts`.
void expect_input_error(const std::string& name, const std::string& json, const std::string& key,
                        const std::vector<std::string>& parts = {}) {
    INFO(name << " " << json);
    try {
        mdlab::test::TestContext ctx(1);
        prepared(name, json, ctx);
        FAIL("accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == key);
        for (const auto& p : parts) CHECK_THAT(std::string(e.what()), Catch::Contains(p));
    }
}

// ---- swiss roll: s (t cos t, h, t sin t) in the 3-subspace of Q --------------------------------

struct Roll {
    double t0 = 1.5 * pi, t1 = 4.5 * pi, height = 21.0, s = 1.0 / (4.5 * pi);
    mdlab::Isometry q;
    void point(double t, double h, double* x) const {
        const double c[3] = {s * t * std::cos(t), s * h, s * t * std::sin(t)};
        q.embed_row(c, x);
    }
};

}  // namespace

TEST_CASE("swiss_roll: parameters", "[manifold][swiss_roll]") {
    mdlab::test::TestContext ctx(1);
    auto r = prepared("swiss_roll", "{}", ctx);
    CHECK(r->ambient_dim() == 3);
    CHECK(r->intrinsic_dim() == 2);
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("swiss_roll", R"({"ambient_dim": 2})"));
    expect_input_error("swiss_roll", R"({"t0": 5.0, "t1": 5.0})", "t1", {"t1", "t0"});
    expect_input_error("swiss_roll", R"({"t0": 6.0, "t1": 5.0})", "t1");
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("swiss_roll", R"({"density": "gaussian"})"));
}

TEST_CASE("swiss_roll: samples lie on the roll and follow the parameter-space law", "[manifold][swiss_roll]") {
    const std::size_t n = 40000, D = 5;
    mdlab::test::TestContext ctx(42);
    Roll roll;
    roll.q = embedding_of(ctx, D, 3);

    SECTION("irregular density in t") {
        auto m = prepared("swiss_roll", R"({"ambient_dim": 5, "density": "irregular"})", ctx);
        const Matrix x = m->sample(n, ctx.stream("data"));
        REQUIRE(mdlab::rows(x) == n);
        REQUIRE(mdlab::cols(x) == D);
        const Vector d = m->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);

        // The intrinsic coordinates rebuild every sample through the documented parametrisation.
        const Matrix th = m->intrinsic_coords(x);
        REQUIRE(mdlab::cols(th) == 2);
        std::vector<double> u, hu;
        double worst = 0.0;
        std::vector<double> y(D);
        for (std::size_t i = 0; i < n; ++i) {
            REQUIRE(th(i, 0) >= roll.t0);
            REQUIRE(th(i, 0) <= roll.t1);
            REQUIRE(th(i, 1) >= 0.0);
            REQUIRE(th(i, 1) <= roll.height);
            roll.point(th(i, 0), th(i, 1), y.data());
            for (std::size_t a = 0; a < D; ++a) worst = std::max(worst, std::abs(y[a] - x(i, a)));
            u.push_back((th(i, 0) - roll.t0) / (roll.t1 - roll.t0));
            hu.push_back(th(i, 1) / roll.height);
        }
        CHECK(worst < 1e-12);
        const double chi_u = chi_square(u, irregular_pdf, 20);
        const double chi_h = chi_square(hu, [](double) { return 1.0; }, 20);
        const double chi_u_uniform = chi_square(u, [](double) { return 1.0; }, 20);
        INFO("chi-square of u against the irregular density " << chi_u << ", of h against uniform " << chi_h
                                                              << ", of u against uniform " << chi_u_uniform);
        CHECK(chi_u < chi2_19_999);
        CHECK(chi_h < chi2_19_999);
        CHECK(chi_u_uniform > 10.0 * chi2_19_999);  // the test can tell the densities apart
    }
    SECTION("von Mises density in t, unnormalised coordinates") {
        auto m = prepared("swiss_roll", R"({"ambient_dim": 5, "density": "von_mises", "kappa": 3.0, "mode": 0.3,
                                            "normalise": false, "height": 10.0})",
                          ctx);
        roll.s = 1.0;
        roll.height = 10.0;
        const Matrix x = m->sample(n, ctx.stream("data"));
        const Vector d = m->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-11);  // raw coordinates are ~14 times larger
        const Matrix th = m->intrinsic_coords(x);
        std::vector<double> u, y(D);
        double worst = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            roll.point(th(i, 0), th(i, 1), y.data());
            for (std::size_t a = 0; a < D; ++a) worst = std::max(worst, std::abs(y[a] - x(i, a)));
            u.push_back((th(i, 0) - roll.t0) / (roll.t1 - roll.t0));
        }
        CHECK(worst < 1e-11);
        const double chi_u = chi_square(u, [](double v) { return von_mises_pdf(v, 3.0, 0.3); }, 20);
        INFO("chi-square of u against von Mises(3, 0.3): " << chi_u);
        CHECK(chi_u < chi2_19_999);
    }
}

TEST_CASE("swiss_roll: projection is exact, idempotent, and gives the distance", "[manifold][swiss_roll]") {
    const std::size_t D = 5;
    mdlab::test::TestContext ctx(11);
    auto m = prepared("swiss_roll", R"({"ambient_dim": 5})", ctx);
    Roll roll;
    roll.q = embedding_of(ctx, D, 3);

    // Near points (samples plus small offsets), points spread around the roll in its 3-subspace
    // with normal offsets, points beyond its ends and edges, and far points.
    std::vector<std::vector<double>> pts;
    const Matrix near = m->sample(60, ctx.stream("near"));
    const Matrix off = gaussian_points(60, D, 0.02, 1);
    for (std::size_t i = 0; i < 60; ++i) {
        std::vector<double> p(D);
        for (std::size_t a = 0; a < D; ++a) p[a] = near(i, a) + off(i, a);
        pts.push_back(p);
    }
    mdlab::Rng rng(5);
    const Matrix normal_part = gaussian_points(80, D, 0.1, 2);
    for (std::size_t i = 0; i < 80; ++i) {
        const double c[3] = {2.6 * rng.uniform() - 1.3, 2.4 * rng.uniform() - 0.5, 2.6 * rng.uniform() - 1.3};
        std::vector<double> p(D);
        roll.q.embed_row(c, p.data());
        for (std::size_t a = 0; a < D; ++a) p[a] += normal_part(i, a);
        pts.push_back(p);
    }
    const Matrix far = gaussian_points(20, D, 4.0, 3);
    for (std::size_t i = 0; i < 20; ++i) pts.emplace_back(far.data() + i * D, far.data() + (i + 1) * D);
    pts.push_back(std::vector<double>(D, 0.0));  // the origin, on the roll's axis
    Matrix x = Matrix::from_shape({pts.size(), D});
    for (std::size_t i = 0; i < pts.size(); ++i)
        for (std::size_t a = 0; a < D; ++a) x(i, a) = pts[i][a];

    const Matrix p = m->project(x);
    const Vector d = m->distance(x);
    CHECK(max_abs_diff(m->project(p), p) < 1e-12);
    const Vector dp = m->distance(p);
    CHECK(*std::max_element(dp.begin(), dp.end()) < 1e-12);

    // Brute force: min over a fine t grid of the 2-D spiral distance, plus the exact clamp in h
    // and the normal part (the surface is a spiral times an interval).
    const std::size_t grid = 200000;
    std::vector<double> gc(grid + 1), gs(grid + 1);
    for (std::size_t g = 0; g <= grid; ++g) {
        const double t = roll.t0 + (roll.t1 - roll.t0) * static_cast<double>(g) / grid;
        gc[g] = roll.s * t * std::cos(t);
        gs[g] = roll.s * t * std::sin(t);
    }
    double worst_gap = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        CHECK(std::abs(d(i) - row_dist(x, i, p, i)) < 1e-12 * std::max(1.0, d(i)));
        double z[3];
        roll.q.coords_row(mdlab::row(x, i), z);
        const double normal2 = roll.q.normal_norm2_row(mdlab::row(x, i), z);
        const double hz = z[1] - roll.s * std::clamp(z[1] / roll.s, 0.0, roll.height);
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t g = 0; g <= grid; ++g)
            best = std::min(best, (z[0] - gc[g]) * (z[0] - gc[g]) + (z[2] - gs[g]) * (z[2] - gs[g]));
        const double brute2 = normal2 + hz * hz + best;
        INFO("point " << i << ": distance " << d(i) << ", brute force " << std::sqrt(brute2));
        CHECK(d(i) * d(i) <= brute2 + 1e-13 * (1.0 + brute2));
        // The grid's spacing along the curve is <= 5e-5: its best point is within ~1e-8 in d^2.
        CHECK(brute2 - d(i) * d(i) < 1e-8 * (1.0 + d(i)));
        worst_gap = std::max(worst_gap, brute2 - d(i) * d(i));
    }
    INFO("largest brute-force excess in squared distance: " << worst_gap);
    CHECK(worst_gap >= 0.0);
}

TEST_CASE("swiss_roll: tangent bases are orthonormal and span the parametrisation's derivatives", "[manifold][swiss_roll]") {
    const std::size_t D = 6, n = 300;
    mdlab::test::TestContext ctx(8);
    auto m = prepared("swiss_roll", R"({"ambient_dim": 6, "t0": 1.0, "t1": 12.0, "height": 5.0})", ctx);
    Roll roll;
    roll.t0 = 1.0, roll.t1 = 12.0, roll.height = 5.0, roll.s = 1.0 / 12.0;
    roll.q = embedding_of(ctx, D, 3);
    const Matrix x = m->sample(n, ctx.stream("data"));
    const Matrix th = m->intrinsic_coords(x);
    mdlab::TangentBases t;
    m->tangent_bases(x, t);
    REQUIRE(t.shape()[0] == n);
    REQUIRE(t.shape()[1] == D);
    REQUIRE(t.shape()[2] == 2);
    double worst_gram = 0.0, worst_span = 0.0;
    const double step = 1e-6;
    std::vector<double> a(D), b(D), v(D);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < 2; ++j)
            for (std::size_t k = 0; k < 2; ++k) {
                double dot = 0.0;
                for (std::size_t c = 0; c < D; ++c) dot += t(i, c, j) * t(i, c, k);
                worst_gram = std::max(worst_gram, std::abs(dot - (j == k ? 1.0 : 0.0)));
            }
        // Central differences of the parametrisation in t and in h lie in the span.
        for (int dir = 0; dir < 2; ++dir) {
            const double t_ = th(i, 0), h_ = th(i, 1);
            roll.point(t_ + (dir == 0 ? step : 0.0), h_ + (dir == 1 ? step : 0.0), a.data());
            roll.point(t_ - (dir == 0 ? step : 0.0), h_ - (dir == 1 ? step : 0.0), b.data());
            double nv = 0.0;
            for (std::size_t c = 0; c < D; ++c) nv += (v[c] = (a[c] - b[c]) / (2.0 * step)) * v[c];
            std::vector<double> r = v;
            for (std::size_t j = 0; j < 2; ++j) {
                double dot = 0.0;
                for (std::size_t c = 0; c < D; ++c) dot += t(i, c, j) * v[c];
                for (std::size_t c = 0; c < D; ++c) r[c] -= dot * t(i, c, j);
            }
            double nr = 0.0;
            for (double e : r) nr += e * e;
            worst_span = std::max(worst_span, std::sqrt(nr / nv));
        }
    }
    INFO("orthonormality error " << worst_gram << ", relative residual of the derivatives " << worst_span);
    CHECK(worst_gram < 1e-13);
    CHECK(worst_span < 1e-8);
    // Off the roll the bases are those of the nearest point.
    mdlab::TangentBases tp;
    const Matrix shifted = x + gaussian_points(n, D, 0.01, 4);
    m->tangent_bases(m->project(shifted), tp);
    mdlab::TangentBases ts;
    m->tangent_bases(shifted, ts);
    REQUIRE(tp.shape() == ts.shape());
    double worst_off = 0.0;
    for (std::size_t k = 0; k < tp.size(); ++k) worst_off = std::max(worst_off, std::abs(tp.data()[k] - ts.data()[k]));
    CHECK(worst_off < 1e-12);
}

TEST_CASE("swiss_roll: normal noise is orthogonal to the roll with E dist^2 = codim s^2", "[manifold][swiss_roll]") {
    const std::size_t n = 20000, D = 6, codim = 4;
    const double s = 1e-4;
    mdlab::test::TestContext ctx(19);
    auto clean = prepared("swiss_roll", R"({"ambient_dim": 6, "density": "irregular"})", ctx);
    auto noisy = prepared("swiss_roll", R"({"ambient_dim": 6, "density": "irregular", "noise": 1e-4})", ctx);
    const Matrix x0 = clean->sample(n, ctx.stream("data"));
    const Matrix x = noisy->sample(n, ctx.stream("data"));
    mdlab::TangentBases t;
    clean->tangent_bases(x0, t);
    const Vector d = clean->distance(x);
    double tangential = 0.0, sum_n2 = 0.0, sum_d2 = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        double n2 = 0.0;
        for (std::size_t a = 0; a < D; ++a) n2 += (x(i, a) - x0(i, a)) * (x(i, a) - x0(i, a));
        for (std::size_t j = 0; j < 2; ++j) {
            double dot = 0.0;
            for (std::size_t a = 0; a < D; ++a) dot += t(i, a, j) * (x(i, a) - x0(i, a));
            tangential = std::max(tangential, std::abs(dot) / std::sqrt(n2));
        }
        sum_n2 += n2;
        sum_d2 += d(i) * d(i);
    }
    // |noise|^2 / s^2 is chi-square with codim degrees of freedom: mean codim, variance 2 codim.
    const double se = std::sqrt(2.0 * codim / n);
    const double mean_n2 = sum_n2 / n / (s * s), mean_d2 = sum_d2 / n / (s * s);
    INFO("tangential fraction " << tangential << ", E|noise|^2/s^2 = " << mean_n2 << ", E d^2/s^2 = " << mean_d2
                                << " (expected " << codim << " +- " << se << ")");
    CHECK(tangential < 1e-10);
    CHECK(std::abs(mean_n2 - codim) < 4.0 * se);
    // Curvature changes d from |noise| by O(s * curvature) ~ 3e-4 relative, far below the error.
    CHECK(std::abs(mean_d2 - codim) < 4.0 * se);
}

TEST_CASE("swiss_roll: quadrature of the parameter-space law", "[manifold][swiss_roll]") {
    const std::size_t D = 4;
    mdlab::test::TestContext ctx(23);
    auto m = prepared("swiss_roll", R"({"ambient_dim": 4, "density": "irregular"})", ctx);
    Roll roll;
    roll.q = embedding_of(ctx, D, 3);

    const mdlab::Quadrature q = m->quadrature(60);
    REQUIRE(mdlab::rows(q.nodes) == 3600);
    REQUIRE(q.weights.size() == 3600);
    double total = 0.0;
    for (double w : q.weights) {
        CHECK(w > 0.0);
        total += w;
    }
    CHECK(std::abs(total - 1.0) < 1e-13);
    const Vector dq = m->distance(q.nodes);
    CHECK(*std::max_element(dq.begin(), dq.end()) < 1e-12);

    // E[h] = height / 2 exactly (the midpoint rule integrates linear functions exactly).
    const Matrix th = m->intrinsic_coords(q.nodes);
    double eh = 0.0;
    for (std::size_t i = 0; i < 3600; ++i) eh += q.weights(i) * th(i, 1);
    CHECK(std::abs(eh - roll.height / 2.0) < 1e-12);

    // E[t^2] = int (t0 + (t1 - t0) u)^2 p(u) du: second-order convergence of the midpoint rule
    // (the density's kinks at u = 0, 1/2 fall on cell boundaries for even resolutions). E[t] is
    // no test: p(1 - u) = p(u) makes the symmetric midpoint rule exact for it.
    auto t_of = [&](double u) { return roll.t0 + (roll.t1 - roll.t0) * u; };
    double exact = 0.0;
    {
        const int panels = 200000;  // Simpson on [0, 1/2] and [1/2, 1] separately (the kink)
        for (int half = 0; half < 2; ++half) {
            const double lo = 0.5 * half, h = 0.5 / panels;
            auto f = [&](double u) { return t_of(u) * t_of(u) * irregular_pdf(u); };
            double s = f(lo) + f(lo + 0.5);
            for (int i = 1; i < panels; ++i) s += (i % 2 ? 4.0 : 2.0) * f(lo + i * h);
            exact += s * h / 3.0;
        }
    }
    auto mean_t2 = [&](std::size_t res) {
        const mdlab::Quadrature r = m->quadrature(res);
        const Matrix c = m->intrinsic_coords(r.nodes);
        double e = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(c); ++i) e += r.weights(i) * c(i, 0) * c(i, 0);
        return e;
    };
    const double e20 = std::abs(mean_t2(20) - exact), e80 = std::abs(mean_t2(80) - exact);
    INFO("E[t^2] = " << exact << ", errors: resolution 20: " << e20 << ", 80: " << e80 << " (ratio " << e20 / e80
                     << ", second order: 16)");
    CHECK(e80 < 1e-3 * exact);
    CHECK(e20 / e80 > 10.0);

    // Smooth functions of x agree with a Monte Carlo estimate within its standard error.
    const std::size_t n = 200000;
    const Matrix x = m->sample(n, ctx.stream("data"));
    mdlab::Rng vr(3);
    std::vector<double> v(D);
    for (double& e : v) e = vr.normal();
    auto fns = [&](const double* p, int which) {
        double dot = 0.0, n2 = 0.0;
        for (std::size_t a = 0; a < D; ++a) dot += v[a] * p[a], n2 += p[a] * p[a];
        return which == 0 ? n2 : which == 1 ? dot : std::exp(dot);
    };
    for (int which = 0; which < 3; ++which) {
        double quad = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(q.nodes); ++i) quad += q.weights(i) * fns(mdlab::row(q.nodes, i), which);
        double s1 = 0.0, s2 = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double f = fns(mdlab::row(x, i), which);
            s1 += f, s2 += f * f;
        }
        const double mc = s1 / n, se = std::sqrt((s2 / n - mc * mc) / n);
        INFO("function " << which << ": quadrature " << quad << ", Monte Carlo " << mc << " +- " << se);
        CHECK(std::abs(quad - mc) < 4.0 * se);
    }
}

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

// ---- gaussian mixture --------------------------------------------------------------------------

namespace {
struct Mixture {
    std::vector<std::vector<double>> mu;
    std::vector<double> w;
    double std = 0.0;
};
// The means as documented: mu_j = spread * Q g_j, Q (D x m) from "embedding" chunk 0, g (K x m)
// row-major from "means" chunk 0.
Mixture mixture_of(const mdlab::Context& ctx, std::size_t D, std::size_t m, std::size_t K, double spread, double std_,
                   std::vector<double> w) {
    const mdlab::Isometry q = embedding_of(ctx, D, m);
    mdlab::Rng rng = ctx.stream("means").chunk(0);
    Mixture mix;
    std::vector<double> g(m);
    for (std::size_t j = 0; j < K; ++j) {
        for (double& v : g) v = rng.normal();
        std::vector<double> x(D);
        q.embed_row(g.data(), x.data());
        for (double& v : x) v *= spread;
        mix.mu.push_back(x);
    }
    if (w.empty()) w.assign(K, 1.0);
    double t = 0.0;
    for (double v : w) t += v;
    for (double& v : w) v /= t;
    mix.w = w;
    mix.std = std_;
    return mix;
}
// log sum_j w_j N(x; alpha mu_j, v I), in long double.
long double mixture_log_density(const Mixture& mix, const std::vector<double>& x, double alpha, double sigma) {
    const long double v = (long double)alpha * alpha * mix.std * mix.std + (long double)sigma * sigma;
    std::vector<long double> l;
    long double top = -std::numeric_limits<long double>::infinity();
    for (std::size_t j = 0; j < mix.mu.size(); ++j) {
        long double r2 = 0.0;
        for (std::size_t a = 0; a < x.size(); ++a) {
            const long double r = x[a] - (long double)alpha * mix.mu[j][a];
            r2 += r * r;
        }
        l.push_back(std::log((long double)mix.w[j]) - r2 / (2 * v));
        top = std::max(top, l.back());
    }
    long double s = 0.0;
    for (long double e : l) s += std::exp(e - top);
    return top + std::log(s) - 0.5L * x.size() * std::log(2 * (long double)pi * v);
}
}  // namespace

TEST_CASE("gaussian_mixture: parameters", "[manifold][gaussian_mixture]") {
    mdlab::test::TestContext ctx(1);
    auto m = prepared("gaussian_mixture", "{}", ctx);
    CHECK(m->ambient_dim() == 2);
    CHECK(m->intrinsic_dim() == 2);
    expect_input_error("gaussian_mixture", R"({"noise": 0.1})", "noise");
    expect_input_error("gaussian_mixture", R"({"components": 3, "weights": [1, 2]})", "weights", {"3"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "weights": [0, 0]})", "weights");
    expect_input_error("gaussian_mixture", R"({"ambient_dim": 3, "mean_dim": 4})", "mean_dim");
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("gaussian_mixture", R"({"weights": [1, -1, 1, 1]})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("gaussian_mixture", R"({"std": 0})"));

    // The support is R^D: identity projection, zero distance, identity tangent bases, no quadrature.
    const Matrix y = gaussian_points(50, 2, 3.0, 1);
    CHECK(identical(m->project(y), y));
    CHECK(identical(m->intrinsic_coords(y), y));
    const Vector d = m->distance(y);
    CHECK(*std::max_element(d.begin(), d.end()) == 0.0);
    mdlab::TangentBases t;
    m->tangent_bases(y, t);
    REQUIRE(t.shape()[2] == 2);
    CHECK(t(7, 0, 0) == 1.0);
    CHECK(t(7, 1, 0) == 0.0);
    CHECK(t(7, 1, 1) == 1.0);
    CHECK_THROWS_WITH(m->quadrature(10), Catch::Contains("closed form"));
}

TEST_CASE("gaussian_mixture: samples have the mixture's mean and covariance", "[manifold][gaussian_mixture]") {
    const std::size_t n = 100000, D = 3, K = 4;
    mdlab::test::TestContext ctx(41);
    for (std::size_t mdim : {std::size_t{0}, std::size_t{1}}) {
        const std::string json = R"({"ambient_dim": 3, "components": 4, "spread": 2.0, "std": 0.3,
                                     "weights": [1, 2, 3, 4], "mean_dim": )" +
                                 std::to_string(mdim) + "}";
        auto m = prepared("gaussian_mixture", json, ctx);
        const Mixture mix = mixture_of(ctx, D, mdim == 0 ? D : mdim, K, 2.0, 0.3, {1, 2, 3, 4});
        std::vector<double> mean(D, 0.0), cov(D * D, 0.0);
        for (std::size_t j = 0; j < K; ++j)
            for (std::size_t a = 0; a < D; ++a) mean[a] += mix.w[j] * mix.mu[j][a];
        for (std::size_t a = 0; a < D; ++a)
            for (std::size_t b = 0; b < D; ++b) {
                double c = a == b ? 0.09 : 0.0;
                for (std::size_t j = 0; j < K; ++j) c += mix.w[j] * (mix.mu[j][a] - mean[a]) * (mix.mu[j][b] - mean[b]);
                cov[a * D + b] = c;
            }
        const Matrix x = m->sample(n, ctx.stream("data"));
        for (std::size_t a = 0; a < D; ++a) {
            double m1 = 0.0;
            for (std::size_t i = 0; i < n; ++i) m1 += x(i, a);
            m1 /= n;
            INFO("mean_dim " << mdim << ", coordinate " << a << ": mean " << m1 << ", expected " << mean[a]);
            CHECK(std::abs(m1 - mean[a]) < 5.0 * std::sqrt(cov[a * D + a] / n));
        }
        for (std::size_t a = 0; a < D; ++a)
            for (std::size_t b = a; b < D; ++b) {
                // Sample covariance about the exact mean, and its standard error from the sample.
                double s1 = 0.0, s2 = 0.0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double f = (x(i, a) - mean[a]) * (x(i, b) - mean[b]);
                    s1 += f, s2 += f * f;
                }
                const double c = s1 / n, se = std::sqrt((s2 / n - c * c) / n);
                INFO("mean_dim " << mdim << ", covariance (" << a << ", " << b << ") = " << c << ", expected "
                                 << cov[a * D + b] << " +- " << se);
                CHECK(std::abs(c - cov[a * D + b]) < 5.0 * se);
            }
        if (mdim == 1) {  // the means are collinear: mu_j - mu_0 are all parallel
            for (std::size_t j = 2; j < K; ++j) {
                double dot = 0.0, n1 = 0.0, n2 = 0.0;
                for (std::size_t a = 0; a < D; ++a) {
                    const double u = mix.mu[1][a] - mix.mu[0][a], v = mix.mu[j][a] - mix.mu[0][a];
                    dot += u * v, n1 += u * u, n2 += v * v;
                }
                CHECK(std::abs(std::abs(dot) / std::sqrt(n1 * n2) - 1.0) < 1e-12);
            }
        }
    }
}

TEST_CASE("gaussian_mixture: noised score matches finite differences of the mixture log density", "[manifold][gaussian_mixture]") {
    const std::size_t D = 4, K = 5;
    mdlab::test::TestContext ctx(43);
    auto m = prepared("gaussian_mixture", R"({"ambient_dim": 4, "components": 5, "spread": 1.5, "std": 0.25,
                                              "weights": [1, 0.5, 2, 1, 0.1]})",
                      ctx);
    const Mixture mix = mixture_of(ctx, D, D, K, 1.5, 0.25, {1, 0.5, 2, 1, 0.1});
    // Points near the data, between components, and far away.
    Matrix x = m->sample(60, ctx.stream("data")) + gaussian_points(60, D, 0.3, 2);
    const Matrix far = gaussian_points(10, D, 30.0, 3);
    Matrix all = Matrix::from_shape({70, D});
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t a = 0; a < D; ++a) all(i, a) = x(i, a);
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t a = 0; a < D; ++a) all(60 + i, a) = far(i, a);
    for (auto [alpha, sigma] : {std::pair<double, double>{1.0, 0.01}, {1.0, 0.3}, {0.3, 0.95}, {0.05, 2.0}, {1e-3, 1e-2}}) {
        Matrix score;
        REQUIRE(m->noised_score(all, alpha, sigma, score));
        const double v = alpha * alpha * 0.0625 + sigma * sigma;
        double worst = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(all); ++i) {
            std::vector<double> xi(all.data() + i * D, all.data() + (i + 1) * D);
            const double h = 1e-4 * std::sqrt(v);
            double err = 0.0, norm = 0.0;
            for (std::size_t a = 0; a < D; ++a) {
                std::vector<double> xp = xi, xm = xi;
                xp[a] += h, xm[a] -= h;
                const double fd = static_cast<double>(
                    (mixture_log_density(mix, xp, alpha, sigma) - mixture_log_density(mix, xm, alpha, sigma)) / (2 * h));
                REQUIRE(std::isfinite(score(i, a)));
                err += (score(i, a) - fd) * (score(i, a) - fd);
                norm += score(i, a) * score(i, a);
            }
            // Relative to |s| plus the score's natural scale 1 / sqrt(v) (the score vanishes
            // between components).
            worst = std::max(worst, std::sqrt(err) / (std::sqrt(norm) + 1.0 / std::sqrt(v)));
        }
        INFO("alpha " << alpha << ", sigma " << sigma << ": largest relative error " << worst);
        CHECK(worst < 1e-6);
    }
    // alpha = 0: the noised law is N(0, sigma^2 I) and the score -x / sigma^2.
    Matrix s0;
    REQUIRE(m->noised_score(all, 0.0, 0.5, s0));
    CHECK(max_abs_diff(s0, all * (-4.0)) < 1e-12);
}

// ---- dataset -----------------------------------------------------------------------------------

namespace {
std::string json_path(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

void write_text(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

std::string csv_of(const Matrix& m, const std::string& header) {
    std::string s = header.empty() ? "" : header + "\r\n";
    s += "# a comment line, skipped\n\n";
    char buf[64];
    for (std::size_t i = 0; i < mdlab::rows(m); ++i) {
        for (std::size_t j = 0; j < mdlab::cols(m); ++j) {
            std::snprintf(buf, sizeof buf, "%.17g", m(i, j));
            s += (j ? ", " : "") + std::string(buf);
        }
        s += i % 2 ? "\r\n" : "\n";
    }
    return s;
}
}  // namespace

TEST_CASE("dataset: .npy and .csv files give the same points", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(51);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(300, 3, 2.0, 7);
    mdlab::npy::write(dir / "points.npy", data);
    write_text(dir / "points.csv", csv_of(data, "x, y, z"));
    write_text(dir / "bare.csv", csv_of(data, ""));
    auto a = prepared("dataset", "{\"path\": " + json_path(dir / "points.npy") + "}", ctx);
    auto b = prepared("dataset", "{\"path\": " + json_path(dir / "points.csv") + "}", ctx);
    auto c = prepared("dataset", "{\"path\": " + json_path(dir / "bare.csv") + ", \"intrinsic_dim\": 2}", ctx);
    CHECK(a->ambient_dim() == 3);
    CHECK(a->intrinsic_dim() == 3);
    CHECK(c->intrinsic_dim() == 2);
    const mdlab::Quadrature qa = a->quadrature(0), qb = b->quadrature(0), qc = c->quadrature(0);
    CHECK(identical(qa.nodes, data));
    CHECK(identical(qb.nodes, data));
    CHECK(identical(qc.nodes, data));
    for (double w : qa.weights) CHECK(w == 1.0 / 300.0);
    CHECK(identical(a->sample(1000, ctx.stream("data")), b->sample(1000, ctx.stream("data"))));
}

TEST_CASE("dataset: draws are data rows, uniform with replacement, distinct without", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(52);
    const auto dir = ctx.output_dir();
    const std::size_t N = 50, n = 50000;
    const Matrix data = gaussian_points(N, 2, 1.0, 8);
    mdlab::npy::write(dir / "d.npy", data);
    auto m = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + "}", ctx);
    const Matrix x = m->sample(n, ctx.stream("data"));
    const Vector d = m->distance(x);
    CHECK(*std::max_element(d.begin(), d.end()) == 0.0);
    const Matrix idx = m->intrinsic_coords(x);
    std::vector<double> count(N, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto r = static_cast<std::size_t>(idx(i, 0));
        REQUIRE(r < N);
        REQUIRE(idx(i, 0) == static_cast<double>(r));
        REQUIRE(x(i, 0) == data(r, 0));
        count[r] += 1.0;
    }
    double chi2 = 0.0;
    for (double c : count) chi2 += (c - double(n) / N) * (c - double(n) / N) / (double(n) / N);
    INFO("chi-square of the row counts: " << chi2);
    CHECK(chi2 < chi2_49_999);

    // Without replacement: all N rows, each once (a random permutation), and n > N refused.
    auto w = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + ", \"replace\": false}", ctx);
    const Matrix perm = w->sample(N, ctx.stream("perm"));
    const Matrix pidx = w->intrinsic_coords(perm);
    std::set<double> seen(pidx.begin(), pidx.end());
    CHECK(seen.size() == N);
    bool moved = false;
    for (std::size_t i = 0; i < N; ++i) moved = moved || pidx(i, 0) != static_cast<double>(i);
    CHECK(moved);
    try {
        w->sample(N + 1, ctx.stream("perm"));
        FAIL("accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "replace");
    }
}

TEST_CASE("dataset: without replacement a draw larger than one random chunk has distinct rows", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(9, "data");
    const auto dir = ctx.output_dir();
    const std::size_t n = 3 * mdlab::random_chunk_rows + 17;
    Matrix big = Matrix::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) {
        big(i, 0) = double(i);
        big(i, 1) = -double(i);
    }
    mdlab::npy::write(dir / "big.npy", big);
    auto w = prepared("dataset", "{\"path\": " + json_path(dir / "big.npy") + ", \"replace\": false}", ctx);
    const Matrix all = w->sample(n, ctx.stream("perm"));
    std::set<double> seen;
    for (std::size_t i = 0; i < n; ++i) seen.insert(all(i, 0));
    CHECK(seen.size() == n);
}

TEST_CASE("dataset: projection and distance are to the nearest data point", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(53);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(400, 4, 1.0, 9);
    mdlab::npy::write(dir / "d.npy", data);
    auto m = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + "}", ctx);
    const Matrix y = gaussian_points(100, 4, 1.5, 10);
    const Matrix p = m->project(y);
    const Vector d = m->distance(y);
    const Matrix idx = m->intrinsic_coords(y);
    for (std::size_t i = 0; i < 100; ++i) {
        std::size_t best = 0;
        for (std::size_t r = 1; r < 400; ++r)
            if (row_dist(y, i, data, r) < row_dist(y, i, data, best)) best = r;
        CHECK(idx(i, 0) == static_cast<double>(best));
        CHECK(std::abs(d(i) - row_dist(y, i, data, best)) < 1e-14);
        CHECK(row_dist(p, i, data, best) == 0.0);
    }
    CHECK(identical(m->project(p), p));
    mdlab::TangentBases t;
    CHECK_THROWS(m->tangent_bases(p, t));
}

TEST_CASE("dataset: ambient dimension and embedding", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(54);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(100, 3, 1.0, 11);
    mdlab::npy::write(dir / "d.npy", data);
    const std::string path = json_path(dir / "d.npy");
    CHECK(prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 3}", ctx)->ambient_dim() == 3);
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 5}", "ambient_dim", {"3 columns"});
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 2}", "ambient_dim", {"3 columns"});
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 2, \"embed\": true}", "ambient_dim");
    expect_input_error("dataset", "{\"path\": " + path + ", \"intrinsic_dim\": 4}", "intrinsic_dim");
    expect_input_error("dataset", "{\"path\": " + path + ", \"noise\": 0.1}", "noise");
    // embed = true with ambient_dim 6: the rows are Q x_i, Q (6 x 3) from the "embedding" stream.
    auto e = prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 6, \"embed\": true}", ctx);
    CHECK(e->ambient_dim() == 6);
    const mdlab::Isometry q = embedding_of(ctx, 6, 3);
    CHECK(max_abs_diff(e->quadrature(1).nodes, q.embed(data)) < 1e-15);
    // embed = true with ambient_dim = columns: used as is.
    auto same = prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 3, \"embed\": true}", ctx);
    CHECK(identical(same->quadrature(1).nodes, data));
}

TEST_CASE("dataset: bad files are refused naming the file and the reason", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(55);
    const auto dir = ctx.output_dir();
    auto path_of = [&](const std::string& name) { return "{\"path\": " + json_path(dir / name) + "}"; };
    write_text(dir / "bad_value.csv", "a,b,c\n1,2,3\n4,5,6\n7,x8,9\n");
    expect_input_error("dataset", path_of("bad_value.csv"), "path", {"bad_value.csv", "line 4", "column 2", "x8"});
    write_text(dir / "ragged.csv", "1,2,3\n4,5,6\n7,8\n");
    expect_input_error("dataset", path_of("ragged.csv"), "path", {"ragged.csv", "line 3", "2 values"});
    write_text(dir / "empty_field.csv", "1,2,3\n4,,6\n");
    expect_input_error("dataset", path_of("empty_field.csv"), "path", {"line 2", "column 2", "empty"});
    write_text(dir / "nan.csv", "1,2\nnan,3\n");
    expect_input_error("dataset", path_of("nan.csv"), "path", {"line 2", "column 1"});
    write_text(dir / "spaces.csv", "1 2 3\n4 5 6\n");
    expect_input_error("dataset", path_of("spaces.csv"), "path", {"line 2", "commas"});
    write_text(dir / "header_only.csv", "x,y\n");
    expect_input_error("dataset", path_of("header_only.csv"), "path", {"header_only.csv", "no data"});
    write_text(dir / "truncated.npy", std::string("\x93NUMPY\x01\x00", 8) + "{'descr");
    expect_input_error("dataset", path_of("truncated.npy"), "path", {"truncated.npy"});
    expect_input_error("dataset", path_of("missing.csv"), "path", {"missing.csv"});
    expect_input_error("dataset", "{}", "path");
}

// ---- reproducibility ---------------------------------------------------------------------------

TEST_CASE("catalogue manifolds: reproducible by seed and independent of the thread count", "[manifold][threads]") {
    mdlab::test::TestContext files(60);
    mdlab::npy::write(files.output_dir() / "d.npy", gaussian_points(1000, 3, 1.0, 12));
    const std::vector<std::pair<std::string, std::string>> configs = {
        {"swiss_roll", R"({"ambient_dim": 6, "density": "irregular", "noise": 0.01})"},
        {"linear_subspace", R"({"k": 2, "ambient_dim": 5, "noise": 0.1})"},
        {"linear_subspace", R"({"k": 3, "ambient_dim": 5, "law": "cube"})"},
        {"gaussian_mixture", R"({"ambient_dim": 4, "components": 6})"},
        {"dataset", "{\"path\": " + json_path(files.output_dir() / "d.npy") + ", \"ambient_dim\": 5, \"embed\": true}"},
    };
    for (const auto& [name, json] : configs) {
        INFO(name << " " << json);
        mdlab::test::TestContext a(42), b(42), other(43);
        auto m = prepared(name, json, a);
        const std::size_t D = m->ambient_dim();
        const Matrix xa = m->sample(3000, a.stream("data"));
        CHECK(identical(xa, prepared(name, json, b)->sample(3000, b.stream("data"))));
        CHECK(max_abs_diff(xa, prepared(name, json, other)->sample(3000, other.stream("data"))) > 1e-3);

        const Matrix probe = gaussian_points(3000, D, 1.0, 13);
        struct Out {
            Matrix x, p, c, s;
            Vector d;
        };
        auto run = [&](int threads) {
            Out o;
            tbb::task_arena arena(threads);
            arena.execute([&] {
                o.x = m->sample(5000, a.stream("data"));
                o.p = m->project(probe);
                o.d = m->distance(probe);
                o.c = m->intrinsic_coords(probe);
                if (!m->noised_score(probe, 0.7, 0.4, o.s)) o.s = Matrix::from_shape({0, 0});
            });
            return o;
        };
        const Out one = run(1), two = run(2);
        CHECK(identical(one.x, two.x));
        CHECK(identical(one.p, two.p));
        CHECK(identical(one.d, two.d));
        CHECK(identical(one.c, two.c));
        CHECK(identical(one.s, two.s));
        // The first rows of a longer draw are those of a shorter one (chunks do not depend on n).
        for (std::size_t i = 0; i < 3000; ++i)
            for (std::size_t j = 0; j < D; ++j) REQUIRE(one.x(i, j) == xa(i, j));
    }
}
