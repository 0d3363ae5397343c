// The `circle` manifold against closed forms: samples on M, exact projection and distance,
// the isometric embedding, reproducibility, uniformity, intrinsic coordinates, the von Mises
// density, quadrature, tangent bases and normal noise.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "circle_sphere_checks.hpp"

TEST_CASE("circle: specification and parameters", "[manifold][circle]") {
    mdlab::test::TestContext ctx(42);
    auto c = prepared("circle", R"({"ambient_dim": 8, "radius": 2.5})", ctx);
    CHECK(c->ambient_dim() == 8);
    CHECK(c->intrinsic_dim() == 1);
    auto d = prepared("circle", "{}", ctx);
    CHECK(d->ambient_dim() == 2);
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("circle", R"({"ambient_dim": 1})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("circle", R"({"radius": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("circle", R"({"radius": -1})"));
}

TEST_CASE("circle, embedding = coordinate: the circle of the (x_1, x_2) plane, angle atan2(x_2, x_1)", "[manifold][circle]") {
    mdlab::test::TestContext ctx(42);
    auto c = prepared("circle", R"({"ambient_dim": 5, "radius": 1.5, "embedding": "coordinate", "density": "von_mises"})", ctx);
    const Matrix x = c->sample(2000, ctx.stream("data"));
    const Matrix a = c->intrinsic_coords(x);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        CHECK(std::hypot(x(i, 0), x(i, 1)) == Approx(1.5).epsilon(1e-14));
        for (std::size_t k = 2; k < 5; ++k) CHECK(x(i, k) == 0.0);
        double angle = std::atan2(x(i, 1), x(i, 0));
        if (angle < 0) angle += two_pi;
        CHECK(a(i, 0) == Approx(angle).margin(1e-12));
    }
    // The quadrature's first node is angle 0: on the x_1 axis.
    const mdlab::Quadrature q = c->quadrature(16);
    CHECK(q.nodes(0, 0) == Approx(1.5).epsilon(1e-15));
    CHECK(q.nodes(0, 1) == 0.0);
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("circle", R"({"embedding": "diagonal"})"));
}

TEST_CASE("circle: samples lie on M, uniformly in the angle", "[manifold][circle]") {
    const double r = 2.5;
    const std::size_t D = 8;
    mdlab::test::TestContext ctx(42);
    auto c = prepared("circle", R"({"ambient_dim": 8, "radius": 2.5})", ctx);
    const Matrix x = c->sample(20000, ctx.stream("data"));
    REQUIRE(mdlab::rows(x) == 20000);
    REQUIRE(mdlab::cols(x) == D);

    const Vector d = c->distance(x);
    double worst = 0.0, worst_radius = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        worst = std::max(worst, d(i));
        worst_radius = std::max(worst_radius, std::abs(row_norm(x, i) - r));
    }
    CHECK(worst < 1e-12);
    CHECK(worst_radius < 1e-12);

    // The samples lie in the plane of the documented embedding.
    const mdlab::Isometry q = embedding_of(ctx, D, 2);
    const Matrix back = q.embed(q.coords(x));
    CHECK(max_abs_diff(back, x) < 1e-12);

    // Uniform angle: chi-square over 20 bins at this fixed seed.
    const Matrix a = c->intrinsic_coords(x);
    REQUIRE(mdlab::cols(a) == 1);
    std::vector<double> angles(a.data(), a.data() + a.size());
    const double chi2 = chi_square_uniform(angles, 0.0, two_pi, 20);
    INFO("chi-square = " << chi2);
    CHECK(chi2 < chi2_19_999);
    // ... and the first two moments of the angle: mean pi, variance (2 pi)^2 / 12.
    double mean = 0.0, var = 0.0;
    for (double v : angles) mean += v;
    mean /= static_cast<double>(angles.size());
    for (double v : angles) var += (v - mean) * (v - mean);
    var /= static_cast<double>(angles.size() - 1);
    const double se_mean = std::sqrt(two_pi * two_pi / 12.0 / static_cast<double>(angles.size()));
    CHECK(std::abs(mean - pi) < 5.0 * se_mean);
    CHECK(std::abs(var / (two_pi * two_pi / 12.0) - 1.0) < 0.03);
}

