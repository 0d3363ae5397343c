// The built-in manifolds `circle` and `sphere` against closed forms: samples on M, exact
// projection and distance (checked against brute force over dense point sets of M), the
// isometric embedding, reproducibility (seed, node, thread count), uniformity (chi-square at a
// fixed seed) and intrinsic coordinates.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;
using mdlab::Vector;
constexpr double pi = 3.14159265358979323846;
constexpr double two_pi = 2.0 * pi;

std::shared_ptr<mdlab::Manifold> prepared(const std::string& name, const std::string& json,
                                          mdlab::test::TestContext& ctx) {
    auto m = mdlab::test::make<mdlab::Manifold>(name, json);
    m->prepare(ctx);
    return m;
}

// The embedding the plugins draw: Isometry::random from the node's "embedding" stream, chunk 0.
mdlab::Isometry embedding_of(const mdlab::Context& ctx, std::size_t D, std::size_t m) {
    mdlab::Rng rng = ctx.stream("embedding").chunk(0);
    return mdlab::Isometry::random(D, m, rng);
}

double row_norm(const Matrix& x, std::size_t i) {
    double s = 0.0;
    for (std::size_t j = 0; j < mdlab::cols(x); ++j) s += x(i, j) * x(i, j);
    return std::sqrt(s);
}

double row_dist(const Matrix& a, std::size_t i, const Matrix& b, std::size_t k) {
    double s = 0.0;
    for (std::size_t j = 0; j < mdlab::cols(a); ++j) s += (a(i, j) - b(k, j)) * (a(i, j) - b(k, j));
    return std::sqrt(s);
}

double max_abs_diff(const Matrix& a, const Matrix& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(a.data()[k] - b.data()[k]));
    return m;
}

bool identical(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// Points scattered around the origin at scale `scale`, off M with probability one.
Matrix gaussian_points(std::size_t n, std::size_t D, double scale, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({n, D});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = scale * rng.normal();
    return x;
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
// Upper 0.1% point of chi-square with 19 degrees of freedom (20 bins).
constexpr double chi2_19_999 = 43.820;

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
