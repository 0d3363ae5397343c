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
#include <mdlab/npy.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "catalogue_checks.hpp"

// ---- gaussian mixture --------------------------------------------------------------------------

namespace {
struct Mixture {
    std::vector<std::vector<double>> mu;
    std::vector<double> w;
    double std = 0.0;
    std::vector<double> var;  // per-component variances; empty: std^2 for all
    double variance(std::size_t j) const { return var.empty() ? std * std : var[j]; }
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
// log sum_j w_j N(x; alpha mu_j, v_j I), v_j = alpha^2 var_j + sigma^2, in long double.
long double mixture_log_density(const Mixture& mix, const std::vector<double>& x, double alpha, double sigma) {
    std::vector<long double> l;
    long double top = -std::numeric_limits<long double>::infinity();
    for (std::size_t j = 0; j < mix.mu.size(); ++j) {
        const long double v = (long double)alpha * alpha * mix.variance(j) + (long double)sigma * sigma;
        long double r2 = 0.0;
        for (std::size_t a = 0; a < x.size(); ++a) {
            const long double r = x[a] - (long double)alpha * mix.mu[j][a];
            r2 += r * r;
        }
        l.push_back(std::log((long double)mix.w[j]) - r2 / (2 * v) - 0.5L * x.size() * std::log(2 * (long double)pi * v));
        top = std::max(top, l.back());
    }
    long double s = 0.0;
    for (long double e : l) s += std::exp(e - top);
    return top + std::log(s);
}

// The largest error of m's noised score against central differences of the mixture's log density,
// relative to |s| plus the score's natural scale 1 / sqrt(v) (the score vanishes between
// components), at the points `x`.
double worst_score_error(const mdlab::Manifold& m, const Mixture& mix, const Matrix& x, double alpha, double sigma) {
    const std::size_t D = mdlab::cols(x);
    Matrix score;
    REQUIRE(m.noised_score(x, alpha, sigma, score));
    double smallest_v = std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < mix.mu.size(); ++j)
        smallest_v = std::min(smallest_v, alpha * alpha * mix.variance(j) + sigma * sigma);
    double worst = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        std::vector<double> xi(x.data() + i * D, x.data() + (i + 1) * D);
        const double h = 1e-4 * std::sqrt(smallest_v);
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
        worst = std::max(worst, std::sqrt(err) / (std::sqrt(norm) + 1.0 / std::sqrt(smallest_v)));
    }
    return worst;
}

// The sample mean and covariance of x against the mixture's: sum_j w_j mu_j and
// sum_j w_j (var_j I + (mu_j - mean)(mu_j - mean)^T), within 5 standard errors.
void check_moments(const Matrix& x, const Mixture& mix) {
    const std::size_t n = mdlab::rows(x), D = mdlab::cols(x), K = mix.mu.size();
    std::vector<double> mean(D, 0.0), cov(D * D, 0.0);
    for (std::size_t j = 0; j < K; ++j)
        for (std::size_t a = 0; a < D; ++a) mean[a] += mix.w[j] * mix.mu[j][a];
    for (std::size_t a = 0; a < D; ++a)
        for (std::size_t b = 0; b < D; ++b) {
            double c = 0.0;
            for (std::size_t j = 0; j < K; ++j)
                c += mix.w[j] * ((a == b ? mix.variance(j) : 0.0) + (mix.mu[j][a] - mean[a]) * (mix.mu[j][b] - mean[b]));
            cov[a * D + b] = c;
        }
    for (std::size_t a = 0; a < D; ++a) {
        double m1 = 0.0;
        for (std::size_t i = 0; i < n; ++i) m1 += x(i, a);
        m1 /= n;
        INFO("coordinate " << a << ": mean " << m1 << ", expected " << mean[a]);
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
            INFO("covariance (" << a << ", " << b << ") = " << c << ", expected "
                             << cov[a * D + b] << " +- " << se);
            CHECK(std::abs(c - cov[a * D + b]) < 5.0 * se);
        }
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
        const Matrix x = m->sample(n, ctx.stream("data"));
        INFO("mean_dim " << mdim);
        check_moments(x, mix);
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
        const double worst = worst_score_error(*m, mix, all, alpha, sigma);
        INFO("alpha " << alpha << ", sigma " << sigma << ": largest relative error " << worst);
        CHECK(worst < 1e-6);
    }
    // alpha = 0: the noised law is N(0, sigma^2 I) and the score -x / sigma^2.
    Matrix s0;
    REQUIRE(m->noised_score(all, 0.0, 0.5, s0));
    CHECK(max_abs_diff(s0, all * (-4.0)) < 1e-12);
}