TEST_CASE("circle: embedding is isometric with orthonormal columns", "[manifold][circle]") {
    const double r = 1.7;
    mdlab::test::TestContext ctx(7, "node_a");
    auto c = prepared("circle", R"({"ambient_dim": 6, "radius": 1.7})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, 6, 2);
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 2; ++j) {
            double dot = 0.0;
            for (std::size_t a = 0; a < 6; ++a) dot += q.matrix()(a, i) * q.matrix()(a, j);
            CHECK(std::abs(dot - (i == j ? 1.0 : 0.0)) < 1e-14);
        }
    // Chord lengths between samples are 2 r sin(|dtheta| / 2), whatever the embedding.
    const Matrix x = c->sample(300, ctx.stream("data"));
    const Matrix a = c->intrinsic_coords(x);
    double worst = 0.0;
    for (std::size_t i = 0; i < 300; ++i)
        for (std::size_t k = i + 1; k < 300; ++k) {
            const double chord = 2.0 * r * std::abs(std::sin(0.5 * (a(i, 0) - a(k, 0))));
            worst = std::max(worst, std::abs(row_dist(x, i, x, k) - chord));
        }
    CHECK(worst < 1e-12);
}

TEST_CASE("circle: intrinsic coordinates of explicit points", "[manifold][circle]") {
    const double r = 2.0;
    mdlab::test::TestContext ctx(3);
    auto c = prepared("circle", R"({"ambient_dim": 5, "radius": 2.0})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, 5, 2);
    const std::vector<double> angles = {0.0, 0.3, pi / 2, 2.0, pi, 4.0, 3 * pi / 2, 6.2, two_pi - 1e-9};
    Matrix z = Matrix::from_shape({angles.size(), 2});
    for (std::size_t i = 0; i < angles.size(); ++i) {
        z(i, 0) = r * std::cos(angles[i]);
        z(i, 1) = r * std::sin(angles[i]);
    }
    const Matrix x = q.embed(z);
    const Matrix a = c->intrinsic_coords(x);
    for (std::size_t i = 0; i < angles.size(); ++i) {
        INFO("angle " << angles[i]);
        CHECK(std::abs(a(i, 0) - angles[i]) < 1e-12);
        CHECK(a(i, 0) >= 0.0);
        CHECK(a(i, 0) < two_pi);
    }
    // Off M the coordinate is that of the nearest point (scaling z keeps the angle).
    Matrix far = x * 3.0;
    CHECK(max_abs_diff(c->intrinsic_coords(far), a) < 1e-12);
    // Just below angle 0 (a tiny negative atan2) the coordinate wraps into [0, 2 pi).
    CHECK(mdlab::angle_0_2pi(-1e-300, 1.0) == 0.0);
    CHECK(mdlab::angle_0_2pi(-1e-3, 1.0) == Approx(two_pi - std::atan(1e-3)).epsilon(1e-15));
    CHECK(mdlab::angle_0_2pi(0.0, -1.0) == Approx(pi).epsilon(1e-15));
}

TEST_CASE("circle: projection is exact, idempotent, and gives the distance", "[manifold][circle]") {
    const double r = 2.0;
    const std::size_t D = 8;
    mdlab::test::TestContext ctx(11);
    auto c = prepared("circle", R"({"ambient_dim": 8, "radius": 2.0})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, 2);

    // Far points, near points (samples plus a small offset) and points near the centre.
    Matrix x = gaussian_points(60, D, 3.0, 99);
    const Matrix near = c->sample(20, ctx.stream("near"));
    const Matrix offset = gaussian_points(20, D, 0.05, 100);
    for (std::size_t i = 0; i < 20; ++i)
        for (std::size_t j = 0; j < D; ++j) x(i, j) = near(i, j) + offset(i, j);
    for (std::size_t i = 20; i < 30; ++i)
        for (std::size_t j = 0; j < D; ++j) x(i, j) *= 0.05;

    const Matrix p = c->project(x);
    const Vector dp = c->distance(p);
    const Matrix pp = c->project(p);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        CHECK(dp(i) < 1e-12);
        CHECK(std::abs(row_norm(p, i) - r) < 1e-12);
    }
    CHECK(max_abs_diff(pp, p) < 1e-12);

    // distance(x) = |x - project(x)|, and no point of a dense grid on M is closer.
    const Vector d = c->distance(x);
    const std::size_t grid = 100000;
    Matrix zg = Matrix::from_shape({grid, 2});
    for (std::size_t g = 0; g < grid; ++g) {
        const double th = two_pi * static_cast<double>(g) / static_cast<double>(grid);
        zg(g, 0) = r * std::cos(th);
        zg(g, 1) = r * std::sin(th);
    }
    const Matrix mg = q.embed(zg);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        const double via_p = row_dist(x, i, p, i);
        CHECK(std::abs(d(i) - via_p) < 1e-12 * std::max(1.0, d(i)));
        double brute = std::numeric_limits<double>::infinity();
        for (std::size_t g = 0; g < grid; ++g) brute = std::min(brute, row_dist(x, i, mg, g));
        INFO("point " << i << ": distance " << d(i) << ", brute force " << brute);
        CHECK(d(i) <= brute + 1e-12);
        CHECK(brute - d(i) < 1e-6);
    }

    // The centre and a point of the normal space through it: every point of M is nearest and
    // the distance is sqrt(|x|^2 + r^2). At exactly z = Q^T x = 0 the plugin picks Q (r, 0); the
    // normal-space point has z ~ 1e-16 from rounding, so any point of M is a right answer.
    Matrix v = gaussian_points(1, D, 1.0, 5);
    const Matrix vz = q.coords(v);
    v = v - q.embed(vz);
    Matrix zero_centre = Matrix::from_shape({2, D});
    for (std::size_t j = 0; j < D; ++j) {
        zero_centre(0, j) = 0.0;
        zero_centre(1, j) = v(0, j);
    }
    const Matrix pc = c->project(zero_centre);
    Matrix e1 = Matrix::from_shape({1, 2});
    e1(0, 0) = r;
    e1(0, 1) = 0.0;
    const Matrix expected = q.embed(e1);
    for (std::size_t j = 0; j < D; ++j) CHECK(std::abs(pc(0, j) - expected(0, j)) < 1e-14);
    CHECK(std::abs(row_norm(pc, 1) - r) < 1e-12);
    CHECK(c->distance(pc)(1) < 1e-12);
    const Vector dc = c->distance(zero_centre);
    CHECK(std::abs(dc(0) - r) < 1e-14);
    CHECK(std::abs(dc(1) - std::sqrt(row_norm(v, 0) * row_norm(v, 0) + r * r)) < 1e-12);
}

