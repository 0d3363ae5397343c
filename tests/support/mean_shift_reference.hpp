// The mean shift in long double and its decomposition into lambda x smoothed score + residual,
// and helpers to create the drift estimator and the drift_score_gap metric; shared by their
// tests and the mean-shift kernel's.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/kernels/mean_shift_decomposition.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "metric_value.hpp"
#include "error_key.hpp"

using mdlab::Matrix;
using mdlab::kernels::MeanShiftKernel;
using mdlab::test::identical;
using mdlab::test::normal_matrix;

namespace {

constexpr double eps = std::numeric_limits<double>::epsilon();

// The key named by what f throws: a parameter rejected by the registry (BadInput) or an
// InputError of the plugin; "<none>" when nothing is thrown.
using mdlab::test::error_key;

// alpha = 1, sigma = tau at every t: under it the empirical estimator's score is the score of
// the Gaussian-smoothed empirical measure, s_P,tau.
class ConstantNoise : public mdlab::ForwardProcess {
public:
    explicit ConstantNoise(double tau) : tau_(tau) {}
    double t_end() const override { return 1.0; }
    double alpha(double) const override { return 1.0; }
    double sigma(double) const override { return tau_; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 0.0; }

private:
    double tau_;
};

std::shared_ptr<mdlab::ScoreEstimator> make_empirical(std::shared_ptr<const Matrix> data, double tau) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(std::make_shared<ConstantNoise>(tau)));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

std::shared_ptr<mdlab::ScoreEstimator> make_drift(const std::string& params, std::shared_ptr<const Matrix> data,
                                                  std::shared_ptr<const Matrix> model = nullptr,
                                                  std::shared_ptr<const mdlab::ForwardProcess> process = nullptr) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("drift", params);
    mdlab::Inputs in;
    in.set("data", std::move(data));
    if (model) in.set("model", std::move(model));
    if (process) in.set("process", std::move(process));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// Direct mean shift in long double: logits l_j (-|x - p_j|^2 / (2 tau^2) or -|x - p_j| / tau),
// shifted by their maximum (a plain exp underflows at small tau), weights, weighted mean of
// p_j - x. `condition` = sum_j w_j |(p_j - x) - m| (|l_j| + |l_max|): how much m moves when
// every logit moves by its size times one unit of relative error (rounding the distances in
// double does that; no double computation can beat eps times it).
struct Shift {
    std::vector<long double> m;
    long double condition = 0;
    bool naive_underflow = false;  // the unshifted double weights all underflow: 0/0 naively
};

Shift direct_shift(const double* x, const Matrix& p, MeanShiftKernel kernel, double tau) {
    const std::size_t n = mdlab::rows(p), d = mdlab::cols(p);
    std::vector<long double> logit(n);
    long double mx = -std::numeric_limits<long double>::infinity();
    double naive = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        long double s = 0;
        for (std::size_t a = 0; a < d; ++a) s += ((long double)p(j, a) - x[a]) * ((long double)p(j, a) - x[a]);
        logit[j] = kernel == MeanShiftKernel::gaussian ? -s / (2.0L * tau * tau) : -std::sqrt(s) / tau;
        mx = std::max(mx, logit[j]);
        naive += std::exp(double(logit[j]));
    }
    Shift r;
    r.naive_underflow = naive == 0.0;
    r.m.assign(d, 0);
    std::vector<long double> w(n);
    long double total = 0;
    for (std::size_t j = 0; j < n; ++j) total += w[j] = std::exp(logit[j] - mx);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t a = 0; a < d; ++a) r.m[a] += w[j] * ((long double)p(j, a) - x[a]);
    for (auto& v : r.m) v /= total;
    for (std::size_t j = 0; j < n; ++j) {
        long double dev = 0;
        for (std::size_t a = 0; a < d; ++a) {
            const long double e = (long double)p(j, a) - x[a] - r.m[a];
            dev += e * e;
        }
        r.condition += w[j] / total * std::sqrt(dev) * (std::abs(logit[j]) + std::abs(mx));
    }
    return r;
}

long double norm(const std::vector<long double>& v) {
    long double s = 0;
    for (auto x : v) s += x * x;
    return std::sqrt(s);
}

double abs_error(const double* got, const std::vector<long double>& want) {
    long double s = 0;
    for (std::size_t a = 0; a < want.size(); ++a) s += (got[a] - want[a]) * (got[a] - want[a]);
    return double(std::sqrt(s));
}

// 1e-12 relative, plus the problem's own conditioning at a generous 16 (D + 1) ulps of the logits.
double tolerance(const Shift& s) {
    return double(1e-12L * norm(s.m) + 16.0L * (s.m.size() + 1) * eps * s.condition);
}

