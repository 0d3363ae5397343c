// Helpers of the transport and kernel metric tests: brute-force transport over permutations,
// Gaussian samples, and the reference draws rebuilt from a TestContext.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/assignment.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "metric_value.hpp"

using mdlab::Matrix;

namespace {

// N(mean, scale^2 I_D) on R^D: the whole space is the "manifold" (k = D, exact projection).
class TestGaussian : public mdlab::Manifold {
public:
    TestGaussian(std::vector<double> mean, double scale) : mean_(std::move(mean)), scale_(scale) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return mean_.size(); }
    std::size_t intrinsic_dim() const override { return mean_.size(); }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        const std::size_t d = mean_.size();
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t c = 0; c < d; ++c) out[i * d + c] = mean_[c] + scale_ * rng.normal();
    }
    Matrix project(const Matrix& x) const override { return x; }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }

private:
    std::vector<double> mean_;
    double scale_;
};

std::shared_ptr<const mdlab::Manifold> gaussian(std::vector<double> mean, double scale = 1.0) {
    return std::make_shared<TestGaussian>(std::move(mean), scale);
}

using mdlab::test::value;

using mdlab::test::names;

mdlab::Values evaluate(const std::string& metric, const Matrix& samples, std::shared_ptr<const mdlab::Manifold> m,
                       const std::string& params = "{}", std::uint64_t seed = 3) {
    auto plugin = mdlab::test::make<mdlab::Metric>(metric, params);
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(samples));
    in.set("manifold", std::move(m));
    mdlab::test::TestContext ctx(seed);
    return plugin->evaluate(in, ctx);
}

// The draw a metric makes from its node stream `purpose` (TestContext(seed), node id "test").
Matrix drawn(const mdlab::Manifold& m, std::size_t n, const std::string& purpose, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    return m.sample(n, ctx.stream(purpose));
}

Matrix random_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix m = Matrix::from_shape({n, d});
    for (auto& x : m) x = scale * rng.normal();
    return m;
}

double dist_pow(const Matrix& a, std::size_t i, const Matrix& b, std::size_t j, double p) {
    double s = 0.0;
    for (std::size_t c = 0; c < mdlab::cols(a); ++c) s += (a(i, c) - b(j, c)) * (a(i, c) - b(j, c));
    return std::pow(std::sqrt(s), p);
}

// min over all permutations of sum_i cost[i][sigma(i)].
double brute_assignment(const std::vector<double>& cost, std::size_t n) {
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = INFINITY;
    do {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += cost[i * n + perm[i]];
        best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

double brute_wasserstein(const Matrix& x, const Matrix& y, double p) {
    const std::size_t n = mdlab::rows(x);
    std::vector<double> cost(n * n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) cost[i * n + j] = dist_pow(x, i, y, j, p);
    return std::pow(brute_assignment(cost, n) / double(n), 1.0 / p);
}

// W_p of two 1-D samples of equal size by the sorted (monotone) matching.
double sorted_wasserstein(std::vector<double> a, std::vector<double> b, double p) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += std::pow(std::abs(a[i] - b[i]), p);
    return std::pow(s / double(a.size()), 1.0 / p);
}

std::vector<double> column(const Matrix& m, std::size_t c = 0) {
    std::vector<double> v(mdlab::rows(m));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = m(i, c);
    return v;
}

// The directions sliced_wasserstein draws (its documented procedure).
Matrix directions(std::size_t L, std::size_t d, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    const auto stream = ctx.stream("directions");
    Matrix u = Matrix::from_shape({L, d});
    for (std::size_t c = 0; c * mdlab::random_chunk_rows < L; ++c) {
        mdlab::Rng rng = stream.chunk(c);
        for (std::size_t l = c * mdlab::random_chunk_rows; l < std::min(L, (c + 1) * mdlab::random_chunk_rows); ++l) {
            double s = 0.0;
            while (!(s > 0.0)) {
                s = 0.0;
                for (std::size_t a = 0; a < d; ++a) {
                    u(l, a) = rng.normal();
                    s += u(l, a) * u(l, a);
                }
            }
            for (std::size_t a = 0; a < d; ++a) u(l, a) /= std::sqrt(s);
        }
    }
    return u;
}

}  // namespace
