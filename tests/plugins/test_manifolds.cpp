// The built-in manifolds `circle` and `sphere` against closed forms: samples on M, exact
// projection and distance (checked against brute force over dense point sets of M), the
// isometric embedding, reproducibility (seed, node, thread count), uniformity (chi-square at a
// fixed seed) and intrinsic coordinates; the densities (von Mises on the circle's angle,
// von Mises-Fisher and irregular on the sphere: Kolmogorov-Smirnov at the 0.1% level and
// Bessel-function moments), quadrature rules (closed forms, convergence orders, Monte Carlo),
// tangent bases (finite differences of the parametrisation) and normal noise.
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

namespace {

using mdlab::Matrix;
using mdlab::Vector;
using namespace mdlab::test;  // the helpers of manifold_check.hpp

double row_norm(const Matrix& x, std::size_t i) {
    double s = 0.0;
    for (std::size_t j = 0; j < mdlab::cols(x); ++j) s += x(i, j) * x(i, j);
    return std::sqrt(s);
}

// Pearson chi-square statistic of values against the uniform law on [lo, hi) with `bins` bins.
double chi_square_uniform(const std::vector<double>& v, double lo, double hi, std::size_t bins) {
    std::vector<double> count(bins, 0.0);
    for (double x : v) {
        REQUIRE(x >= lo);
        REQUIRE(x <= hi);
        std::size_t b = static_cast<std::size_t>((x - lo) / (hi - lo) * static_cast<double>(bins));
        count[std::min(b, bins - 1)] += 1.0;
    }
    const double expected = static_cast<double>(v.size()) / static_cast<double>(bins);
    double chi2 = 0.0;
    for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
    return chi2;
}

// Unit vector in R^{k+1} with hyperspherical angles th (th_1..th_{k-1} polar, th_k azimuthal).
std::vector<double> from_angles(const std::vector<double>& th) {
    const std::size_t k = th.size();
    std::vector<double> y(k + 1);
    double s = 1.0;
    for (std::size_t i = 0; i < k; ++i) {
        y[i] = s * std::cos(th[i]);
        s *= std::sin(th[i]);
    }
    y[k] = s;
    return y;
}

}  // namespace

TEST_CASE("Isometry::random has orthonormal columns and is reproducible", "[manifold][embedding]") {
    for (auto [D, m] : {std::pair<std::size_t, std::size_t>{2, 2}, {8, 2}, {3, 3}, {50, 4}, {7, 1}}) {
        mdlab::Rng rng(123 + D), rng2(123 + D);
        const mdlab::Isometry q = mdlab::Isometry::random(D, m, rng);
        const mdlab::Isometry q2 = mdlab::Isometry::random(D, m, rng2);
        REQUIRE(q.ambient_dim() == D);
        REQUIRE(q.dim() == m);
        CHECK(identical(q.matrix(), q2.matrix()));
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < m; ++j) {
                double dot = 0.0;
                for (std::size_t a = 0; a < D; ++a) dot += q.matrix()(a, i) * q.matrix()(a, j);
                CHECK(std::abs(dot - (i == j ? 1.0 : 0.0)) < 1e-14);
            }
        // coords(embed(z)) = z, and embed preserves norms.
        const Matrix z = gaussian_points(20, m, 1.0, 5);
        const Matrix x = q.embed(z);
        CHECK(max_abs_diff(q.coords(x), z) < 1e-13);
        for (std::size_t i = 0; i < 20; ++i) CHECK(std::abs(row_norm(x, i) - row_norm(z, i)) < 1e-13);
    }
}

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

