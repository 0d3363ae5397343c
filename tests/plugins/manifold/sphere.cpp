// The `sphere` manifold against closed forms: samples on M, exact projection and distance,
// the isometric embedding, reproducibility, uniformity, intrinsic coordinates, the von
// Mises-Fisher and irregular densities, quadrature, tangent bases and normal noise.
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
