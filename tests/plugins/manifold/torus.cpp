// The `torus` manifold (flat and ring) against closed forms and independent computations.
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
// torus
// ============================================================================================

TEST_CASE("torus: specification and parameters", "[manifold][torus]") {
    mdlab::test::TestContext ctx(3);
    auto t = prepared("torus", "{}", ctx);
    CHECK(t->ambient_dim() == 4);
    CHECK(t->intrinsic_dim() == 2);
    CHECK_NOTHROW(mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "ring", "ambient_dim": 3})"));
    CHECK_NOTHROW(mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "flat", "ambient_dim": 4})"));
    try {
        mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "flat", "ambient_dim": 3})");
        FAIL("a flat torus in R^3 was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "ambient_dim");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("ambient_dim"));
    }
    try {
        mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "ring", "radius_1": 1.0, "radius_2": 1.0})");
        FAIL("a self-intersecting ring torus was accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "radius_2");
    } catch (const std::exception& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("radius_2"));
    }
    // The flat torus has no such constraint.
    CHECK_NOTHROW(mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "flat", "radius_1": 0.5, "radius_2": 2.0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("torus", R"({"variant": "donut"})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("torus", R"({"noise": -0.1})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Manifold>("torus", R"({"density": "gaussian"})"));
    auto bad = prepared("torus", "{}", ctx);
    CHECK_THROWS_AS(bad->project(Matrix::from_shape({2, 3})), mdlab::InputError);
}

TEST_CASE("torus: samples follow the documented parametrisation and lie on M", "[manifold][torus]") {
    for (bool flat : {false, true}) {
        INFO((flat ? "flat" : "ring"));
        const std::size_t D = 7;
        mdlab::test::TestContext ctx(11);
        auto t = prepared("torus", torus_json(flat, D), ctx);
        const TorusModel model = torus_model(flat);
        const mdlab::Isometry q = embedding_of(ctx, D, model.m());
        const Matrix x = t->sample(5000, ctx.stream("data"));
        REQUIRE(mdlab::cols(x) == D);
        const Vector d = t->distance(x);
        CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
        const Matrix ab = t->intrinsic_coords(x);
        REQUIRE(mdlab::cols(ab) == 2);
        double worst = 0.0;
        for (std::size_t i = 0; i < 5000; ++i) {
            REQUIRE(ab(i, 0) >= 0.0);
            REQUIRE(ab(i, 0) < two_pi);
            REQUIRE(ab(i, 1) >= 0.0);
            REQUIRE(ab(i, 1) < two_pi);
            const std::vector<double> z = model.z(ab(i, 0), ab(i, 1));
            std::vector<double> y(D);
            q.embed_row(z.data(), y.data());
            for (std::size_t j = 0; j < D; ++j) worst = std::max(worst, std::abs(y[j] - x(i, j)));
        }
        CHECK(worst < 1e-12);
        // Projection of points of M is the identity.
        CHECK(max_abs_diff(t->project(x), x) < 1e-12);
    }
}