// ---- given means, weights and variances ---------------------------------------------------------

namespace {
// A 3-component mixture in R^2 with unequal variances, as given in the tests below.
Mixture given_mixture() {
    Mixture mix;
    mix.mu = {{-2.0, 0.5}, {1.5, 1.0}, {0.25, -1.75}};
    mix.w = {0.2, 0.5, 0.3};
    mix.var = {0.04, 0.25, 0.5};
    return mix;
}
const std::string given_json = R"({"components": 3, "means": [[-2, 0.5], [1.5, 1], [0.25, -1.75]],
                                   "weights": [2, 5, 3], "variances": [0.04, 0.25, 0.5]})";
}  // namespace

TEST_CASE("gaussian_mixture: given means, weights and variances give the closed-form law and score",
          "[manifold][gaussian_mixture]") {
    mdlab::test::TestContext ctx(5);
    auto m = prepared("gaussian_mixture", given_json, ctx);
    const Mixture mix = given_mixture();
    check_moments(m->sample(200000, ctx.stream("data")), mix);

    // Points at every component, between them and far away; times from almost clean to all noise.
    const Matrix x = m->sample(60, ctx.stream("points")) + gaussian_points(60, 2, 0.5, 7);
    const Matrix far = gaussian_points(10, 2, 25.0, 8);
    Matrix all = Matrix::from_shape({70, 2});
    for (std::size_t i = 0; i < 70; ++i)
        for (std::size_t a = 0; a < 2; ++a) all(i, a) = i < 60 ? x(i, a) : far(i - 60, a);
    for (auto [alpha, sigma] : {std::pair<double, double>{1.0, 0.01}, {1.0, 0.3}, {0.3, 0.95}, {0.05, 2.0}}) {
        const double worst = worst_score_error(*m, mix, all, alpha, sigma);
        INFO("alpha " << alpha << ", sigma " << sigma << ": largest relative error " << worst);
        CHECK(worst < 1e-6);
    }
}

TEST_CASE("gaussian_mixture: means as rows, flat numbers, .csv or .npy file are the same mixture",
          "[manifold][gaussian_mixture]") {
    mdlab::test::TestContext ctx(6);
    const auto dir = ctx.output_dir();
    write_text(dir / "means.csv", "x,y\n-2,0.5\n1.5,1\n0.25,-1.75\n");
    Matrix means = Matrix::from_shape({3, 2});
    const double values[] = {-2, 0.5, 1.5, 1, 0.25, -1.75};
    std::copy(values, values + 6, means.data());
    mdlab::npy::write(dir / "means.npy", means);
    write_text(dir / "variances.csv", "0.04\n0.25\n0.5\n");
    const std::string rest = R"("components": 3, "weights": [2, 5, 3])";
    auto reference = prepared("gaussian_mixture", given_json, ctx);
    const Matrix want = reference->sample(500, ctx.stream("data"));
    for (const std::string& json :
         {"{" + rest + R"(, "means": [-2, 0.5, 1.5, 1, 0.25, -1.75], "variances": [0.04, 0.25, 0.5]})",
          "{" + rest + R"(, "means_file": ")" + (dir / "means.csv").string() + R"(", "variances": [0.04, 0.25, 0.5]})",
          "{" + rest + R"(, "means_file": ")" + (dir / "means.npy").string() + R"(", "variances_file": ")" +
              (dir / "variances.csv").string() + R"("})"}) {
        INFO(json);
        auto m = prepared("gaussian_mixture", json, ctx);
        CHECK(identical(m->sample(500, ctx.stream("data")), want));
    }
}

