// The tangent_smoothed estimator against the tangent two-pass softmax with an independent
// local PCA, the exact Gaussian mixture on a linear subspace, and its local PCA and Jacobi
// eigen-solver directly.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/bandwidth_cv.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "tangent_reference.hpp"

// =============================================================================================
// tangent_smoothed.

TEST_CASE("tangent_smoothed with h = 0 is the empirical score, bit for bit", "[tangent_smoothed]") {
    auto proc = vp();
    auto circle = manifold("circle", R"({"ambient_dim": 4})");
    auto data = draw(*circle, 211);
    auto empirical = estimator("empirical", "{}", data, proc);
    auto tangent = estimator("tangent_smoothed", R"({"bandwidth": 0, "neighbours": 6})", data, proc, circle);
    for (double t : {0.8, 0.1, time_for_variance(*proc, 1e-6)}) {
        const Matrix x = queries(*data, 50, proc->alpha(t), proc->sigma(t), 95);
        Matrix a, b;
        empirical->score(x, t, a);
        tangent->score(x, t, b);
        CHECK(identical(a, b));
    }
}

TEST_CASE("tangent_smoothed equals the tangent two-pass softmax with independently computed local PCA bases",
          "[tangent_smoothed]") {
    auto proc = vp();
    struct Case {
        std::string manifold, params, estimator;
        std::size_t k, n, neighbours;
    };
    const std::vector<Case> cases = {
        {"circle", R"({"ambient_dim": 5, "radius": 1.5})", R"({"bandwidth": 0.1, "neighbours": 8})", 1, 300, 8},
        {"sphere", R"({"k": 2, "ambient_dim": 6})", R"({"bandwidth": 0.2, "neighbours": 12, "intrinsic_dim": 2})", 2, 400, 12},
    };
    Tally tally;
    double worst_basis = 0.0;
    for (const Case& c : cases) {
        auto m = manifold(c.manifold, c.params);
        auto data = draw(*m, c.n);
        auto est = estimator("tangent_smoothed", c.estimator, data, proc, m);
        const TangentBases bases = pca_reference(*data, c.neighbours, c.k);
        // The reference bases against the plugin's own local PCA (same header the plugin runs).
        const auto own = mdlab_local_pca::tangent_bases(*data, c.neighbours, c.k);
        CHECK(own.undetermined == 0);
        for (std::size_t i = 0; i < c.n; ++i)
            for (std::size_t a = 0; a < mdlab::cols(*data); ++a)
                for (std::size_t b = 0; b < mdlab::cols(*data); ++b) {
                    double p = 0, q = 0;  // projector entries U U^T
                    for (std::size_t j = 0; j < c.k; ++j) {
                        p += own.bases(i, a, j) * own.bases(i, b, j);
                        q += bases(i, a, j) * bases(i, b, j);
                    }
                    worst_basis = std::max(worst_basis, std::abs(p - q));
                }
        const double h = c.manifold == "circle" ? 0.1 : 0.2;
        for (double t : {0.5, 0.1, 0.02, time_for_variance(*proc, 1e-5)}) {
            const double a = proc->alpha(t), s = proc->sigma(t), tau = a * a * h * h;
            const Matrix x = queries(*data, 30, a, std::sqrt(s * s + tau), 96);
            Matrix got;
            est->score(x, t, got);
            for_rows(x, [&](std::size_t q, const double* xq) {
                INFO(c.manifold << ", t = " << t << " (tau / sigma^2 = " << tau / (s * s) << "), query " << q);
                const Reference ref = reference(xq, *data, a, s * s, nullptr, &bases, tau);
                const double e = abs_error(mdlab::row(got, q), ref.score);
                // The two local PCAs agree to worst_basis in U U^T; a change dP of the projector
                // moves each logit by about c |r|^2 |dP| / (2 v) and each component by c |r| |dP| / v.
                const double basis_tol = 4.0 * worst_basis * double(ref.logit_condition + ref.component_condition);
                CHECK(e <= tolerance(ref, c.k) + basis_tol);
                tally.add(e, ref);
            });
        }
    }
    WARN("tangent_smoothed vs independent PCA: projectors agree to " << worst_basis << "; worst relative error "
         << tally.worst << ", " << tally.above << " of " << tally.rows << " rows above 1e-12");
    CHECK(worst_basis < 1e-12);
}