TEST_CASE("torus: projection is exact, idempotent, and gives the distance", "[manifold][torus]") {
    for (bool flat : {false, true}) {
        INFO((flat ? "flat" : "ring"));
        const std::size_t D = 5;
        mdlab::test::TestContext ctx(17);
        auto t = prepared("torus", torus_json(flat, D), ctx);
        const TorusModel model = torus_model(flat);
        const mdlab::Isometry q = embedding_of(ctx, D, model.m());

        const Matrix x = gaussian_points(30, D, 1.2, 5);
        const Matrix p = t->project(x);
        CHECK(max_abs_diff(t->project(p), p) < 1e-12);
        const Vector dp = t->distance(p);
        CHECK(*std::max_element(dp.begin(), dp.end()) < 1e-12);
        const Vector d = t->distance(x);

        // Brute force over a G x G grid of M: the nearest grid point is within half a cell
        // diagonal of the true nearest point, so  exact <= brute <= exact + half diagonal.
        const std::size_t G = 500;
        const double h = two_pi / G;
        const double half_diag = 0.5 * std::hypot((flat ? model.r1 : model.r1 + model.r2) * h, model.r2 * h);
        Matrix grid = Matrix::from_shape({G * G, D});
        for (std::size_t i = 0; i < G; ++i)
            for (std::size_t j = 0; j < G; ++j) {
                const std::vector<double> z = model.z(h * double(i), h * double(j));
                q.embed_row(z.data(), mdlab::row(grid, i * G + j));
            }
        for (std::size_t i = 0; i < 30; ++i) {
            CHECK(std::abs(d(i) - row_dist(x, i, p, i)) < 1e-12);
            double brute = std::numeric_limits<double>::infinity();
            for (std::size_t g = 0; g < G * G; ++g) brute = std::min(brute, row_dist(x, i, grid, g));
            INFO("point " << i << ": distance " << d(i) << ", brute force " << brute << ", half cell " << half_diag);
            CHECK(d(i) <= brute + 1e-12);
            CHECK(brute - d(i) <= half_diag + 1e-12);
        }

        // Explicit points, with a component in the normal complement of the subspace.
        Matrix nrm = gaussian_points(1, D, 1.0, 9);
        nrm = nrm - q.embed(q.coords(nrm));
        const double nn = std::sqrt(dot(nrm.data(), nrm.data(), D));
        auto at = [&](std::vector<double> z, bool with_normal) {
            Matrix zz = Matrix::from_shape({1, model.m()});
            for (std::size_t j = 0; j < model.m(); ++j) zz(0, j) = z[j];
            Matrix y = q.embed(zz);
            if (with_normal)
                for (std::size_t j = 0; j < D; ++j) y(0, j) += nrm(0, j);
            return y;
        };
        auto dist_of = [&](const Matrix& y) { return t->distance(y)(0); };
        if (flat) {
            CHECK(std::abs(dist_of(at({0, 0, 0, 0}, false)) - std::hypot(model.r1, model.r2)) < 1e-14);
            CHECK(std::abs(dist_of(at({0.3, -0.4, 0.0, 2.0}, true)) -
                           std::sqrt(nn * nn + 0.5 * 0.5 + 1.3 * 1.3)) < 1e-12);
        } else {
            const double R = model.r1, r = model.r2;
            CHECK(std::abs(dist_of(at({0, 0, 0}, false)) - (R - r)) < 1e-14);               // centre of the hole
            CHECK(std::abs(dist_of(at({0, R, 0}, false)) - r) < 1e-14);                     // on the tube's centre circle
            CHECK(std::abs(dist_of(at({0, 0, 0.9}, false)) - (std::hypot(R, 0.9) - r)) < 1e-14);  // on the axis
            const double inside = dist_of(at({R + 0.1, 0, 0.2}, true));                    // inside the tube, off the subspace
            CHECK(std::abs(inside - std::hypot(nn, r - std::hypot(0.1, 0.2))) < 1e-12);
            // The nearest point of an outside point in the plane a = pi/2.
            const Matrix pp = t->project(at({0, 3.0, 1.0}, true));
            const double s = r / std::hypot(3.0 - R, 1.0);
            const Matrix expect = at({0, R + (3.0 - R) * s, 1.0 * s}, false);
            CHECK(max_abs_diff(pp, expect) < 1e-14);
        }
    }
}

