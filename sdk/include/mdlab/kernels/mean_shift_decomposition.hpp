// The exact decomposition of a radial kernel's mean shift into a score-based field and a
// residual (Lai et al., arXiv 2603.07514; SCIENCE.md section 5, claim 4).
//
// For a radial kernel k(x, y) = K(|x - y|), points P and a query x, let r_j = |p_j - x|,
// w_j = K(r_j) / sum_l K(r_l) the kernel weights and g(r) = -K'(r) / (r K(r)). Then
//
//   m(x) = E_w[p - x]                        (the mean shift),
//   s(x) = grad_x log sum_j K(|x - p_j|) = E_w[g(r) (p - x)]   (the score of P smoothed by K),
//   m(x) = lambda(x) s(x) + R(x),  lambda = 1 / E_w[g],
//   R(x) = E_w[(1 - g(r) / E_w[g]) (p - x)] = -Cov_w(g(r), p - x) / E_w[g],
//
// an identity (expand E_w[g (p - x)] = E_w[g] E_w[p - x] + Cov_w(g, p - x)): the mean shift is
// a preconditioned score of the kernel-smoothed measure plus a covariance residual.
//   gaussian  K = exp(-r^2 / (2 tau^2)): g = 1 / tau^2 is constant, lambda = tau^2, R = 0
//             (Tweedie: the mean shift is tau^2 times the smoothed score, exactly);
//   laplace   K = exp(-r / tau): g = 1 / (tau r), lambda = tau / E_w[1/r], and R is small where
//             the weighted distances concentrate (1/r nearly constant under w).
// The residual is computed in its covariance form, not as m - lambda s, so that it keeps its
// relative accuracy when it is small, and so that m = lambda s + R is a check between two
// computations. The Laplace score is not defined at a query that coincides with a point
// (g(0) is infinite): such a point must be excluded (the self-interaction of a particle) or the
// call throws.
//
// Each query is computed on its own (two passes over the points, sums in point order), queries
// in parallel: the result is bit-identical for any number of threads.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/mean_shift.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

// Per query (rows of M x D matrices): m, s, R as above, lambda, and spread = sd_w(g) / E_w[g],
// how far g(r) is from constant under the weights (0 for the Gaussian kernel; |R| <= spread
// times the weighted standard deviation of |p - x| by Cauchy-Schwarz).
struct MeanShiftParts {
    Matrix shift, score, residual;
    std::vector<double> scale, spread;
};

// No point excluded for this query.
inline constexpr std::size_t keep_all = std::numeric_limits<std::size_t>::max();

namespace mean_shift_parts_detail {

// One query; r and e are scratch of N doubles, skip the index of the point left out (or keep_all).
inline void one(const double* x, const Matrix& p, MeanShiftKernel kernel, double tau, std::size_t skip, double* r,
                double* e, double* shift, double* score, double* residual, double& scale, double& spread) {
    const std::size_t n = rows(p), d = cols(p);
    constexpr double inf = std::numeric_limits<double>::infinity();
    double top = -inf;  // the largest logit
    for (std::size_t j = 0; j < n; ++j) {
        if (j == skip) continue;
        double s = 0.0;
        for (std::size_t a = 0; a < d; ++a) s += (p(j, a) - x[a]) * (p(j, a) - x[a]);
        r[j] = std::sqrt(s);
        const double logit = kernel == MeanShiftKernel::gaussian ? -s / (2.0 * tau * tau) : -r[j] / tau;
        if (kernel == MeanShiftKernel::laplace && r[j] == 0.0)
            throw Error("mean_shift_parts: query and point " + std::to_string(j) +
                        " coincide: the Laplace-smoothed score is not defined there (exclude the point)");
        e[j] = logit;
        top = std::max(top, logit);
    }
    if (!(top > -inf)) throw Error("mean_shift_parts: no point is left for a query");
    auto g = [&](std::size_t j) { return kernel == MeanShiftKernel::gaussian ? 1.0 / (tau * tau) : 1.0 / (tau * r[j]); };
    double z = 0.0, gz = 0.0, g2z = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        if (j == skip) continue;
        e[j] = std::exp(e[j] - top);
        z += e[j];
        gz += e[j] * g(j);
        g2z += e[j] * g(j) * g(j);
    }
    const double mean_g = gz / z;
    spread = kernel == MeanShiftKernel::gaussian ? 0.0 : std::sqrt(std::max(0.0, g2z / z - mean_g * mean_g)) / mean_g;
    for (std::size_t a = 0; a < d; ++a) shift[a] = score[a] = residual[a] = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        if (j == skip) continue;
        const double gj = g(j), c = 1.0 - gj / mean_g;
        for (std::size_t a = 0; a < d; ++a) {
            const double disp = p(j, a) - x[a];
            shift[a] += e[j] * disp;
            score[a] += e[j] * gj * disp;
            residual[a] += e[j] * c * disp;
        }
    }
    for (std::size_t a = 0; a < d; ++a) {
        shift[a] /= z;
        score[a] /= z;
        residual[a] /= z;
    }
    scale = 1.0 / mean_g;
}

}  // namespace mean_shift_parts_detail

// The decomposition at every row of x against the points. skip (empty, or one entry per query):
// the index of a point left out of that query's sums (keep_all for none), e.g. the query's own
// index when the queries are the points (the self-interaction).
inline void mean_shift_parts(const Matrix& x, const Matrix& points, MeanShiftKernel kernel, double tau,
                             const std::vector<std::size_t>& skip, MeanShiftParts& out) {
    const std::size_t m = rows(x), n = rows(points), d = cols(points);
    if (n == 0) throw Error("mean_shift_parts: there are no points");
    if (cols(x) != d)
        throw Error("mean_shift_parts: the queries have " + std::to_string(cols(x)) + " columns, the points have " +
                    std::to_string(d));
    if (!(tau > 0.0) || !std::isfinite(tau) || !(tau * tau >= DBL_MIN))
        throw Error("mean_shift_parts: the bandwidth tau must be finite and at least 1.5e-154, got " + std::to_string(tau));
    if (!skip.empty() && skip.size() != m)
        throw Error("mean_shift_parts: " + std::to_string(skip.size()) + " excluded indices for " + std::to_string(m) +
                    " queries");
    out.shift.resize({m, d});
    out.score.resize({m, d});
    out.residual.resize({m, d});
    out.scale.assign(m, 0.0);
    out.spread.assign(m, 0.0);
    for_chunks(m, 8, [&](std::size_t, std::size_t b, std::size_t e) {
        std::vector<double> r(n), w(n);
        for (std::size_t i = b; i < e; ++i)
            mean_shift_parts_detail::one(row(x, i), points, kernel, tau, skip.empty() ? keep_all : skip[i], r.data(),
                                         w.data(), row(out.shift, i), row(out.score, i), row(out.residual, i),
                                         out.scale[i], out.spread[i]);
    });
}

}  // namespace mdlab::kernels
