// The `swiss_roll` manifold against closed forms and brute force: samples, projection,
// tangent bases, normal noise and quadrature of the parameter-space law.
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
    }
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