TEST_CASE("torus: the angles follow the density, with the area element on the ring torus", "[manifold][torus]") {
    const std::size_t n = 20000;
    for (bool flat : {false, true})
        for (const std::string shape : {"uniform", "von_mises", "irregular"}) {
            INFO((flat ? "flat" : "ring") << ", density " << shape);
            const TorusModel model = torus_model(flat);
            const double kappa = 2.0, mode = 0.3;
            mdlab::test::TestContext ctx(23);
            auto t = prepared("torus",
                              torus_json(flat, 5, ", \"density\": \"" + shape + "\", \"kappa\": 2.0, \"mode\": 0.3"), ctx);
            const Matrix ab = t->intrinsic_coords(t->sample(n, ctx.stream("data")));
            std::vector<double> ua(n), ub(n);
            for (std::size_t i = 0; i < n; ++i) ua[i] = ab(i, 0) / two_pi, ub[i] = ab(i, 1) / two_pi;
            const NumericCdf fa([&](double u) { return coord_pdf(shape, kappa, mode, u); }, 0.0, 1.0);
            const NumericCdf fb(
                [&](double u) { return coord_pdf(shape, kappa, mode, u) * model.area_element(two_pi * u); }, 0.0, 1.0);
            const double ks_a = ks_statistic(ua, fa), ks_b = ks_statistic(ub, fb);
            INFO("KS a = " << ks_a << ", KS b = " << ks_b << ", critical " << ks_critical(n));
            CHECK(ks_a < ks_critical(n));
            CHECK(ks_b < ks_critical(n));
            // The test has power: on the ring torus, b without the area element is rejected.
            if (!flat) {
                const NumericCdf wrong([&](double u) { return coord_pdf(shape, kappa, mode, u); }, 0.0, 1.0);
                CHECK(ks_statistic(ub, wrong) > 3.0 * ks_critical(n));
            }
            // ... and a is not uniform unless it should be.
            if (shape != "uniform") CHECK(ks_statistic(ua, [](double u) { return u; }) > 2.0 * ks_critical(n));
        }
}

TEST_CASE("torus: quadrature integrates closed forms and agrees with Monte Carlo", "[manifold][torus][quadrature]") {
    const double kappa = 2.0, mode = 0.3, mu = two_pi * mode;
    const double A1 = std::cyl_bessel_i(1.0, kappa) / std::cyl_bessel_i(0.0, kappa);
    const double A2 = std::cyl_bessel_i(2.0, kappa) / std::cyl_bessel_i(0.0, kappa);
    for (bool flat : {false, true}) {
        INFO((flat ? "flat" : "ring"));
        const TorusModel model = torus_model(flat);
        const double R = model.r1, r = model.r2;
        const std::size_t D = 5;
        mdlab::test::TestContext ctx(29);
        auto tu = prepared("torus", torus_json(flat, D), ctx);
        const mdlab::Quadrature qu = tu->quadrature(64);
        REQUIRE(mdlab::rows(qu.nodes) == 64 * 64);
        REQUIRE(qu.weights.size() == 64 * 64);
        double wsum = 0.0;
        for (double w : qu.weights) {
            CHECK(w >= 0.0);
            wsum += w;
        }
        // (Tolerances 1e-12: sums of 4096 weighted terms carry rounding errors ~1e-13.)
        CHECK(std::abs(wsum - 1.0) < 1e-12);
        const Vector dq = tu->distance(qu.nodes);
        CHECK(*std::max_element(dq.begin(), dq.end()) < 1e-12);

        // Uniform on the surface: E|x|^2 = r1^2 + r2^2 (flat) and R^2 + 2 r^2 (ring, where
        // E cos b = int (R + r cos b) cos b / int (R + r cos b) = r / (2R)).
        const double m2 = quad_mean(qu, [&](const double* x) { return dot(x, x, D); });
        INFO("E|x|^2 - exact = " << m2 - (flat ? R * R + r * r : R * R + 2.0 * r * r));
        CHECK(std::abs(m2 - (flat ? R * R + r * r : R * R + 2.0 * r * r)) < 1e-12);
        const Matrix ab = tu->intrinsic_coords(qu.nodes);
        double ecb = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(ab); ++i) ecb += qu.weights(i) * std::cos(ab(i, 1));
        CHECK(std::abs(ecb - (flat ? 0.0 : r / (2.0 * R))) < 1e-12);

        // von Mises on both angles: E cos a = A1 cos mu; E cos b = A1 cos mu (flat) or, with the
        // area element, (R A1 cos mu + r E cos^2 b) / (R + r A1 cos mu), E cos^2 b = (1 + A2 cos 2 mu) / 2.
        auto tv = prepared("torus", torus_json(flat, D, ", \"density\": \"von_mises\", \"kappa\": 2.0, \"mode\": 0.3"), ctx);
        const mdlab::Quadrature qv = tv->quadrature(48);
        const Matrix abv = tv->intrinsic_coords(qv.nodes);
        double eca = 0.0, esa = 0.0, ecbv = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(abv); ++i) {
            eca += qv.weights(i) * std::cos(abv(i, 0));
            esa += qv.weights(i) * std::sin(abv(i, 0));
            ecbv += qv.weights(i) * std::cos(abv(i, 1));
        }
        const double ecb_exact = flat ? A1 * std::cos(mu)
                                      : (R * A1 * std::cos(mu) + r * 0.5 * (1.0 + A2 * std::cos(2.0 * mu))) /
                                            (R + r * A1 * std::cos(mu));
        INFO("E cos a " << eca << " vs " << A1 * std::cos(mu) << ", E cos b " << ecbv << " vs " << ecb_exact);
        CHECK(std::abs(eca - A1 * std::cos(mu)) < 1e-12);
        CHECK(std::abs(esa - A1 * std::sin(mu)) < 1e-12);
        CHECK(std::abs(ecbv - ecb_exact) < 1e-12);

        // Monte Carlo: f(x) = v.x and (v.x)^2 for a fixed direction v within 4 standard errors.
        const std::size_t n = 20000;
        const Matrix xs = tv->sample(n, ctx.stream("data"));
        const std::vector<double> v = unit_vector(D, 31);
        for (int power : {1, 2}) {
            std::vector<double> f(n);
            for (std::size_t i = 0; i < n; ++i) f[i] = std::pow(dot(mdlab::row(xs, i), v.data(), D), power);
            const auto [mc, se] = mean_se(f);
            const double qm = quad_mean(qv, [&](const double* x) { return std::pow(dot(x, v.data(), D), power); });
            INFO("power " << power << ": Monte Carlo " << mc << " +- " << se << ", quadrature " << qm);
            CHECK(std::abs(mc - qm) < 4.0 * se);
        }
    }
}

