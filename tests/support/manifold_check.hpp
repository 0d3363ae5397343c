// Shared by the manifold plugin tests: creating and preparing a manifold plugin, the embedding
// the plugins draw, small vector and matrix helpers, reference points, the documented coordinate
// densities, statistical checks (numeric CDF, Kolmogorov-Smirnov, mean and standard error,
// chi-square point), quadrature means, and the check of normal noise against the clean draw.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

namespace mdlab::test {

inline constexpr double pi = 3.14159265358979323846;
inline constexpr double two_pi = 2.0 * pi;

// Upper 0.1% point of chi-square with 19 degrees of freedom (20 bins).
inline constexpr double chi2_19_999 = 43.820;

inline std::shared_ptr<mdlab::Manifold> prepared(const std::string& name, const std::string& json,
                                                 TestContext& ctx) {
    auto m = make<mdlab::Manifold>(name, json);
    m->prepare(ctx);
    return m;
}

// The embedding the plugins draw: Isometry::random from the node's "embedding" stream, chunk 0.
inline mdlab::Isometry embedding_of(const mdlab::Context& ctx, std::size_t D, std::size_t m) {
    mdlab::Rng rng = ctx.stream("embedding").chunk(0);
    return mdlab::Isometry::random(D, m, rng);
}

inline double dot(const double* a, const double* b, std::size_t n) {
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
inline double norm(const std::vector<double>& v) { return std::sqrt(dot(v.data(), v.data(), v.size())); }

inline double row_dist(const mdlab::Matrix& a, std::size_t i, const mdlab::Matrix& b, std::size_t k) {
    double s = 0.0;
    for (std::size_t j = 0; j < mdlab::cols(a); ++j) s += (a(i, j) - b(k, j)) * (a(i, j) - b(k, j));
    return std::sqrt(s);
}

inline double max_abs_diff(const mdlab::Matrix& a, const mdlab::Matrix& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(a.data()[k] - b.data()[k]));
    return m;
}

template <class A>
inline bool identical(const A& a, const A& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// Points scattered around the origin at scale `scale`, off M with probability one.
inline mdlab::Matrix gaussian_points(std::size_t n, std::size_t D, double scale, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    mdlab::Matrix x = mdlab::Matrix::from_shape({n, D});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = scale * rng.normal();
    return x;
}

// A uniformly random unit vector in R^D.
inline std::vector<double> unit_vector(std::size_t D, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    std::vector<double> v(D);
    for (double& c : v) c = rng.normal();
    const double n = norm(v);
    for (double& c : v) c /= n;
    return v;
}

// The coordinate densities of mdlab/densities.hpp, written out from their formulas.
inline double coord_pdf(const std::string& shape, double kappa, double mode, double u) {
    if (shape == "uniform") return 1.0;
    if (shape == "von_mises") return std::exp(kappa * std::cos(two_pi * (u - mode))) / std::cyl_bessel_i(0.0, kappa);
    return (0.25 + std::abs(std::sin(two_pi * u))) / (0.25 + 2.0 / pi);
}

// The CDF on [lo, hi] of an unnormalised density, by the trapezoidal rule on a fine grid
// (error ~1e-8, far below the KS thresholds used here), linearly interpolated.
class NumericCdf {
public:
    NumericCdf(const std::function<double(double)>& f, double lo, double hi, std::size_t n = 40000)
        : lo_(lo), hi_(hi), F_(n + 1, 0.0) {
        const double h = (hi - lo) / static_cast<double>(n);
        double prev = f(lo);
        for (std::size_t i = 1; i <= n; ++i) {
            const double cur = f(lo + h * static_cast<double>(i));
            F_[i] = F_[i - 1] + 0.5 * h * (prev + cur);
            prev = cur;
        }
        for (double& v : F_) v /= F_[n];
    }
    double operator()(double x) const {
        const double s = (x - lo_) / (hi_ - lo_) * static_cast<double>(F_.size() - 1);
        if (s <= 0.0) return 0.0;
        const std::size_t i = static_cast<std::size_t>(s);
        if (i + 1 >= F_.size()) return 1.0;
        return F_[i] + (s - static_cast<double>(i)) * (F_[i + 1] - F_[i]);
    }

private:
    double lo_, hi_;
    std::vector<double> F_;
};

// Kolmogorov-Smirnov statistic sup |F_n - F|.
inline double ks_statistic(std::vector<double> v, const std::function<double(double)>& cdf) {
    std::sort(v.begin(), v.end());
    const double n = static_cast<double>(v.size());
    double d = 0.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double f = cdf(v[i]);
        d = std::max({d, static_cast<double>(i + 1) / n - f, f - static_cast<double>(i) / n});
    }
    return d;
}
// P(sqrt(n) D_n > 1.949) = 0.001 (Kolmogorov distribution).
inline double ks_critical(std::size_t n) { return 1.949 / std::sqrt(static_cast<double>(n)); }

// Sample mean and its standard error.
inline std::pair<double, double> mean_se(const std::vector<double>& v) {
    double m = 0.0, s2 = 0.0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) s2 += (x - m) * (x - m);
    s2 /= static_cast<double>(v.size() - 1);
    return {m, std::sqrt(s2 / static_cast<double>(v.size()))};
}