TEST_CASE("circle: distance is accurate very close to M", "[manifold][circle]") {
    const std::size_t D = 10;
    mdlab::test::TestContext ctx(5);
    auto c = prepared("circle", R"({"ambient_dim": 10})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, 2);
    const Matrix on = c->sample(50, ctx.stream("data"));
    // Offsets of length 1e-9 normal to the plane: the distance is 1e-9 to ~1e-7 relative error,
    // which a formula through |x|^2 - |z|^2 (absolute error ~1e-16 in the square) would miss.
    Matrix n = gaussian_points(50, D, 1.0, 8);
    n = n - q.embed(q.coords(n));
    Matrix x = on;
    for (std::size_t i = 0; i < 50; ++i) {
        const double s = 1e-9 / row_norm(n, i);
        for (std::size_t j = 0; j < D; ++j) x(i, j) += s * n(i, j);
    }
    const Vector d = c->distance(x);
    for (std::size_t i = 0; i < 50; ++i) CHECK(std::abs(d(i) - 1e-9) < 1e-15);
    // And the nearest point is the sample itself.
    CHECK(max_abs_diff(c->project(x), on) < 1e-14);
}

TEST_CASE("circle: reproducible by seed and node, and independent of the thread count", "[manifold][circle]") {
    const std::string json = R"({"ambient_dim": 8})";
    mdlab::test::TestContext a(42), b(42), other_seed(43), other_node(42, "other");
    const Matrix xa = prepared("circle", json, a)->sample(3000, a.stream("data"));
    const Matrix xb = prepared("circle", json, b)->sample(3000, b.stream("data"));
    CHECK(identical(xa, xb));
    const Matrix xs = prepared("circle", json, other_seed)->sample(3000, other_seed.stream("data"));
    CHECK(max_abs_diff(xa, xs) > 0.1);
    // Another node draws another embedding, even from the same data stream.
    auto cn = prepared("circle", json, other_node);
    const Matrix xn = cn->sample(3000, a.stream("data"));
    CHECK(max_abs_diff(xa, xn) > 0.1);

    Matrix x1, x2, p1, p2, a1, a2;
    Vector d1, d2;
    const Matrix probe = gaussian_points(5000, 8, 2.0, 17);
    auto c = prepared("circle", json, a);
    {
        tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        x1 = c->sample(5000, a.stream("data"));
        p1 = c->project(probe);
        d1 = c->distance(probe);
        a1 = c->intrinsic_coords(probe);
    }
    {
        tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
        x2 = c->sample(5000, a.stream("data"));
        p2 = c->project(probe);
        d2 = c->distance(probe);
        a2 = c->intrinsic_coords(probe);
    }
    CHECK(identical(x1, x2));
    CHECK(identical(p1, p2));
    CHECK(std::equal(d1.begin(), d1.end(), d2.begin()));
    CHECK(identical(a1, a2));
    // The first 3000 rows are those of the 3000-row draw: chunks do not depend on n.
    for (std::size_t i = 0; i < 3000; ++i)
        for (std::size_t j = 0; j < 8; ++j) REQUIRE(x1(i, j) == xa(i, j));
}

TEST_CASE("circle: the angle follows the density", "[manifold][circle][density]") {
    const std::size_t n = 20000;
    for (const std::string shape : {"uniform", "von_mises", "irregular"}) {
        INFO("density " << shape);
        mdlab::test::TestContext ctx(51);
        auto c = prepared("circle", R"({"ambient_dim": 5, "radius": 1.3, "kappa": 3.0, "mode": 0.3, "density": ")" + shape + "\"}",
                          ctx);
        const Matrix x = c->sample(n, ctx.stream("data"));
        const Vector d = c->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
        const Matrix a = c->intrinsic_coords(x);
        std::vector<double> u(n);
        for (std::size_t i = 0; i < n; ++i) u[i] = a(i, 0) / two_pi;
        const NumericCdf cdf([&](double v) { return coord_pdf(shape, 3.0, 0.3, v); }, 0.0, 1.0);
        const double ks = ks_statistic(u, cdf);
        INFO("KS " << ks << ", critical " << ks_critical(n));
        CHECK(ks < ks_critical(n));
        if (shape != "uniform") CHECK(ks_statistic(u, [](double v) { return v; }) > 2.0 * ks_critical(n));
    }
    // The uniform density draws exactly what the circle drew before it had densities: one
    // uniform per point, theta = 2 pi u.
    mdlab::test::TestContext ctx(52);
    auto c = prepared("circle", R"({"ambient_dim": 3})", ctx);
    const Matrix x = c->sample(10, ctx.stream("data"));
    const mdlab::Isometry q = embedding_of(ctx, 3, 2);
    mdlab::Rng rng = ctx.stream("data").chunk(0);
    for (std::size_t i = 0; i < 10; ++i) {
        const double th = two_pi * rng.uniform();
        const double z[2] = {std::cos(th), std::sin(th)};
        double y[3];
        q.embed_row(z, y);
        for (std::size_t j = 0; j < 3; ++j) CHECK(std::abs(y[j] - x(i, j)) < 1e-15);
    }
}