TEST_CASE("torus: quadrature converges at second order for the irregular density", "[manifold][torus][quadrature]") {
    // p(u) = (1/4 + |sin 2 pi u|) / (1/4 + 2/pi): E|sin a| = (1 + pi) / (pi/2 + 4) (flat torus, so
    // a and b are independent with law p). The kinks of p make the trapezoidal rule second order.
    mdlab::test::TestContext ctx(31);
    auto t = prepared("torus", torus_json(true, 4, ", \"density\": \"irregular\""), ctx);
    const double exact = (1.0 + pi) / (pi / 2.0 + 4.0);
    std::vector<double> err;
    for (std::size_t res : {16, 32, 64, 128}) {
        const mdlab::Quadrature q = t->quadrature(res);
        const Matrix ab = t->intrinsic_coords(q.nodes);
        double e = 0.0;
        for (std::size_t i = 0; i < mdlab::rows(ab); ++i) e += q.weights(i) * std::abs(std::sin(ab(i, 0)));
        err.push_back(std::abs(e - exact));
    }
    for (std::size_t i = 0; i + 1 < err.size(); ++i) {
        const double order = std::log2(err[i] / err[i + 1]);
        INFO("errors " << err[i] << " -> " << err[i + 1] << ", order " << order);
        CHECK(order > 1.8);
        CHECK(order < 2.2);
    }
    CHECK(err.back() < 1e-4);
}