TEST_CASE("tangent_smoothed on a linear subspace is the exact Gaussian mixture with covariance "
          "sigma^2 I + alpha^2 h^2 Q Q^T", "[tangent_smoothed]") {
    auto proc = vp();
    const std::size_t D = 4, k = 2, n = 150;
    auto m = manifold("linear_subspace", R"({"k": 2, "ambient_dim": 4, "scale": 1.0})");
    auto data = draw(*m, n);
    const double h = 0.3;
    auto est = estimator("tangent_smoothed", R"({"bandwidth": 0.3, "neighbours": 5})", data, proc, m);
    // Q from the manifold itself (its embedding), not from any PCA.
    TangentBases qb;
    m->tangent_bases(*data, qb);
    double worst = 0.0;
    for (double t : {0.6, 0.1, 0.01}) {
        const double a = proc->alpha(t), s = proc->sigma(t);
        // Sigma = s^2 I + a^2 h^2 Q Q^T and its inverse by Gauss-Jordan elimination in long double.
        std::vector<LD> cov(D * D), inv(D * D, 0);
        for (std::size_t i = 0; i < D; ++i) {
            inv[i * D + i] = 1;
            for (std::size_t j = 0; j < D; ++j) {
                LD qq = 0;
                for (std::size_t c = 0; c < k; ++c) qq += LD(qb(0, i, c)) * qb(0, j, c);
                cov[i * D + j] = (i == j ? LD(s) * s : 0) + LD(a) * a * h * h * qq;
            }
        }
        for (std::size_t c = 0; c < D; ++c) {
            std::size_t piv = c;
            for (std::size_t r = c + 1; r < D; ++r)
                if (std::abs(cov[r * D + c]) > std::abs(cov[piv * D + c])) piv = r;
            for (std::size_t j = 0; j < D; ++j) std::swap(cov[c * D + j], cov[piv * D + j]), std::swap(inv[c * D + j], inv[piv * D + j]);
            const LD p = cov[c * D + c];
            for (std::size_t j = 0; j < D; ++j) cov[c * D + j] /= p, inv[c * D + j] /= p;
            for (std::size_t r = 0; r < D; ++r) {
                if (r == c) continue;
                const LD f = cov[r * D + c];
                for (std::size_t j = 0; j < D; ++j) cov[r * D + j] -= f * cov[c * D + j], inv[r * D + j] -= f * inv[c * D + j];
            }
        }
        const Matrix x = queries(*data, 40, a, std::sqrt(s * s + a * a * h * h), 97);
        Matrix got;
        est->score(x, t, got);
        for (std::size_t q = 0; q < mdlab::rows(x); ++q) {
            // Mixture of equal-weight N(a x_i, Sigma): logit_i = -r^T Sigma^-1 r / 2, score -Sigma^-1 r.
            std::vector<LD> logit(n), comp(n * D);
            LD top = -std::numeric_limits<LD>::infinity();
            for (std::size_t i = 0; i < n; ++i) {
                std::vector<LD> r(D);
                for (std::size_t j = 0; j < D; ++j) r[j] = x(q, j) - LD(a) * (*data)(i, j);
                LD quad = 0;
                for (std::size_t j = 0; j < D; ++j) {
                    LD sr = 0;
                    for (std::size_t l = 0; l < D; ++l) sr += inv[j * D + l] * r[l];
                    comp[i * D + j] = -sr;
                    quad += r[j] * sr;
                }
                logit[i] = -quad / 2;
                top = std::max(top, logit[i]);
            }
            std::vector<LD> want(D, 0);
            LD total = 0;
            for (std::size_t i = 0; i < n; ++i) total += std::exp(logit[i] - top);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < D; ++j) want[j] += std::exp(logit[i] - top) / total * comp[i * D + j];
            const double rel = abs_error(mdlab::row(got, q), want) / double(norm(want));
            worst = std::max(worst, rel);
            INFO("t = " << t << ", query " << q);
            // Local PCA of points lying in the plane recovers Q Q^T to rounding (~1e-16), which the
            // score amplifies by about (tau / sigma^2) |logit| (<= 1e3 here): 1e-12 relative holds.
            CHECK(rel <= 1e-12);
        }
    }
    WARN("tangent_smoothed on a plane vs the exact full-covariance mixture: worst relative error " << worst);
}