TEST_CASE("circle: quadrature integrates closed forms and agrees with Monte Carlo", "[manifold][circle][quadrature]") {
    const double r = 1.3, kappa = 3.0, mode = 0.3, mu = two_pi * mode;
    const double A1 = std::cyl_bessel_i(1.0, kappa) / std::cyl_bessel_i(0.0, kappa);
    mdlab::test::TestContext ctx(53);
    auto c = prepared("circle", R"({"ambient_dim": 5, "radius": 1.3, "density": "von_mises", "kappa": 3.0, "mode": 0.3})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, 5, 2);
    const mdlab::Quadrature quad = c->quadrature(48);
    check_weights(quad, 48, *c);
    // E|x|^2 = r^2; E z = r A1(kappa) (cos mu, sin mu) with A1 = I1 / I0 (z = Q^T x): the periodic
    // trapezoidal rule is spectrally accurate for the analytic von Mises density.
    CHECK(std::abs(quad_mean(quad, [&](const double* x) { return dot(x, x, 5); }) - r * r) < 1e-13);
    const Matrix z = q.coords(quad.nodes);
    double ez1 = 0.0, ez2 = 0.0;
    for (std::size_t i = 0; i < 48; ++i) ez1 += quad.weights(i) * z(i, 0), ez2 += quad.weights(i) * z(i, 1);
    CHECK(std::abs(ez1 - r * A1 * std::cos(mu)) < 1e-13);
    CHECK(std::abs(ez2 - r * A1 * std::sin(mu)) < 1e-13);
    // Monte Carlo: v.x and (v.x)^2 within 4 standard errors.
    const std::size_t n = 20000;
    const Matrix xs = c->sample(n, ctx.stream("data"));
    const std::vector<double> v = unit_vector(5, 3);
    for (int power : {1, 2}) {
        std::vector<double> f(n);
        for (std::size_t i = 0; i < n; ++i) f[i] = std::pow(dot(mdlab::row(xs, i), v.data(), 5), power);
        const auto [mc, se] = mean_se(f);
        const double qm = quad_mean(quad, [&](const double* x) { return std::pow(dot(x, v.data(), 5), power); });
        INFO("power " << power << ": Monte Carlo " << mc << " +- " << se << ", quadrature " << qm);
        CHECK(std::abs(mc - qm) < 4.0 * se);
    }
    // Irregular density: E|sin theta| = (1 + pi) / (pi/2 + 4); its kinks make the rule second order.
    auto ci = prepared("circle", R"({"ambient_dim": 5, "density": "irregular"})", ctx);
    const double exact = (1.0 + pi) / (pi / 2.0 + 4.0);
    std::vector<double> err;
    for (std::size_t res : {32, 64, 128, 256}) {
        const mdlab::Quadrature qi = ci->quadrature(res);
        check_weights(qi, res, *ci);
        const Matrix zi = q.coords(qi.nodes);
        double e = 0.0;
        for (std::size_t i = 0; i < res; ++i) e += qi.weights(i) * std::abs(zi(i, 1));
        err.push_back(std::abs(e - exact));
    }
    for (std::size_t i = 0; i + 1 < err.size(); ++i) {
        const double order = std::log2(err[i] / err[i + 1]);
        INFO("errors " << err[i] << " -> " << err[i + 1] << ", order " << order);
        CHECK(order > 1.8);
        CHECK(order < 2.2);
    }
    CHECK_THROWS_AS(c->quadrature(0), mdlab::InputError);
}

TEST_CASE("circle: tangent bases match the parametrisation", "[manifold][circle]") {
    const double r = 1.3;
    const std::size_t D = 5;
    mdlab::test::TestContext ctx(54);
    auto c = prepared("circle", R"({"ambient_dim": 5, "radius": 1.3})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, 2);
    const Matrix x = c->sample(300, ctx.stream("data"));
    const Matrix a = c->intrinsic_coords(x);
    mdlab::TangentBases tb;
    c->tangent_bases(x, tb);
    REQUIRE(tb.shape()[0] == 300);
    REQUIRE(tb.shape()[1] == D);
    REQUIRE(tb.shape()[2] == 1);
    const double h = 1e-5;
    double worst_unit = 0.0, worst_radial = 0.0, worst_fd = 0.0;
    for (std::size_t i = 0; i < 300; ++i) {
        double s = 0.0, rad = 0.0;
        for (std::size_t j = 0; j < D; ++j) s += tb(i, j, 0) * tb(i, j, 0), rad += tb(i, j, 0) * x(i, j);
        worst_unit = std::max(worst_unit, std::abs(s - 1.0));
        worst_radial = std::max(worst_radial, std::abs(rad));
        const double zp[2] = {r * std::cos(a(i, 0) + h), r * std::sin(a(i, 0) + h)};
        const double zm[2] = {r * std::cos(a(i, 0) - h), r * std::sin(a(i, 0) - h)};
        std::vector<double> xp(D), xm(D), fd(D);
        q.embed_row(zp, xp.data());
        q.embed_row(zm, xm.data());
        for (std::size_t j = 0; j < D; ++j) fd[j] = xp[j] - xm[j];
        const double nf = norm(fd);
        for (std::size_t j = 0; j < D; ++j) worst_fd = std::max(worst_fd, std::abs(fd[j] / nf - tb(i, j, 0)));
    }
    CHECK(worst_unit < 1e-14);
    CHECK(worst_radial < 1e-14);
    CHECK(worst_fd < 1e-8);
    CHECK_THROWS_AS(c->tangent_bases(Matrix::from_shape({3, 4}), tb), mdlab::InputError);
}

TEST_CASE("circle: normal noise has the right scale and is normal to M", "[manifold][circle][noise]") {
    check_normal_noise("circle", R"({"ambient_dim": 6, "radius": 1.3})",
                       R"({"ambient_dim": 6, "radius": 1.3, "noise": 0.001})", 1e-3, 5);
    check_normal_noise("circle", R"({"ambient_dim": 2, "density": "irregular"})",
                       R"({"ambient_dim": 2, "density": "irregular", "noise": 0.001})", 1e-3, 1);
}
