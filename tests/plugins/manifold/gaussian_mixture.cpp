// The `gaussian_mixture` manifold: parameters, sample moments and the exact noised score.
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
