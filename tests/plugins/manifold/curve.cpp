// The `curve` manifold against closed forms and independent computations.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "torus_curve_checks.hpp"

// ============================================================================================
// curve
// ============================================================================================

TEST_CASE("curve: specification and parameters", "[manifold][curve]") {
    mdlab::test::TestContext ctx(3);
    auto c = prepared("curve", "{}", ctx);
    CHECK(c->ambient_dim() == 3);
    CHECK(c->intrinsic_dim() == 1);
    try {
        mdlab::test::make<mdlab::Manifold>("curve", R"({"ambient_dim": 3, "curve_dim": 4})");
        FAIL("curve_dim > ambient_dim was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "ambient_dim");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("ambient_dim"));
    }
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("curve", R"({"beta": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("curve", R"({"modes": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("curve", R"({"curve_dim": 1})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("curve", R"({"radius": 0})"));
    CHECK_THROWS_AS(c->distance(Matrix::from_shape({2, 4})), mdlab::InputError);
}

TEST_CASE("curve: samples follow the documented formula and lie on M", "[manifold][curve]") {
    mdlab::test::TestContext ctx(5);
    auto c = prepared("curve", curve_params(), ctx);
    const CurveModel model(ctx, 6, 3, 16, 1.5, 1.0);
    const Matrix x = c->sample(3000, ctx.stream("data"));
    REQUIRE(mdlab::cols(x) == 6);
    const Vector d = c->distance(x);
    CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
    CHECK(max_abs_diff(c->project(x), x) < 1e-12);
    const Matrix th = c->intrinsic_coords(x);
    REQUIRE(mdlab::cols(th) == 1);
    double worst = 0.0;
    for (std::size_t i = 0; i < 3000; ++i) {
        REQUIRE(th(i, 0) >= 0.0);
        REQUIRE(th(i, 0) < two_pi);
        const std::vector<double> y = model.point(th(i, 0));
        for (std::size_t j = 0; j < 6; ++j) worst = std::max(worst, std::abs(y[j] - x(i, j)));
    }
    CHECK(worst < 1e-12);
    // The scale: (1/2pi) int |gamma|^2 = radius^2, by the trapezoidal rule (exact for a
    // trigonometric polynomial of degree 2J with more than 2J nodes), and the centroid is 0.
    double m2 = 0.0;
    std::vector<double> centroid(6, 0.0);
    for (std::size_t i = 0; i < 64; ++i) {
        const std::vector<double> y = model.point(two_pi * double(i) / 64.0);
        m2 += dot(y.data(), y.data(), 6) / 64.0;
        for (std::size_t j = 0; j < 6; ++j) centroid[j] += y[j] / 64.0;
    }
    CHECK(std::abs(m2 - 1.0) < 1e-13);
    CHECK(norm(centroid) < 1e-14);
    // Another seed draws another curve.
    mdlab::test::TestContext other(6);
    auto c2 = prepared("curve", curve_params(), other);
    CHECK(max_abs_diff(c2->sample(100, ctx.stream("data")), c->sample(100, ctx.stream("data"))) > 0.1);
}

TEST_CASE("curve: projection is optimal, idempotent and gives the distance", "[manifold][curve]") {
    const std::size_t D = 6;
    mdlab::test::TestContext ctx(7);
    auto c = prepared("curve", curve_params(), ctx);
    const CurveModel model(ctx, D, 3, 16, 1.5, 1.0);
    const Matrix x = gaussian_points(40, D, 0.8, 12);
    const Matrix p = c->project(x);
    const Vector d = c->distance(x);
    const Matrix th = c->intrinsic_coords(x);
    CHECK(max_abs_diff(c->project(p), p) < 1e-12);
    const Vector dp = c->distance(p);
    CHECK(*std::max_element(dp.begin(), dp.end()) < 1e-12);

    // Brute force over G points of the curve: the nearest of them is within L h / 2 of the
    // nearest point (L = max |gamma'|), so exact <= brute <= exact + L h / 2.
    const std::size_t G = 100000;
    const double h = two_pi / double(G);
    Matrix grid = Matrix::from_shape({G, D});
    double L = 0.0;
    for (std::size_t g = 0; g < G; ++g) {
        const std::vector<double> y = model.point(h * double(g));
        std::copy(y.begin(), y.end(), mdlab::row(grid, g));
        L = std::max(L, norm(model.gamma(h * double(g), 1)));
    }
    for (std::size_t i = 0; i < 40; ++i) {
        CHECK(std::abs(d(i) - row_dist(x, i, p, i)) < 1e-12);
        // p is gamma(theta) of the reported coordinate, and x - p is normal to the curve there
        // (first-order optimality, to rounding).
        const std::vector<double> y = model.point(th(i, 0));
        for (std::size_t j = 0; j < D; ++j) CHECK(std::abs(y[j] - p(i, j)) < 1e-12);
        std::vector<double> tz = model.gamma(th(i, 0), 1), t(D), r(D);
        model.q.embed_row(tz.data(), t.data());
        for (std::size_t j = 0; j < D; ++j) r[j] = x(i, j) - p(i, j);
        CHECK(std::abs(dot(r.data(), t.data(), D)) / norm(t) < 1e-11 * (1.0 + d(i)));
        double brute = std::numeric_limits<double>::infinity();
        for (std::size_t g = 0; g < G; ++g) brute = std::min(brute, row_dist(x, i, grid, g));
        INFO("point " << i << ": distance " << d(i) << ", brute force " << brute << ", L h / 2 = " << L * h / 2);
        CHECK(d(i) <= brute + 1e-12);
        CHECK(brute - d(i) <= L * h / 2 + 1e-12);
    }

    // Points pushed off M along a normal direction by eps project back onto their foot point.
    const Matrix on = c->sample(200, ctx.stream("data"));
    mdlab::TangentBases tb;
    c->tangent_bases(on, tb);
    Matrix off = on;
    const Matrix g = gaussian_points(200, D, 1.0, 13);
    const double eps = 1e-4;
    for (std::size_t i = 0; i < 200; ++i) {
        std::vector<double> v(D);
        double tv = 0.0;
        for (std::size_t j = 0; j < D; ++j) tv += tb(i, j, 0) * g(i, j);
        for (std::size_t j = 0; j < D; ++j) v[j] = g(i, j) - tv * tb(i, j, 0);
        const double nv = norm(v);
        for (std::size_t j = 0; j < D; ++j) off(i, j) += eps * v[j] / nv;
    }
    CHECK(max_abs_diff(c->project(off), on) < 1e-11);
    const Vector doff = c->distance(off);
    for (std::size_t i = 0; i < 200; ++i) CHECK(std::abs(doff(i) - eps) < 1e-13);
}

TEST_CASE("curve: the parameter follows the density", "[manifold][curve]") {
    const std::size_t n = 20000;
    for (const std::string shape : {"uniform", "von_mises", "irregular"}) {
        INFO("density " << shape);
        mdlab::test::TestContext ctx(9);
        auto c = prepared("curve", curve_params(", \"density\": \"" + shape + "\", \"kappa\": 3.0, \"mode\": 0.8"), ctx);
        const Matrix th = c->intrinsic_coords(c->sample(n, ctx.stream("data")));
        std::vector<double> u(n);
        for (std::size_t i = 0; i < n; ++i) u[i] = th(i, 0) / two_pi;
        const NumericCdf cdf([&](double v) { return coord_pdf(shape, 3.0, 0.8, v); }, 0.0, 1.0);
        const double ks = ks_statistic(u, cdf);
        INFO("KS " << ks << ", critical " << ks_critical(n));
        CHECK(ks < ks_critical(n));
        if (shape != "uniform") CHECK(ks_statistic(u, [](double v) { return v; }) > 2.0 * ks_critical(n));
    }
}

TEST_CASE("curve: quadrature weights are the theta density, not arc length", "[manifold][curve][quadrature]") {
    const std::size_t D = 6;
    mdlab::test::TestContext ctx(10);
    auto cu = prepared("curve", curve_params(), ctx);
    const CurveModel model(ctx, D, 3, 16, 1.5, 1.0);
    // Uniform: E|x|^2 = radius^2 and E x = 0 exactly once there are more than 2J nodes.
    const mdlab::Quadrature q = cu->quadrature(40);
    REQUIRE(mdlab::rows(q.nodes) == 40);
    double wsum = 0.0;
    for (double w : q.weights) wsum += w;
    CHECK(std::abs(wsum - 1.0) < 1e-14);
    const Vector dq = cu->distance(q.nodes);
    CHECK(*std::max_element(dq.begin(), dq.end()) < 1e-12);
    CHECK(std::abs(quad_mean(q, [&](const double* x) { return dot(x, x, D); }) - 1.0) < 1e-13);
    for (std::size_t j = 0; j < D; ++j) CHECK(std::abs(quad_mean(q, [&](const double* x) { return x[j]; })) < 1e-14);

    // von Mises: spectral convergence (64 nodes agree with 2048 to rounding), agreement with an
    // independent evaluation through the rebuilt curve, and with Monte Carlo.
    auto cv = prepared("curve", curve_params(", \"density\": \"von_mises\", \"kappa\": 3.0, \"mode\": 0.8"), ctx);
    const std::vector<double> v = unit_vector(D, 4);
    auto f = [&](const double* x) { return dot(x, v.data(), D) + 0.5 * dot(x, x, D); };
    const double q64 = quad_mean(cv->quadrature(64), f), q2048 = quad_mean(cv->quadrature(2048), f);
    CHECK(std::abs(q64 - q2048) < 1e-12);
    double indep = 0.0, norm_p = 0.0, arc = 0.0, norm_arc = 0.0;
    for (std::size_t i = 0; i < 3000; ++i) {
        const double u = (double(i) + 0.5) / 3000.0;  // midpoint rule: another node set
        const double p = coord_pdf("von_mises", 3.0, 0.8, u);
        const std::vector<double> y = model.point(two_pi * u);
        const double speed = norm(model.gamma(two_pi * u, 1));
        indep += p * f(y.data());
        norm_p += p;
        arc += p * speed * f(y.data());
        norm_arc += p * speed;
    }
    indep /= norm_p;
    arc /= norm_arc;
    CHECK(std::abs(q2048 - indep) < 1e-12);
    const std::size_t n = 20000;
    const Matrix xs = cv->sample(n, ctx.stream("data"));
    std::vector<double> fs(n);
    for (std::size_t i = 0; i < n; ++i) fs[i] = f(mdlab::row(xs, i));
    const auto [mc, se] = mean_se(fs);
    INFO("Monte Carlo " << mc << " +- " << se << ", quadrature " << q2048 << ", arc-length weighting " << arc);
    CHECK(std::abs(mc - q2048) < 4.0 * se);
    // The arc-length-weighted rule would be a different (wrong) law, and the data can tell.
    CHECK(std::abs(mc - arc) > 8.0 * se);
}

TEST_CASE("curve: tangent bases are unit vectors along gamma'", "[manifold][curve]") {
    const std::size_t D = 6;
    mdlab::test::TestContext ctx(14);
    auto c = prepared("curve", curve_params(), ctx);
    const CurveModel model(ctx, D, 3, 16, 1.5, 1.0);
    const Matrix x = c->sample(300, ctx.stream("data"));
    const Matrix th = c->intrinsic_coords(x);
    mdlab::TangentBases tb;
    c->tangent_bases(x, tb);
    REQUIRE(tb.shape()[0] == 300);
    REQUIRE(tb.shape()[1] == D);
    REQUIRE(tb.shape()[2] == 1);
    const double h = 1e-5;
    double worst_unit = 0.0, worst_fd = 0.0;
    for (std::size_t i = 0; i < 300; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < D; ++j) s += tb(i, j, 0) * tb(i, j, 0);
        worst_unit = std::max(worst_unit, std::abs(s - 1.0));
        const std::vector<double> xp = model.point(th(i, 0) + h), xm = model.point(th(i, 0) - h);
        std::vector<double> fd(D);
        for (std::size_t j = 0; j < D; ++j) fd[j] = xp[j] - xm[j];
        const double nf = norm(fd);
        for (std::size_t j = 0; j < D; ++j) worst_fd = std::max(worst_fd, std::abs(fd[j] / nf - tb(i, j, 0)));
    }
    CHECK(worst_unit < 1e-14);
    CHECK(worst_fd < 1e-8);
}

TEST_CASE("curve: normal noise has the right scale and is normal to M", "[manifold][curve][noise]") {
    check_normal_noise("curve", R"({"ambient_dim": 5, "curve_dim": 3})",
                       R"({"ambient_dim": 5, "curve_dim": 3, "noise": 0.0001})", 1e-4, 4, 1e-11);
}

TEST_CASE("curve: reproducible by seed and independent of the thread count", "[manifold][curve]") {
    const std::string json = curve_params(", \"density\": \"von_mises\", \"noise\": 0.001");
    mdlab::test::TestContext a(42), b(42);
    auto ca = prepared("curve", json, a);
    const Matrix xa = ca->sample(3000, a.stream("data"));
    CHECK(identical(xa, prepared("curve", json, b)->sample(3000, b.stream("data"))));
    const Matrix probe = gaussian_points(2000, 6, 1.0, 8);
    Matrix x[2], p[2], c[2], qn[2];
    Vector d[2], qw[2];
    mdlab::TangentBases tb[2];
    for (int threads : {1, 2}) {
        tbb::task_arena arena(threads);
        arena.execute([&] {
            const int i = threads - 1;
            x[i] = ca->sample(3000, a.stream("data"));
            p[i] = ca->project(probe);
            d[i] = ca->distance(probe);
            c[i] = ca->intrinsic_coords(probe);
            ca->tangent_bases(probe, tb[i]);
            const mdlab::Quadrature q = ca->quadrature(100);
            qn[i] = q.nodes;
            qw[i] = q.weights;
        });
    }
    CHECK(identical(x[0], x[1]));
    CHECK(identical(x[0], xa));
    CHECK(identical(p[0], p[1]));
    CHECK(identical(d[0], d[1]));
    CHECK(identical(c[0], c[1]));
    CHECK(identical(tb[0], tb[1]));
    CHECK(identical(qn[0], qn[1]));
    CHECK(identical(qw[0], qw[1]));
}