TEST_CASE("tangent_smoothed is identical with 1 and 2 threads", "[tangent_smoothed][threads]") {
    auto proc = vp();
    auto m = manifold("sphere", R"({"k": 2, "ambient_dim": 5})");
    auto data = draw(*m, 500);
    const Matrix x = normal_matrix(400, 5, 98);
    Matrix one, two;
    tbb::task_arena(1).execute([&] {
        estimator("tangent_smoothed", R"({"neighbours": 9})", data, proc, m)->score(x, 0.1, one);
    });
    tbb::task_arena(2).execute([&] {
        estimator("tangent_smoothed", R"({"neighbours": 9})", data, proc, m)->score(x, 0.1, two);
    });
    CHECK(identical(one, two));
}

// =============================================================================================
// The local PCA and the Jacobi eigen-solver of the plugin (its header, called directly).

TEST_CASE("Jacobi eigen-solver recovers a known spectrum", "[tangent_smoothed][pca]") {
    for (std::size_t n : {1, 2, 7, 33}) {
        // A = Q diag(lambda) Q^T with a random orthogonal Q and a repeated eigenvalue.
        std::vector<LD> q(n * n);
        mdlab::Rng rng(200 + n);
        for (LD& v : q) v = rng.normal();
        orthonormalise(q, n, n);
        std::vector<double> lambda(n);
        for (std::size_t i = 0; i < n; ++i) lambda[i] = i == 1 ? lambda[0] : 10.0 * rng.normal();
        std::vector<double> a(n * n);
        double scale = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                LD s = 0;
                for (std::size_t l = 0; l < n; ++l) s += q[i * n + l] * lambda[l] * q[j * n + l];
                a[i * n + j] = double(s);
            }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];  // exactly symmetric
        for (double l : lambda) scale = std::max(scale, std::abs(l));
        const std::vector<double> original = a;
        std::vector<double> w, v;
        mdlab_local_pca::symmetric_eigen(a, n, w, v);
        std::vector<double> sorted = lambda;
        std::sort(sorted.rbegin(), sorted.rend());
        for (std::size_t i = 0; i < n; ++i) {
            INFO("n = " << n << ", eigenvalue " << i);
            CHECK(std::abs(w[i] - sorted[i]) <= 64 * n * eps * scale);
            if (i > 0) CHECK(w[i] <= w[i - 1]);
            // Residual |A v - w v| and orthonormality.
            double res = 0.0;
            for (std::size_t r = 0; r < n; ++r) {
                LD s = 0;
                for (std::size_t c = 0; c < n; ++c) s += LD(original[r * n + c]) * v[c * n + i];
                res = std::max(res, double(std::abs(s - LD(w[i]) * v[r * n + i])));
            }
            CHECK(res <= 64 * n * eps * scale);
            for (std::size_t j = 0; j <= i; ++j) {
                LD dot = 0;
                for (std::size_t r = 0; r < n; ++r) dot += LD(v[r * n + i]) * v[r * n + j];
                CHECK(std::abs(double(dot) - (i == j ? 1.0 : 0.0)) <= 64 * n * eps);
            }
        }
    }
}

