// Shared by the sampler tests: the exact score of Gaussian data N(0, s0^2 I) under any forward
// process (closed-form score, Tweedie factor and probability-flow map), running a sampler
// plugin, and checking sample moments against their Monte Carlo standard errors.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mdlab_test.hpp"

namespace mdlab::test {
using mdlab::Matrix;

// The exact score of N(0, s0^2 I) noised by `process`.
class GaussianScore : public mdlab::ScoreEstimator {
public:
    GaussianScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double s0)
        : p_(std::move(p)), d_(d), s0_(s0) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return d_; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    double variance(double t) const {
        const double a = p_->alpha(t), s = p_->sigma(t);
        return a * a * s0_ * s0_ + s * s;
    }
    void score(const Matrix& x, double t, Matrix& out) const override {
        if (mdlab::cols(x) != d_) throw mdlab::Error("GaussianScore: wrong dimension");
        out = x * (-1.0 / variance(t));
    }
    // Tweedie for this Gaussian: E[x0 | x_t = x] = alpha s0^2 x / (alpha^2 s0^2 + sigma^2).
    double denoise_factor(double t) const { return p_->alpha(t) * s0_ * s0_ / variance(t); }

private:
    std::shared_ptr<const mdlab::ForwardProcess> p_;
    std::size_t d_;
    double s0_;
};

// A score that turns NaN below t = 0.5: the sampler must stop with a clear error.
class BrokenScore : public GaussianScore {
public:
    using GaussianScore::GaussianScore;
    void score(const Matrix& x, double t, Matrix& out) const override {
        GaussianScore::score(x, t, out);
        if (t < 0.5) out(0, 0) = std::nan("");
    }
};

// Records progress; can pretend the user cancelled.
class RecordingContext : public mdlab::test::TestContext {
public:
    using TestContext::TestContext;
    void progress(double f) override { fractions.push_back(f); }
    bool cancelled() const override { return cancel; }
    std::vector<double> fractions;
    bool cancel = false;
};

inline mdlab::SampleResult run(const std::string& sampler, const std::string& params,
                        std::shared_ptr<const mdlab::ScoreEstimator> est, mdlab::Context& ctx) {
    auto s = mdlab::test::make<mdlab::Sampler>(sampler, params);
    mdlab::Inputs in;
    in.set("score", std::move(est));
    return s->sample(in, ctx);
}

inline mdlab::SampleResult run(const std::string& sampler, const std::string& params,
                        std::shared_ptr<const mdlab::ScoreEstimator> est, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    return run(sampler, params, std::move(est), ctx);
}

inline double stat(const mdlab::SampleResult& r, const std::string& name) {
    for (const auto& [k, v] : r.stats)
        if (k == name) return v;
    FAIL("no stat '" << name << "'");
    return 0.0;
}

inline Matrix normal_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix m = Matrix::from_shape({n, d});
    for (std::size_t k = 0; k < n * d; ++k) m.data()[k] = scale * rng.normal();
    return m;
}

inline bool identical(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Checks the sample mean and covariance of y against N(0, v0 I) with tolerances of z standard
// errors: SE(mean_j) = sqrt(v0/n), SE(var_j) = v0 sqrt(2/n), SE(cov_jk) = v0/sqrt(n), plus
// `bias` (a known, separately bounded discretisation offset of the variance).
inline void check_gaussian(const Matrix& y, double v0, double bias = 0.0, double z = 4.5) {
    const std::size_t n = mdlab::rows(y), d = mdlab::cols(y);
    const double s0 = std::sqrt(v0);
    std::vector<double> mean(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mean[j] += y(i, j) / double(n);
    for (std::size_t j = 0; j < d; ++j) {
        INFO("mean of coordinate " << j << " = " << mean[j]);
        CHECK(std::abs(mean[j]) <= z * s0 / std::sqrt(double(n)));
    }
    for (std::size_t j = 0; j < d; ++j)
        for (std::size_t k = j; k < d; ++k) {
            double c = 0.0;
            for (std::size_t i = 0; i < n; ++i) c += (y(i, j) - mean[j]) * (y(i, k) - mean[k]);
            c /= double(n - 1);
            INFO("covariance (" << j << ", " << k << ") = " << c << ", target " << (j == k ? v0 : 0.0));
            if (j == k) CHECK(std::abs(c - v0) <= z * v0 * std::sqrt(2.0 / double(n)) + bias);
            else CHECK(std::abs(c) <= z * v0 / std::sqrt(double(n)));
        }
}

// A sampler's `init` parameter naming a .npy file of initial points (JSON text, no braces).
inline std::string init_param(const std::filesystem::path& file) { return "\"init\": \"" + file.string() + "\""; }

// Largest |a - b| over the entries divided by the largest |b|.
inline double rel_diff(const Matrix& a, const Matrix& b) {
    REQUIRE(a.shape() == b.shape());
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        err = std::max(err, std::abs(a.data()[k] - b.data()[k]));
        scale = std::max(scale, std::abs(b.data()[k]));
    }
    return err / scale;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}


// The exact probability-flow map of N(0, s0^2 I): x_t = x_s sqrt(v(t) / v(s)) with
// v(t) = alpha(t)^2 s0^2 + sigma(t)^2 (each coordinate is scaled, the flow is linear).
inline double exact_flow_factor(const GaussianScore& g, double from, double to) {
    return std::sqrt(g.variance(to) / g.variance(from));
}

}  // namespace mdlab::test