TEST_CASE("torus: tangent bases are orthonormal and match the parametrisation", "[manifold][torus]") {
    for (bool flat : {false, true}) {
        INFO((flat ? "flat" : "ring"));
        const std::size_t D = 6;
        mdlab::test::TestContext ctx(37);
        auto t = prepared("torus", torus_json(flat, D), ctx);
        const TorusModel model = torus_model(flat);
        const mdlab::Isometry q = embedding_of(ctx, D, model.m());
        const Matrix x = t->sample(300, ctx.stream("data"));
        mdlab::TangentBases tb;
        t->tangent_bases(x, tb);
        REQUIRE(tb.shape()[0] == 300);
        REQUIRE(tb.shape()[1] == D);
        REQUIRE(tb.shape()[2] == 2);
        const Matrix ab = t->intrinsic_coords(x);
        const double h = 1e-5;
        double worst_orth = 0.0, worst_fd = 0.0;
        for (std::size_t i = 0; i < 300; ++i) {
            for (std::size_t j = 0; j < 2; ++j)
                for (std::size_t k = 0; k < 2; ++k) {
                    double s = 0.0;
                    for (std::size_t c = 0; c < D; ++c) s += tb(i, c, j) * tb(i, c, k);
                    worst_orth = std::max(worst_orth, std::abs(s - (j == k ? 1.0 : 0.0)));
                }
            // Central differences of the parametrisation along a and b, normalised.
            for (std::size_t j = 0; j < 2; ++j) {
                const double da = j == 0 ? h : 0.0, db = j == 1 ? h : 0.0;
                const std::vector<double> zp = model.z(ab(i, 0) + da, ab(i, 1) + db);
                const std::vector<double> zm = model.z(ab(i, 0) - da, ab(i, 1) - db);
                std::vector<double> fz(model.m()), fd(D);
                for (std::size_t c = 0; c < model.m(); ++c) fz[c] = (zp[c] - zm[c]) / (2.0 * h);
                q.embed_row(fz.data(), fd.data());
                const double nf = norm(fd);
                for (std::size_t c = 0; c < D; ++c) worst_fd = std::max(worst_fd, std::abs(fd[c] / nf - tb(i, c, j)));
            }
        }
        CHECK(worst_orth < 1e-14);
        CHECK(worst_fd < 1e-8);
        // Off M, the bases are those of the nearest point.
        const Matrix probe = x + gaussian_points(300, D, 0.05, 3);
        mdlab::TangentBases t1, t2;
        t->tangent_bases(probe, t1);
        t->tangent_bases(t->project(probe), t2);
        double worst = 0.0;
        for (std::size_t k = 0; k < t1.size(); ++k) worst = std::max(worst, std::abs(t1.data()[k] - t2.data()[k]));
        CHECK(worst < 1e-12);
    }
}

TEST_CASE("torus: normal noise has the right scale and is normal to M", "[manifold][torus][noise]") {
    check_normal_noise("torus", torus_json(false, 5), torus_json(false, 5, ", \"noise\": 0.001"), 1e-3, 3, 1e-12);
    check_normal_noise("torus", torus_json(true, 6, ", \"density\": \"von_mises\""),
                       torus_json(true, 6, ", \"density\": \"von_mises\", \"noise\": 0.001"), 1e-3, 4, 1e-12);
}

TEST_CASE("torus: reproducible by seed and independent of the thread count", "[manifold][torus]") {
    for (bool flat : {false, true}) {
        const std::string json = torus_json(flat, 6, ", \"density\": \"irregular\", \"noise\": 0.01");
        mdlab::test::TestContext a(42), b(42), other(43);
        auto ta = prepared("torus", json, a);
        const Matrix xa = ta->sample(3000, a.stream("data"));
        CHECK(identical(xa, prepared("torus", json, b)->sample(3000, b.stream("data"))));
        CHECK(max_abs_diff(xa, prepared("torus", json, other)->sample(3000, other.stream("data"))) > 0.1);
        const Matrix probe = gaussian_points(3000, 6, 1.0, 8);
        Matrix x[2], p[2], c[2], qn[2];
        Vector d[2], qw[2];
        mdlab::TangentBases tb[2];
        for (int threads : {1, 2}) {
            tbb::task_arena arena(threads);
            arena.execute([&] {
                const int i = threads - 1;
                x[i] = ta->sample(3000, a.stream("data"));
                p[i] = ta->project(probe);
                d[i] = ta->distance(probe);
                c[i] = ta->intrinsic_coords(probe);
                ta->tangent_bases(probe, tb[i]);
                const mdlab::Quadrature q = ta->quadrature(40);
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
}