TEST_CASE("local PCA on a circle recovers the tangent direction", "[tangent_smoothed][pca]") {
    // sin of the angle between the estimated direction u and the true tangent at the point.
    auto angle_error = [](const Matrix& x, const TangentBases& b, std::size_t i) {
        const double th = std::atan2(x(i, 1), x(i, 0));
        const double t0 = -std::sin(th), t1 = std::cos(th);
        const double dot = b(i, 0, 0) * t0 + b(i, 1, 0) * t1;
        double perp = 0.0;
        for (std::size_t a = 0; a < mdlab::cols(x); ++a) {
            const double e = b(i, a, 0) - dot * (a == 0 ? t0 : a == 1 ? t1 : 0.0);
            perp += e * e;
        }
        return std::sqrt(perp);
    };
    // Equispaced points and an even number of neighbours: every neighbourhood is symmetric about
    // its point, so the principal direction is the tangent exactly (up to rounding).
    {
        const std::size_t n = 500;
        Matrix x = Matrix::from_shape({n, 3});
        for (std::size_t i = 0; i < n; ++i) {
            const double th = 2.0 * 3.14159265358979323846 * (static_cast<double>(i) + 0.3) / static_cast<double>(n);
            x(i, 0) = std::cos(th), x(i, 1) = std::sin(th), x(i, 2) = 0.0;
        }
        const auto est = mdlab_local_pca::tangent_bases(x, 6, 1);
        double worst = 0.0;
        for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, angle_error(x, est.bases, i));
        INFO("symmetric neighbourhoods: worst angle " << worst);
        CHECK(worst < 1e-10);
    }
    // Uniform random points: the principal direction is the chord of the neighbourhood's arc,
    // i.e. the tangent at the neighbourhood's centre of mass, off by O(spacing) (the first-order
    // term -mean(phi) - mu_3 / (2 var(phi)) in the offsets phi). Mean angle error against N:
    // order 1 in the spacing 2 pi / N.
    std::vector<double> mean_err;
    const std::vector<std::size_t> sizes = {500, 1000, 2000, 4000};
    for (std::size_t n : sizes) {
        mdlab::Rng rng(300);
        Matrix x = Matrix::from_shape({n, 3});
        for (std::size_t i = 0; i < n; ++i) {
            const double th = 2.0 * 3.14159265358979323846 * rng.uniform();
            x(i, 0) = std::cos(th), x(i, 1) = std::sin(th), x(i, 2) = 0.0;
        }
        const auto est = mdlab_local_pca::tangent_bases(x, 6, 1);
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += angle_error(x, est.bases, i);
        mean_err.push_back(s / static_cast<double>(n));
    }
    const double order = std::log(mean_err.front() / mean_err.back()) / std::log(static_cast<double>(sizes.back()) / sizes.front());
    WARN("local PCA on random circle points, 6 neighbours: mean angle error " << mean_err[0] << " .. " << mean_err[3]
         << " for N = 500 .. 4000, fitted order " << order << " in the spacing");
    // Each N's mean is over N points (relative standard error ~ 1/sqrt(N) <= 5%), so the fitted
    // order over a factor 8 in N is within +-0.1 of the true order 1.
    CHECK(order == Approx(1.0).margin(0.1));
    for (double e : mean_err) CHECK(e < 6.0 * 2.0 * 3.14159265358979323846 / 500);
}

TEST_CASE("local PCA of coincident points completes the basis", "[tangent_smoothed][pca]") {
    // Three copies of one point and two of another: the neighbourhood of a copy spans 1 direction.
    Matrix x = Matrix::from_shape({5, 3});
    std::fill(x.begin(), x.end(), 0.0);
    x(3, 0) = x(4, 0) = 1.0;
    const auto est = mdlab_local_pca::tangent_bases(x, 2, 2);
    CHECK(est.undetermined >= 3);
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t j = 0; j < 2; ++j)
            for (std::size_t l = 0; l <= j; ++l) {
                double dot = 0.0;
                for (std::size_t a = 0; a < 3; ++a) dot += est.bases(i, a, j) * est.bases(i, a, l);
                CHECK(dot == Approx(j == l ? 1.0 : 0.0).margin(1e-14));
            }
}