// N points of the unit circle (uniform angles) embedded in R^D by a random isometry, plus
// isotropic noise of standard deviation `noise` in R^D.
Matrix circle(std::size_t n, std::size_t d, double noise, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    mdlab::Rng emb(12345);  // the same plane for every call with this D
    const mdlab::Isometry iso = mdlab::Isometry::random(d, 2, emb);
    Matrix x = Matrix::from_shape({n, d});
    for (std::size_t i = 0; i < n; ++i) {
        const double th = 6.283185307179586 * rng.uniform();
        const double z[2] = {std::cos(th), std::sin(th)};
        iso.embed_row(z, mdlab::row(x, i));
        for (std::size_t a = 0; a < d; ++a) x(i, a) += noise * rng.normal();
    }
    return x;
}

using mdlab::test::value;

mdlab::Values gap(const std::string& params, std::shared_ptr<const Matrix> samples, std::shared_ptr<const Matrix> data,
                  std::uint64_t seed = 5) {
    auto metric = mdlab::test::make<mdlab::Metric>("drift_score_gap", params);
    mdlab::Inputs in;
    in.set("samples", std::move(samples));
    in.set("data", std::move(data));
    mdlab::test::TestContext ctx(seed, "gap");
    return metric->evaluate(in, ctx);
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

}  // namespace

// ------------------------------------------------------------- the exact decomposition (claim 4)

namespace {

// Direct decomposition in long double, by the other route: the score s = grad log sum_j K(|x - p_j|)
// by central differences of the log kernel sum, lambda = 1 / E_w[g], and R = m - lambda s.
struct Parts {
    std::vector<long double> m, s, r;
    long double lambda = 0;
};

long double log_kernel_sum(const std::vector<long double>& x, const Matrix& p, MeanShiftKernel kernel, double tau,
                           std::size_t skip) {
    std::vector<long double> l;
    for (std::size_t j = 0; j < mdlab::rows(p); ++j) {
        if (j == skip) continue;
        long double q = 0;
        for (std::size_t a = 0; a < x.size(); ++a) q += (p(j, a) - x[a]) * (p(j, a) - x[a]);
        l.push_back(kernel == MeanShiftKernel::gaussian ? -q / (2.0L * tau * tau) : -std::sqrt(q) / tau);
    }
    const long double top = *std::max_element(l.begin(), l.end());
    long double z = 0;
    for (auto v : l) z += std::exp(v - top);
    return top + std::log(z);
}

Parts direct_parts(const double* x, const Matrix& p, MeanShiftKernel kernel, double tau, std::size_t skip) {
    const std::size_t n = mdlab::rows(p), d = mdlab::cols(p);
    Matrix kept = Matrix::from_shape({n - (skip < n ? 1 : 0), d});
    for (std::size_t j = 0, k = 0; j < n; ++j)
        if (j != skip) std::copy(mdlab::row(p, j), mdlab::row(p, j) + d, mdlab::row(kept, k++));
    Parts r;
    r.m = direct_shift(x, kept, kernel, tau).m;
    // E_w[g] with w the kernel weights, g = 1/tau^2 or 1/(tau r).
    long double top = -std::numeric_limits<long double>::infinity(), z = 0, gz = 0;
    std::vector<long double> l(mdlab::rows(kept)), g(l.size());
    for (std::size_t j = 0; j < l.size(); ++j) {
        long double q = 0;
        for (std::size_t a = 0; a < d; ++a) q += (kept(j, a) - x[a]) * (kept(j, a) - x[a]);
        l[j] = kernel == MeanShiftKernel::gaussian ? -q / (2.0L * tau * tau) : -std::sqrt(q) / tau;
        g[j] = kernel == MeanShiftKernel::gaussian ? 1.0L / ((long double)tau * tau) : 1.0L / (tau * std::sqrt(q));
        top = std::max(top, l[j]);
    }
    for (std::size_t j = 0; j < l.size(); ++j) z += std::exp(l[j] - top), gz += std::exp(l[j] - top) * g[j];
    r.lambda = z / gz;
    std::vector<long double> xv(x, x + d);
    const long double h = 1e-4L * tau;
    r.s.assign(d, 0);
    r.r.assign(d, 0);
    for (std::size_t a = 0; a < d; ++a) {  // fourth-order central difference
        auto at = [&](long double t) {
            auto y = xv;
            y[a] += t;
            return log_kernel_sum(y, p, kernel, tau, skip);
        };
        r.s[a] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        r.r[a] = r.m[a] - r.lambda * r.s[a];
    }
    return r;
}

double distance(const double* got, const std::vector<long double>& want, long double scale = 1) {
    long double e = 0;
    for (std::size_t a = 0; a < want.size(); ++a) e += (got[a] - scale * want[a]) * (got[a] - scale * want[a]);
    return double(std::sqrt(e));
}

}  // namespace