// The quadrature's weighted mean of f over its nodes.
inline double quad_mean(const mdlab::Quadrature& q, const std::function<double(const double*)>& f) {
    double s = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(q.nodes); ++i) s += q.weights(i) * f(mdlab::row(q.nodes, i));
    return s;
}

// Draws with `noise` = s and without from the same stream: the difference must be normal noise
// of scale s: orthogonal to the tangent space at the clean point, mapped back onto that point by
// the projection (to project_tol), with E dist^2 = c s^2 (c = D - k, the codimension;
// dist^2 / s^2 ~ chi^2_c).
inline void check_normal_noise(const std::string& name, const std::string& clean_json, const std::string& noisy_json,
                               double s, std::size_t codim, double project_tol = 1e-12) {
    const std::size_t n = 20000;
    TestContext ctx(41);
    auto clean_m = prepared(name, clean_json, ctx);
    auto noisy_m = prepared(name, noisy_json, ctx);
    CHECK(clean_m->normal_noise() == 0.0);
    CHECK(noisy_m->normal_noise() == s);
    const mdlab::Matrix clean = clean_m->sample(n, ctx.stream("data"));
    const mdlab::Matrix noisy = noisy_m->sample(n, ctx.stream("data"));
    const std::size_t D = mdlab::cols(clean), k = clean_m->intrinsic_dim();
    REQUIRE(codim == D - k);
    mdlab::TangentBases tb;
    clean_m->tangent_bases(clean, tb);
    const mdlab::Vector d = noisy_m->distance(noisy);
    const mdlab::Matrix p = noisy_m->project(noisy);
    double worst_tan = 0.0, worst_dist = 0.0, sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> diff(D);
        for (std::size_t c = 0; c < D; ++c) diff[c] = noisy(i, c) - clean(i, c);
        for (std::size_t j = 0; j < k; ++j) {
            double t = 0.0;
            for (std::size_t c = 0; c < D; ++c) t += tb(i, c, j) * diff[c];
            worst_tan = std::max(worst_tan, std::abs(t));
        }
        worst_dist = std::max(worst_dist, std::abs(d(i) - norm(diff)));
        sum += d(i) * d(i) / (s * s);
    }
    const double mean = sum / double(n), se = std::sqrt(2.0 * double(codim) / double(n));
    INFO(name << ": |T^T noise| <= " << worst_tan << ", |dist - |noise|| <= " << worst_dist << ", E dist^2 / s^2 = " << mean
              << " (codimension " << codim << ", standard error " << se << ")");
    CHECK(worst_tan < 1e-11 * s);
    CHECK(worst_dist < project_tol);
    CHECK(max_abs_diff(p, clean) < project_tol);
    CHECK(std::abs(mean - double(codim)) < 4.0 * se);
}

}  // namespace mdlab::test