TEST_CASE("gaussian_mixture: the means, weights and variances used are recorded in the cell folder",
          "[manifold][gaussian_mixture]") {
    {  // drawn means: the ones the documented draw gives; equal weights; std^2
        mdlab::test::TestContext ctx(7, "gm");
        prepared("gaussian_mixture", R"({"ambient_dim": 3, "components": 2, "spread": 2, "std": 0.5})", ctx);
        const Mixture mix = mixture_of(ctx, 3, 3, 2, 2.0, 0.5, {});
        const Matrix means = mdlab::npy::read(ctx.output_dir() / "gm.means.npy");
        REQUIRE(mdlab::rows(means) == 2);
        REQUIRE(mdlab::cols(means) == 3);
        for (std::size_t j = 0; j < 2; ++j)
            for (std::size_t a = 0; a < 3; ++a) CHECK(std::abs(means(j, a) - mix.mu[j][a]) < 1e-12);
        const Matrix w = mdlab::npy::read(ctx.output_dir() / "gm.weights.npy");
        const Matrix v = mdlab::npy::read(ctx.output_dir() / "gm.variances.npy");
        CHECK(w(0, 0) == 0.5);
        CHECK(w(1, 0) == 0.5);
        CHECK(v(0, 0) == 0.25);
        CHECK(v(1, 0) == 0.25);
    }
    {  // given: as given, the weights normalised
        mdlab::test::TestContext ctx(7, "gm");
        prepared("gaussian_mixture", given_json, ctx);
        const Mixture mix = given_mixture();
        const Matrix means = mdlab::npy::read(ctx.output_dir() / "gm.means.npy");
        const Matrix w = mdlab::npy::read(ctx.output_dir() / "gm.weights.npy");
        const Matrix v = mdlab::npy::read(ctx.output_dir() / "gm.variances.npy");
        REQUIRE(mdlab::rows(means) == 3);
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(means(j, 0) == mix.mu[j][0]);
            CHECK(means(j, 1) == mix.mu[j][1]);
            CHECK(std::abs(w(j, 0) - mix.w[j]) < 1e-15);
            CHECK(v(j, 0) == mix.var[j]);
        }
    }
}

TEST_CASE("gaussian_mixture: given parameters are refused with the key and what was expected",
          "[manifold][gaussian_mixture]") {
    mdlab::test::TestContext ctx(8);
    const auto dir = ctx.output_dir();
    write_text(dir / "three_cols.csv", "1,2,3\n4,5,6\n");
    write_text(dir / "bad_variances.csv", "0.1\n-0.2\n");
    write_text(dir / "grid.csv", "0.1,0.2\n0.3,0.4\n");
    expect_input_error("gaussian_mixture", R"({"components": 3, "means": [[0, 0], [1, 1]]})", "means",
                       {"4 numbers", "components x ambient_dim = 3 x 2 = 6"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "ambient_dim": 3, "means": [[0, 0], [1, 1]]})",
                       "means", {"2 x 3 = 6"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "means_file": ")" + (dir / "three_cols.csv").string() + "\"}",
                       "means_file", {"2 x 3", "components x ambient_dim = 2 x 2"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "means_file": ")" + (dir / "none.csv").string() + "\"}",
                       "means_file", {"no such file"});
    expect_input_error("gaussian_mixture",
                       R"({"components": 2, "means": [[0, 0], [1, 1]], "means_file": ")" + (dir / "three_cols.csv").string() + "\"}",
                       "means_file", {"not both"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "means": [[0, 0], [1, 1]], "spread": 3})", "spread");
    expect_input_error("gaussian_mixture", R"({"components": 2, "means": [[0, 0], [1, 1]], "mean_dim": 1})", "mean_dim");
    expect_input_error("gaussian_mixture", R"({"components": 3, "variances": [1, 2]})", "variances",
                       {"2 variances", "components = 3"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "variances_file": ")" + (dir / "bad_variances.csv").string() + "\"}",
                       "variances_file", {"component 1", "-0.2", "> 0"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "variances_file": ")" + (dir / "grid.csv").string() + "\"}",
                       "variances_file", {"single row or column"});
    expect_input_error("gaussian_mixture", R"({"components": 2, "variances": [1, 2], "std": 0.5})", "std");
    // Out-of-range list values and uneven rows are refused while the parameters are read.
    CHECK_THROWS_WITH(mdlab::test::make<mdlab::Manifold>("gaussian_mixture", R"({"components": 2, "variances": [1, 0]})"),
                      Catch::Contains("out of range"));
    CHECK_THROWS_WITH(mdlab::test::make<mdlab::Manifold>("gaussian_mixture", R"({"components": 2, "means": [[0, 0], [1]]})"),
                      Catch::Contains("row 1 has 1 numbers but row 0 has 2"));
}