TEST_CASE("sphere: specification and parameters", "[manifold][sphere]") {
    mdlab::test::TestContext ctx(42);
    auto s = prepared("sphere", "{}", ctx);
    CHECK(s->ambient_dim() == 3);
    CHECK(s->intrinsic_dim() == 2);
    auto s4 = prepared("sphere", R"({"k": 4, "ambient_dim": 9})", ctx);
    CHECK(s4->ambient_dim() == 9);
    CHECK(s4->intrinsic_dim() == 4);
    // ambient_dim = k + 1 is allowed, k + 1 > ambient_dim is not.
    CHECK_NOTHROW(mdlab::test::make<mdlab::Manifold>("sphere", R"({"k": 3, "ambient_dim": 4})"));
    CHECK_THROWS_WITH(mdlab::test::make<mdlab::Manifold>("sphere", R"({"k": 3, "ambient_dim": 3})"),
                      Catch::Contains("ambient_dim"));
    CHECK_THROWS_WITH(mdlab::test::make<mdlab::Manifold>("sphere", R"({"k": 2, "ambient_dim": 2})"),
                      Catch::Contains("ambient_dim"));
    try {
        mdlab::test::make<mdlab::Manifold>("sphere", R"({"k": 5, "ambient_dim": 4})");
        FAIL("ambient_dim < k + 1 was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "ambient_dim");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("ambient_dim"));
    }
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("sphere", R"({"k": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("sphere", R"({"radius": 0})"));
}

TEST_CASE("sphere: samples lie on M and are uniform", "[manifold][sphere]") {
    const double r = 1.5;
    const std::size_t D = 6;
    mdlab::test::TestContext ctx(42);
    auto s = prepared("sphere", R"({"k": 2, "ambient_dim": 6, "radius": 1.5})", ctx);
    const Matrix x = s->sample(20000, ctx.stream("data"));
    REQUIRE(mdlab::cols(x) == D);
    const Vector d = s->distance(x);
    double worst = 0.0, worst_radius = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        worst = std::max(worst, d(i));
        worst_radius = std::max(worst_radius, std::abs(row_norm(x, i) - r));
    }
    CHECK(worst < 1e-12);
    CHECK(worst_radius < 1e-12);
    const mdlab::Isometry q = embedding_of(ctx, D, 3);
    CHECK(max_abs_diff(q.embed(q.coords(x)), x) < 1e-12);

    // Archimedes: cos(theta_1) is uniform on [-1, 1]; the azimuth is uniform on [0, 2 pi).
    const Matrix th = s->intrinsic_coords(x);
    REQUIRE(mdlab::cols(th) == 2);
    std::vector<double> c1, phi;
    for (std::size_t i = 0; i < mdlab::rows(th); ++i) {
        REQUIRE(th(i, 0) >= 0.0);
        REQUIRE(th(i, 0) <= pi);
        c1.push_back(std::cos(th(i, 0)));
        phi.push_back(th(i, 1));
    }
    const double chi_cos = chi_square_uniform(c1, -1.0, 1.0, 20);
    const double chi_phi = chi_square_uniform(phi, 0.0, two_pi, 20);
    INFO("chi-square cos(theta_1) = " << chi_cos << ", azimuth = " << chi_phi);
    CHECK(chi_cos < chi2_19_999);
    CHECK(chi_phi < chi2_19_999);
    // theta_1 itself is not uniform on [0, pi] (density sin / 2): the test can tell.
    std::vector<double> t1;
    for (std::size_t i = 0; i < mdlab::rows(th); ++i) t1.push_back(th(i, 0));
    CHECK(chi_square_uniform(t1, 0.0, pi, 20) > 10.0 * chi2_19_999);
}

TEST_CASE("sphere: S^3 samples have uniform coordinate marginals", "[manifold][sphere]") {
    // On S^k in R^{k+1}, the coordinate y_1 / r has density proportional to (1 - u^2)^{(k-2)/2};
    // for k = 3 that is (2/pi) sqrt(1 - u^2). Test E[u^2] = 1 / (k + 1) and the mean 0.
    const std::size_t n = 40000;
    mdlab::test::TestContext ctx(9);
    auto s = prepared("sphere", R"({"k": 3, "ambient_dim": 7, "radius": 2.0})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, 7, 4);
    const Matrix y = q.coords(s->sample(n, ctx.stream("data")));
    for (std::size_t j = 0; j < 4; ++j) {
        double m1 = 0.0, m2 = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double u = y(i, j) / 2.0;
            m1 += u;
            m2 += u * u;
        }
        m1 /= static_cast<double>(n);
        m2 /= static_cast<double>(n);
        // Var(u) = 1/4, Var(u^2) = E[u^4] - 1/16 = 1/8 - 1/16 (E[u^4] = 3 / ((k+1)(k+3)) = 1/8).
        CHECK(std::abs(m1) < 5.0 * std::sqrt(0.25 / n));
        CHECK(std::abs(m2 - 0.25) < 5.0 * std::sqrt(1.0 / 16.0 / n));
    }
}

TEST_CASE("sphere: intrinsic coordinates of explicit points", "[manifold][sphere]") {
    mdlab::test::TestContext ctx(21);
    const double r = 0.7;
    SECTION("S^2") {
        auto s = prepared("sphere", R"({"k": 2, "ambient_dim": 5, "radius": 0.7})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, 5, 3);
        const std::vector<std::vector<double>> cases = {
            {0.4, 1.0}, {pi / 2, 0.0}, {pi / 2, pi}, {2.9, 5.5}, {1.0, 3 * pi / 2}, {pi / 3, 6.0}};
        for (const auto& th : cases) {
            const std::vector<double> y = from_angles(th);
            Matrix z = Matrix::from_shape({1, 3});
            for (std::size_t j = 0; j < 3; ++j) z(0, j) = r * y[j];
            const Matrix a = s->intrinsic_coords(q.embed(z));
            INFO("theta = (" << th[0] << ", " << th[1] << ")");
            CHECK(std::abs(a(0, 0) - th[0]) < 1e-12);
            CHECK(std::abs(a(0, 1) - th[1]) < 1e-12);
            // Scaling off M does not change the coordinates.
            const Matrix b = s->intrinsic_coords(q.embed(z * 4.0));
            CHECK(std::abs(b(0, 0) - th[0]) < 1e-12);
            CHECK(std::abs(b(0, 1) - th[1]) < 1e-12);
        }
        // The poles: theta_1 = 0 and pi (the azimuth is undefined there: rounding in Q^T x
        // leaves y_2, y_3 ~ 1e-17 of arbitrary signs).
        Matrix poles = Matrix::from_shape({2, 3});
        poles(0, 0) = r, poles(0, 1) = 0.0, poles(0, 2) = 0.0;
        poles(1, 0) = -r, poles(1, 1) = 0.0, poles(1, 2) = 0.0;
        const Matrix a = s->intrinsic_coords(q.embed(poles));
        CHECK(std::abs(a(0, 0)) < 1e-12);
        CHECK(std::abs(a(1, 0) - pi) < 1e-12);
    }
    SECTION("S^3") {
        auto s = prepared("sphere", R"({"k": 3, "ambient_dim": 6, "radius": 0.7})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, 6, 4);
        const std::vector<double> th = {0.3, 2.5, 4.4};
        const std::vector<double> y = from_angles(th);
        Matrix z = Matrix::from_shape({1, 4});
        for (std::size_t j = 0; j < 4; ++j) z(0, j) = r * y[j];
        const Matrix a = s->intrinsic_coords(q.embed(z));
        REQUIRE(mdlab::cols(a) == 3);
        for (std::size_t j = 0; j < 3; ++j) CHECK(std::abs(a(0, j) - th[j]) < 1e-12);
    }
    SECTION("S^1 agrees with the circle") {
        auto s = prepared("sphere", R"({"k": 1, "ambient_dim": 4, "radius": 0.7})", ctx);
        auto c = prepared("circle", R"({"ambient_dim": 4, "radius": 0.7})", ctx);
        const Matrix x = s->sample(500, ctx.stream("data"));
        CHECK(max_abs_diff(s->intrinsic_coords(x), c->intrinsic_coords(x)) < 1e-15);
        CHECK(max_abs_diff(s->project(x * 2.0), c->project(x * 2.0)) < 1e-15);
    }
}

TEST_CASE("sphere: embedding is isometric", "[manifold][sphere]") {
    // Chords between samples equal r |u - v| with u, v rebuilt from the intrinsic coordinates.
    const double r = 1.3;
    mdlab::test::TestContext ctx(4);
    auto s = prepared("sphere", R"({"k": 3, "ambient_dim": 10, "radius": 1.3})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, 10, 4);
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) {
            double dot = 0.0;
            for (std::size_t a = 0; a < 10; ++a) dot += q.matrix()(a, i) * q.matrix()(a, j);
            CHECK(std::abs(dot - (i == j ? 1.0 : 0.0)) < 1e-14);
        }
    const Matrix x = s->sample(200, ctx.stream("data"));
    const Matrix th = s->intrinsic_coords(x);
    std::vector<std::vector<double>> u;
    for (std::size_t i = 0; i < 200; ++i) u.push_back(from_angles({th(i, 0), th(i, 1), th(i, 2)}));
    double worst = 0.0;
    for (std::size_t i = 0; i < 200; ++i)
        for (std::size_t k = i + 1; k < 200; ++k) {
            double s2 = 0.0;
            for (std::size_t j = 0; j < 4; ++j) s2 += (u[i][j] - u[k][j]) * (u[i][j] - u[k][j]);
            worst = std::max(worst, std::abs(row_dist(x, i, x, k) - r * std::sqrt(s2)));
        }
    CHECK(worst < 1e-12);
}

TEST_CASE("sphere: projection is exact, idempotent, and gives the distance", "[manifold][sphere]") {
    const double r = 1.5;
    const std::size_t D = 6;
    mdlab::test::TestContext ctx(13);
    auto s = prepared("sphere", R"({"k": 2, "ambient_dim": 6, "radius": 1.5})", ctx);
    const mdlab::Isometry q = embedding_of(ctx, D, 3);

    const Matrix x = gaussian_points(40, D, 2.0, 77);
    const Matrix p = s->project(x);
    CHECK(max_abs_diff(s->project(p), p) < 1e-12);
    const Vector dp = s->distance(p);
    for (std::size_t i = 0; i < 40; ++i) {
        CHECK(dp(i) < 1e-12);
        CHECK(std::abs(row_norm(p, i) - r) < 1e-12);
    }

    // A Fibonacci lattice of 200000 points on M: the nearest of them is within ~1e-4 of the
    // exact distance (lattice spacing ~8e-3) and never closer than it.
    const std::size_t grid = 200000;
    const double golden = pi * (3.0 - std::sqrt(5.0));
    Matrix zg = Matrix::from_shape({grid, 3});
    for (std::size_t g = 0; g < grid; ++g) {
        const double h = 1.0 - 2.0 * (static_cast<double>(g) + 0.5) / static_cast<double>(grid);
        const double rho = std::sqrt(1.0 - h * h), ph = golden * static_cast<double>(g);
        zg(g, 0) = r * h;
        zg(g, 1) = r * rho * std::cos(ph);
        zg(g, 2) = r * rho * std::sin(ph);
    }
    const Matrix mg = q.embed(zg);
    const Vector d = s->distance(x);
    for (std::size_t i = 0; i < 40; ++i) {
        CHECK(std::abs(d(i) - row_dist(x, i, p, i)) < 1e-12 * std::max(1.0, d(i)));
        double brute = std::numeric_limits<double>::infinity();
        for (std::size_t g = 0; g < grid; ++g) brute = std::min(brute, row_dist(x, i, mg, g));
        INFO("point " << i << ": distance " << d(i) << ", brute force " << brute);
        CHECK(d(i) <= brute + 1e-12);
        CHECK(brute - d(i) < 1e-4);
    }
}

TEST_CASE("sphere: reproducible by seed and node, and independent of the thread count", "[manifold][sphere]") {
    const std::string json = R"({"k": 3, "ambient_dim": 12})";
    mdlab::test::TestContext a(42), b(42), other(43);
    auto sa = prepared("sphere", json, a);
    const Matrix xa = sa->sample(3000, a.stream("data"));
    CHECK(identical(xa, prepared("sphere", json, b)->sample(3000, b.stream("data"))));
    CHECK(max_abs_diff(xa, prepared("sphere", json, other)->sample(3000, other.stream("data"))) > 0.1);

    const Matrix probe = gaussian_points(4000, 12, 1.0, 3);
    Matrix x1, x2, p1, p2, t1, t2;
    Vector d1, d2;
    {
        tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        x1 = sa->sample(4000, a.stream("data"));
        p1 = sa->project(probe);
        d1 = sa->distance(probe);
        t1 = sa->intrinsic_coords(probe);
    }
    {
        tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
        x2 = sa->sample(4000, a.stream("data"));
        p2 = sa->project(probe);
        d2 = sa->distance(probe);
        t2 = sa->intrinsic_coords(probe);
    }
    CHECK(identical(x1, x2));
    CHECK(identical(p1, p2));
    CHECK(std::equal(d1.begin(), d1.end(), d2.begin()));
    CHECK(identical(t1, t2));
}

// ============================================================================================
// Densities, quadrature, tangent bases and normal noise
// ============================================================================================

namespace {

void check_weights(const mdlab::Quadrature& q, std::size_t count, const mdlab::Manifold& m) {
    REQUIRE(mdlab::rows(q.nodes) == count);
    REQUIRE(mdlab::cols(q.nodes) == m.ambient_dim());
    REQUIRE(q.weights.size() == count);
    double s = 0.0;
    for (double w : q.weights) {
        REQUIRE(w >= 0.0);
        s += w;
    }
    CHECK(std::abs(s - 1.0) < 1e-12);
    const Vector d = m.distance(q.nodes);
    CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
}

}  // namespace

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

TEST_CASE("sphere: von Mises-Fisher and irregular densities in u_1", "[manifold][sphere][density]") {
    const std::size_t n = 20000;
    SECTION("S^2: closed-form CDFs of u_1 = cos theta_1, uniform azimuth") {
        const double kappa = 4.0;
        mdlab::test::TestContext ctx(61);
        auto s = prepared("sphere", R"({"k": 2, "ambient_dim": 5, "radius": 1.5, "density": "von_mises", "kappa": 4.0})", ctx);
        const Matrix x = s->sample(n, ctx.stream("data"));
        const Vector d = s->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
        const Matrix th = s->intrinsic_coords(x);
        std::vector<double> t(n), az(n);
        for (std::size_t i = 0; i < n; ++i) t[i] = std::cos(th(i, 0)), az[i] = th(i, 1) / two_pi;
        // p(t) = kappa e^{kappa t} / (2 sinh kappa) on [-1, 1]; E t = coth kappa - 1/kappa.
        const double ks = ks_statistic(t, [&](double v) { return std::expm1(kappa * (v + 1.0)) / std::expm1(2.0 * kappa); });
        const double ks_az = ks_statistic(az, [](double v) { return v; });
        INFO("KS u_1 " << ks << ", azimuth " << ks_az << ", critical " << ks_critical(n));
        CHECK(ks < ks_critical(n));
        CHECK(ks_az < ks_critical(n));
        CHECK(ks_statistic(t, [](double v) { return 0.5 * (v + 1.0); }) > 3.0 * ks_critical(n));
        const auto [m, se] = mean_se(t);
        CHECK(std::abs(m - (1.0 / std::tanh(kappa) - 1.0 / kappa)) < 4.0 * se);

        // Irregular: p(t) proportional to 1/4 + |t|, CDF in closed form.
        auto si = prepared("sphere", R"({"k": 2, "ambient_dim": 5, "density": "irregular"})", ctx);
        const Matrix thi = si->intrinsic_coords(si->sample(n, ctx.stream("data")));
        std::vector<double> ti(n);
        for (std::size_t i = 0; i < n; ++i) ti[i] = std::cos(thi(i, 0));
        auto cdf = [](double v) {
            const double half = 0.25 + 0.5;  // mass of [-1, 0] (and of [0, 1]) before normalising
            const double part = v < 0.0 ? 0.25 * (v + 1.0) + 0.5 * (1.0 - v * v) : half + 0.25 * v + 0.5 * v * v;
            return part / (2.0 * half);
        };
        const double ksi = ks_statistic(ti, cdf);
        INFO("irregular KS " << ksi);
        CHECK(ksi < ks_critical(n));
        CHECK(ks_statistic(ti, [](double v) { return 0.5 * (v + 1.0); }) > 3.0 * ks_critical(n));
    }
    SECTION("S^k: u_1 has density proportional to w(t) (1 - t^2)^{(k-2)/2}, E u_1 = I_{(k+1)/2} / I_{(k-1)/2}") {
        struct Case {
            std::size_t k;
            const char* shape;
            double kappa;
        };
        for (const Case cs : {Case{3, "von_mises", 5.0}, Case{5, "von_mises", 50.0}, Case{3, "irregular", 0.0},
                              Case{1, "von_mises", 3.0}, Case{4, "von_mises", 0.7}}) {
            INFO("S^" << cs.k << ", " << cs.shape << ", kappa " << cs.kappa);
            mdlab::test::TestContext ctx(62);
            const std::string json = "{\"k\": " + std::to_string(cs.k) + ", \"ambient_dim\": " + std::to_string(cs.k + 3) +
                                     ", \"density\": \"" + cs.shape + "\", \"kappa\": " + std::to_string(cs.kappa) + "}";
            auto s = prepared("sphere", json, ctx);
            const mdlab::Isometry q = embedding_of(ctx, cs.k + 3, cs.k + 1);
            const Matrix x = s->sample(n, ctx.stream("data"));
            const Vector d = s->distance(x);
            CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
            const Matrix y = q.coords(x);
            std::vector<double> t(n);
            for (std::size_t i = 0; i < n; ++i) t[i] = y(i, 0);  // radius 1
            const bool fisher = std::string(cs.shape) == "von_mises";
            const double k = double(cs.k);
            auto w = [&](double v) { return fisher ? std::exp(cs.kappa * (v - 1.0)) : 0.25 + std::abs(v); };
            // The marginal of u_1 under the uniform law is (1 - t^2)^{(k-2)/2}; for k = 1 it is
            // singular at +-1, so test the angle theta_1 = acos(t) instead (uniform law: flat).
            double ks;
            if (cs.k == 1) {
                std::vector<double> ang(n);
                for (std::size_t i = 0; i < n; ++i) ang[i] = std::acos(std::max(-1.0, std::min(1.0, t[i])));
                ks = ks_statistic(ang, NumericCdf([&](double a) { return w(std::cos(a)); }, 0.0, pi));
            } else {
                ks = ks_statistic(t, NumericCdf([&](double v) { return w(v) * std::pow(std::max(0.0, 1.0 - v * v), (k - 2.0) / 2.0); },
                                                -1.0, 1.0));
            }
            INFO("KS " << ks << ", critical " << ks_critical(n));
            CHECK(ks < ks_critical(n));
            if (fisher) {
                const auto [m, se] = mean_se(t);
                const double exact = std::cyl_bessel_i((k + 1.0) / 2.0, cs.kappa) / std::cyl_bessel_i((k - 1.0) / 2.0, cs.kappa);
                INFO("E u_1 = " << m << " +- " << se << ", exact " << exact);
                CHECK(std::abs(m - exact) < 4.0 * se);
            }
        }
    }
}

TEST_CASE("sphere: quadrature rules integrate closed forms and agree with Monte Carlo", "[manifold][sphere][quadrature]") {
    SECTION("S^2: Fibonacci nodes weighted by the density") {
        const double kappa = 4.0, A = 1.0 / std::tanh(kappa) - 1.0 / kappa;
        mdlab::test::TestContext ctx(71);
        auto s = prepared("sphere", R"({"k": 2, "ambient_dim": 5, "radius": 1.5, "density": "von_mises", "kappa": 4.0})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, 5, 3);
        // E u_1 = coth kappa - 1/kappa, E u_2^2 = E u_3^2 = A / kappa (von Mises-Fisher on S^2).
        std::vector<double> err1, err2;
        for (std::size_t res : {20, 40, 80}) {
            const mdlab::Quadrature qd = s->quadrature(res);
            check_weights(qd, res * res, *s);
            CHECK(std::abs(quad_mean(qd, [&](const double* x) { return dot(x, x, 5); }) - 2.25) < 1e-12);
            const Matrix y = q.coords(qd.nodes);
            double e1 = 0.0, e2 = 0.0, e3 = 0.0;
            for (std::size_t i = 0; i < res * res; ++i) {
                e1 += qd.weights(i) * y(i, 0) / 1.5;
                e2 += qd.weights(i) * y(i, 1) * y(i, 1) / 2.25;
                e3 += qd.weights(i) * y(i, 2) * y(i, 2) / 2.25;
            }
            err1.push_back(std::abs(e1 - A));
            err2.push_back(std::max(std::abs(e2 - A / kappa), std::abs(e3 - A / kappa)));
        }
        // In u_1 alone the lattice is the midpoint rule with N = res^2 cells: error O(res^-4);
        // the azimuthal (quasi-Monte Carlo) part converges at least like 1 / N.
        for (std::size_t i = 0; i + 1 < err1.size(); ++i) {
            const double o1 = std::log2(err1[i] / err1[i + 1]), o2 = std::log2(err2[i] / err2[i + 1]);
            INFO("E u_1 errors " << err1[i] << " -> " << err1[i + 1] << " (order " << o1 << "), E u_2^2 errors " << err2[i]
                                 << " -> " << err2[i + 1] << " (order " << o2 << ")");
            CHECK(o1 > 3.8);
            CHECK(o1 < 4.2);
            CHECK(o2 > 1.8);
        }
        CHECK(err1[1] < 1e-5);
        CHECK(err2[1] < 1e-4);
        // Monte Carlo.
        const mdlab::Quadrature qd = s->quadrature(80);
        const std::size_t n = 20000;
        const Matrix xs = s->sample(n, ctx.stream("data"));
        const std::vector<double> v = unit_vector(5, 5);
        for (int power : {1, 2}) {
            std::vector<double> f(n);
            for (std::size_t i = 0; i < n; ++i) f[i] = std::pow(dot(mdlab::row(xs, i), v.data(), 5), power);
            const auto [mc, se] = mean_se(f);
            const double qm = quad_mean(qd, [&](const double* x) { return std::pow(dot(x, v.data(), 5), power); });
            INFO("power " << power << ": Monte Carlo " << mc << " +- " << se << ", quadrature " << qm);
            CHECK(std::abs(mc - qm) < 4.0 * se);
        }
        // Irregular: E|u_1| = int (1/4 + |t|) |t| / int (1/4 + |t|) = 11/18.
        auto si = prepared("sphere", R"({"k": 2, "ambient_dim": 5, "density": "irregular"})", ctx);
        const mdlab::Quadrature qi = si->quadrature(40);
        const Matrix yi = q.coords(qi.nodes);
        double ea = 0.0;
        for (std::size_t i = 0; i < 1600; ++i) ea += qi.weights(i) * std::abs(yi(i, 0));
        CHECK(std::abs(ea - 11.0 / 18.0) < 1e-6);
    }
    SECTION("S^3 and S^4: Gauss-Legendre x trapezoid product rules") {
        // von Mises-Fisher on S^3 (p = 4): E u_1 = A = I_2 / I_1, E u_1^2 = 1 - 3 A / kappa,
        // E u_j^2 = A / kappa for j > 1.
        const double kappa = 5.0, A = std::cyl_bessel_i(2.0, kappa) / std::cyl_bessel_i(1.0, kappa);
        mdlab::test::TestContext ctx(72);
        auto s = prepared("sphere", R"({"k": 3, "ambient_dim": 6, "density": "von_mises", "kappa": 5.0})", ctx);
        const mdlab::Isometry q = embedding_of(ctx, 6, 4);
        const mdlab::Quadrature qd = s->quadrature(24);
        check_weights(qd, 24 * 24 * 24, *s);
        const Matrix y = q.coords(qd.nodes);
        std::vector<double> m2(4, 0.0);
        double m1 = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(y); ++i) {
            m1 += qd.weights(i) * y(i, 0);
            for (std::size_t j = 0; j < 4; ++j) m2[j] += qd.weights(i) * y(i, j) * y(i, j);
        }
        CHECK(std::abs(m1 - A) < 1e-12);
        CHECK(std::abs(m2[0] - (1.0 - 3.0 * A / kappa)) < 1e-12);
        for (std::size_t j = 1; j < 4; ++j) CHECK(std::abs(m2[j] - A / kappa) < 1e-12);
        // Uniform on S^4: E u_j^2 = 1/5, E u_j^4 = 3 / (5 * 7). Gauss-Legendre in the angles
        // converges spectrally: 8 nodes per angle leave errors ~1e-4, 16 reach rounding.
        auto s4 = prepared("sphere", R"({"k": 4, "ambient_dim": 5, "radius": 2.0})", ctx);
        const mdlab::Isometry q4 = embedding_of(ctx, 5, 5);
        std::vector<double> worst;
        for (std::size_t res : {8, 16}) {
            const mdlab::Quadrature q4d = s4->quadrature(res);
            check_weights(q4d, res * res * res * res, *s4);
            const Matrix y4 = q4.coords(q4d.nodes);
            double w = 0.0;
            for (std::size_t j = 0; j < 5; ++j) {
                double e2 = 0.0, e4 = 0.0;
                for (std::size_t i = 0; i < mdlab::rows(y4); ++i) {
                    const double u = y4(i, j) / 2.0;
                    e2 += q4d.weights(i) * u * u;
                    e4 += q4d.weights(i) * u * u * u * u;
                }
                w = std::max({w, std::abs(e2 - 0.2), std::abs(e4 - 3.0 / 35.0)});
            }
            worst.push_back(w);
        }
        INFO("S^4 moment errors: resolution 8 " << worst[0] << ", resolution 16 " << worst[1]);
        CHECK(worst[1] < 1e-12);
        CHECK(worst[0] > 1e6 * worst[1]);
        CHECK_THROWS_AS(s4->quadrature(1000), mdlab::InputError);
    }
    SECTION("S^1 has the circle's rule") {
        mdlab::test::TestContext ctx(73);
        auto s = prepared("sphere", R"({"k": 1, "ambient_dim": 4, "radius": 0.7, "density": "von_mises", "kappa": 3.0})", ctx);
        auto c = prepared("circle",
                          R"({"ambient_dim": 4, "radius": 0.7, "density": "von_mises", "kappa": 3.0, "mode": 0.0})", ctx);
        const mdlab::Quadrature qs = s->quadrature(30), qc = c->quadrature(30);
        CHECK(max_abs_diff(qs.nodes, qc.nodes) < 1e-15);
        for (std::size_t i = 0; i < 30; ++i) CHECK(std::abs(qs.weights(i) - qc.weights(i)) < 1e-15);
    }
}

TEST_CASE("sphere: tangent bases are orthonormal and match the parametrisation", "[manifold][sphere]") {
    for (std::size_t k : {1, 2, 3, 4}) {
        INFO("S^" << k);
        const std::size_t D = k + 3, m = k + 1;
        const double r = 1.4;
        mdlab::test::TestContext ctx(81);
        auto s = prepared("sphere", "{\"k\": " + std::to_string(k) + ", \"ambient_dim\": " + std::to_string(D) +
                                        ", \"radius\": 1.4}",
                          ctx);
        const mdlab::Isometry q = embedding_of(ctx, D, m);
        Matrix x = s->sample(300, ctx.stream("data"));
        // Include the poles +-r Q e_1 and the point r Q e_m.
        for (std::size_t p = 0; p < 3; ++p) {
            std::vector<double> z(m, 0.0);
            z[p < 2 ? 0 : m - 1] = p == 1 ? -r : r;
            q.embed_row(z.data(), mdlab::row(x, p));
        }
        mdlab::TangentBases tb;
        s->tangent_bases(x, tb);
        REQUIRE(tb.shape()[0] == 300);
        REQUIRE(tb.shape()[1] == D);
        REQUIRE(tb.shape()[2] == k);
        const Matrix th = s->intrinsic_coords(x);
        const Matrix qm = q.matrix();
        const double h = 1e-5;
        double worst_orth = 0.0, worst_normal = 0.0, worst_fd = 0.0;
        for (std::size_t i = 0; i < 300; ++i) {
            for (std::size_t a = 0; a < k; ++a) {
                for (std::size_t b = 0; b < k; ++b) {
                    double d = 0.0;
                    for (std::size_t c = 0; c < D; ++c) d += tb(i, c, a) * tb(i, c, b);
                    worst_orth = std::max(worst_orth, std::abs(d - (a == b ? 1.0 : 0.0)));
                }
                // Orthogonal to the radial direction and to the complement of the subspace.
                double rad = 0.0;
                for (std::size_t c = 0; c < D; ++c) rad += tb(i, c, a) * x(i, c) / r;
                std::vector<double> tv(D), zc(m), back(D);
                for (std::size_t c = 0; c < D; ++c) tv[c] = tb(i, c, a);
                q.coords_row(tv.data(), zc.data());
                q.embed_row(zc.data(), back.data());
                double off = 0.0;
                for (std::size_t c = 0; c < D; ++c) off = std::max(off, std::abs(back[c] - tv[c]));
                worst_normal = std::max({worst_normal, std::abs(rad), off});
            }
            if (i < 3) continue;  // the angles are singular at the poles
            // Central differences along each hyperspherical angle lie in the span of the basis.
            for (std::size_t j = 0; j < k; ++j) {
                std::vector<double> tp(th.data() + i * k, th.data() + (i + 1) * k), tm = tp;
                tp[j] += h;
                tm[j] -= h;
                const std::vector<double> up = from_angles(tp), um = from_angles(tm);
                std::vector<double> fz(m), fd(D);
                for (std::size_t c = 0; c < m; ++c) fz[c] = r * (up[c] - um[c]) / (2.0 * h);
                q.embed_row(fz.data(), fd.data());
                const double nf = norm(fd);
                if (nf < 1e-3) continue;
                std::vector<double> res = fd;
                for (std::size_t a = 0; a < k; ++a) {
                    double d = 0.0;
                    for (std::size_t c = 0; c < D; ++c) d += tb(i, c, a) * fd[c];
                    for (std::size_t c = 0; c < D; ++c) res[c] -= d * tb(i, c, a);
                }
                worst_fd = std::max(worst_fd, norm(res) / nf);
            }
        }
        INFO("orthonormality " << worst_orth << ", normal components " << worst_normal << ", FD residual " << worst_fd);
        CHECK(worst_orth < 1e-14);
        CHECK(worst_normal < 1e-14);
        CHECK(worst_fd < 1e-8);
    }
}

TEST_CASE("sphere: normal noise has the right scale and is normal to M", "[manifold][sphere][noise]") {
    check_normal_noise("sphere", R"({"k": 2, "ambient_dim": 6, "density": "von_mises"})",
                       R"({"k": 2, "ambient_dim": 6, "density": "von_mises", "noise": 0.001})", 1e-3, 4);
    check_normal_noise("sphere", R"({"k": 3, "ambient_dim": 4, "radius": 2.0, "density": "irregular"})",
                       R"({"k": 3, "ambient_dim": 4, "radius": 2.0, "density": "irregular", "noise": 0.001})", 1e-3, 1);
}

TEST_CASE("circle and sphere: densities and noise are reproducible and independent of the thread count",
          "[manifold][circle][sphere]") {
    for (const std::string& spec :
         {std::string("circle|{\"ambient_dim\": 6, \"density\": \"von_mises\", \"noise\": 0.01}"),
          std::string("circle|{\"ambient_dim\": 6, \"density\": \"irregular\"}"),
          std::string("sphere|{\"k\": 3, \"ambient_dim\": 6, \"density\": \"von_mises\", \"kappa\": 20, \"noise\": 0.01}"),
          std::string("sphere|{\"k\": 2, \"ambient_dim\": 6, \"density\": \"irregular\", \"noise\": 0.01}")}) {
        const std::string name = spec.substr(0, spec.find('|')), json = spec.substr(spec.find('|') + 1);
        INFO(name << " " << json);
        mdlab::test::TestContext a(42), b(42), other(43);
        auto ma = prepared(name, json, a);
        const Matrix xa = ma->sample(3000, a.stream("data"));
        CHECK(identical(xa, prepared(name, json, b)->sample(3000, b.stream("data"))));
        CHECK(max_abs_diff(xa, prepared(name, json, other)->sample(3000, other.stream("data"))) > 0.1);
        const Matrix probe = gaussian_points(3000, 6, 1.0, 8);
        Matrix x[2], qn[2];
        Vector qw[2];
        mdlab::TangentBases tb[2];
        for (int threads : {1, 2}) {
            tbb::task_arena arena(threads);
            arena.execute([&] {
                const int i = threads - 1;
                x[i] = ma->sample(3000, a.stream("data"));
                ma->tangent_bases(probe, tb[i]);
                const mdlab::Quadrature q = ma->quadrature(30);
                qn[i] = q.nodes;
                qw[i] = q.weights;
            });
        }
        CHECK(identical(x[0], x[1]));
        CHECK(identical(x[0], xa));
        CHECK((tb[0].shape() == tb[1].shape() && std::equal(tb[0].begin(), tb[0].end(), tb[1].begin())));
        CHECK(identical(qn[0], qn[1]));
        CHECK((qw[0].shape() == qw[1].shape() && std::equal(qw[0].begin(), qw[0].end(), qw[1].begin())));
    }
}
