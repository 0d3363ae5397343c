// The mean-shift field of a point set, shared by the drifting sampler, the drift estimator and
// the drift_score_gap metric (SCIENCE.md sections 2 'drift' and 5 claim 4): for queries X (M x D),
// points P (N x D), a kernel k and a bandwidth (temperature) tau > 0,
//
//   m_k(x; P) = sum_j k(x, p_j) (p_j - x) / sum_j k(x, p_j),
//
// the kernel-weighted mean of the points minus the query, for
//   gaussian: k(x, y) = exp(-|x - y|^2 / (2 tau^2)),
//   laplace:  k(x, y) = exp(-|x - y| / tau).
//
// Gaussian kernel: m_k(x; P) = tau^2 grad log sum_j N(x; p_j, tau^2 I), i.e. tau^2 times the
// score of the Gaussian-smoothed empirical measure of P. That is exactly the softmax score of
// mdlab/kernels/softmax_score.hpp with a = 1 and v = tau^2, so the Gaussian case calls it (one
// implementation of that kernel in the SDK) and multiplies by tau^2.
//
// Laplace kernel: the weights are a softmax of the logits -|x - p_j| / tau, computed here the
// same way (flash-attention style): the points are packed once in SoftmaxKeys blocks; each
// query streams over the blocks keeping the running minimum distance (the running maximum
// logit), the normaliser and the accumulator sum_j e_j (p_j - x), rescaled whenever the minimum
// moves. No M x N matrix is held; the nearest point always has weight exp(0) = 1, so nothing
// underflows to 0/0 at tiny tau, and nothing overflows. The accumulator holds sum e_j (p_j - x)
// directly (not the weighted mean of the points minus x), so the result stays accurate when the
// field is small next to |x|. Sums over points are kept in fixed partial sums combined in a
// fixed order, and each query's result depends only on that query: queries run in parallel
// (mdlab::for_chunks) and the result is bit-identical for any number of threads.
//
// The Laplace field is not a score difference: grad_x log sum_j k(x, p_j) = (1/tau) sum_j w_j
// (p_j - x) / |p_j - x|, which weights each displacement by 1/|p_j - x|. The exact split of the
// mean shift into a preconditioned score and a residual is mean_shift_decomposition.hpp.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/softmax_score.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

enum class MeanShiftKernel { gaussian, laplace };

inline const char* to_string(MeanShiftKernel k) { return k == MeanShiftKernel::gaussian ? "gaussian" : "laplace"; }

// "gaussian" or "laplace" (the choices plugins offer as their `kernel` parameter).
inline MeanShiftKernel mean_shift_kernel(std::string_view name) {
    if (name == "gaussian") return MeanShiftKernel::gaussian;
    if (name == "laplace") return MeanShiftKernel::laplace;
    throw Error("mean_shift: unknown kernel '" + std::string(name) + "' (gaussian or laplace)");
}

namespace mean_shift_detail {
inline constexpr std::size_t block = SoftmaxKeys::block;  // points per packed block
inline constexpr std::size_t lanes = 8;                   // fixed partial sums per reduction
inline constexpr std::size_t query_chunk = 16;            // queries per parallel task
static_assert(block % lanes == 0, "the key block must be a multiple of the lane count");

// One query against all points, Laplace kernel. acc is scratch of d * lanes doubles.
inline void laplace_one(const double* x, const SoftmaxKeys& keys, double inv_tau, double* acc, double* out) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    const std::size_t d = keys.dim();
    for (std::size_t j = 0; j < d; ++j)
        if (!std::isfinite(x[j])) {  // a non-finite query has no field; callers check finiteness
            for (std::size_t a = 0; a < d; ++a) out[a] = std::numeric_limits<double>::quiet_NaN();
            return;
        }

    alignas(64) double dist[block];
    alignas(64) double e[block];
    alignas(64) double sum[lanes];
    std::fill(acc, acc + d * lanes, 0.0);
    std::fill(sum, sum + lanes, 0.0);
    double rmin = inf;  // running minimum distance = running maximum logit * (-tau)

    for (std::size_t b = 0; b < keys.blocks(); ++b) {
        const double* kb = keys.data(b);
        const std::size_t valid = keys.count(b);

        for (std::size_t k = 0; k < block; ++k) dist[k] = 0.0;
        for (std::size_t j = 0; j < d; ++j) {
            const double xj = x[j];
            const double* kj = kb + j * block;
            for (std::size_t k = 0; k < block; ++k) {
                const double r = kj[k] - xj;
                dist[k] += r * r;
            }
        }
        for (std::size_t k = 0; k < block; ++k) dist[k] = std::sqrt(dist[k]);
        for (std::size_t k = valid; k < block; ++k) dist[k] = inf;  // padding: weight 0

        const double bmin = softmax_detail::block_minimum(dist);
        if (!(bmin < inf)) continue;  // every distance of the block overflowed: weight 0 next to any finite one

        // New maximum logit: rescale what was accumulated (the factor is 0 on the first block).
        if (bmin < rmin) {
            const double scale = std::exp((bmin - rmin) * inv_tau);
            for (std::size_t l = 0; l < lanes; ++l) sum[l] *= scale;
            for (std::size_t q = 0; q < d * lanes; ++q) acc[q] *= scale;
            rmin = bmin;
        }

        // Unnormalised weights e_k = exp(-(r_k - r_min) / tau) in [0, 1].
        for (std::size_t k = 0; k < block; ++k) e[k] = std::exp((rmin - dist[k]) * inv_tau);
        for (std::size_t k = 0; k < block; k += lanes)
            for (std::size_t l = 0; l < lanes; ++l) sum[l] += e[k + l];
        for (std::size_t j = 0; j < d; ++j) {
            const double xj = x[j];
            const double* kj = kb + j * block;
            double* aj = acc + j * lanes;
            alignas(64) double t[lanes];  // local copy: no aliasing with the keys, so it vectorises
            for (std::size_t l = 0; l < lanes; ++l) t[l] = aj[l];
            for (std::size_t k = 0; k < block; k += lanes)
                for (std::size_t l = 0; l < lanes; ++l) t[l] += e[k + l] * (kj[k + l] - xj);
            for (std::size_t l = 0; l < lanes; ++l) aj[l] = t[l];
        }
    }

    double total = 0.0;
    for (std::size_t l = 0; l < lanes; ++l) total += sum[l];
    if (!(total > 0.0)) {
        // Every distance overflowed (|x - p_j| > 1e154 for all j): no finite logit. Unreachable
        // for sane inputs; report NaN for the caller's finiteness check.
        for (std::size_t j = 0; j < d; ++j) out[j] = std::numeric_limits<double>::quiet_NaN();
        return;
    }
    const double inv = 1.0 / total;
    for (std::size_t j = 0; j < d; ++j) {
        double s = 0.0;
        for (std::size_t l = 0; l < lanes; ++l) s += acc[j * lanes + l];
        out[j] = s * inv;
    }
}

inline void check(const Matrix& x, const SoftmaxKeys& points, double tau) {
    if (points.size() == 0) throw Error("mean_shift: there are no points");
    if (cols(x) != points.dim())
        throw Error("mean_shift: the queries have " + std::to_string(cols(x)) + " columns, the points have " +
                    std::to_string(points.dim()));
    // tau^2 must be a normal double so that 1 / (2 tau^2) and 1 / tau are finite.
    if (!(tau > 0.0) || !std::isfinite(tau) || !(tau * tau >= DBL_MIN))
        throw Error("mean_shift: the bandwidth tau must be finite and at least 1.5e-154, got " + std::to_string(tau));
}

}  // namespace mean_shift_detail

// out (resized to M x D) = m_k(x_m; points) for every row x_m of x.
inline void mean_shift(const Matrix& x, const SoftmaxKeys& points, MeanShiftKernel kernel, double tau, Matrix& out) {
    mean_shift_detail::check(x, points, tau);
    const std::size_t m = rows(x), d = points.dim();
    if (kernel == MeanShiftKernel::gaussian) {
        // m = tau^2 * (softmax score with a = 1, v = tau^2).
        const double v = tau * tau;
        softmax_score(x, points, 1.0, v, out);
        for_each_index(out.size(), [&](std::size_t k) { out.data()[k] *= v; });
        return;
    }
    if (out.shape()[0] != m || out.shape()[1] != d) out.resize({m, d});
    const double inv_tau = 1.0 / tau;
    for_chunks(m, mean_shift_detail::query_chunk, [&](std::size_t, std::size_t b, std::size_t e) {
        std::vector<double> acc(d * mean_shift_detail::lanes);
        for (std::size_t i = b; i < e; ++i) mean_shift_detail::laplace_one(row(x, i), points, inv_tau, acc.data(), row(out, i));
    });
}

// Convenience overload that packs the points on every call.
inline void mean_shift(const Matrix& x, const Matrix& points, MeanShiftKernel kernel, double tau, Matrix& out) {
    if (rows(points) == 0) throw Error("mean_shift: there are no points");
    mean_shift(x, SoftmaxKeys(points), kernel, tau, out);
}

// The drift field V(x) = m_k(x; data) - m_k(x; model) of drifting models: attraction to the data,
// repulsion from the model samples (model == nullptr: V = m_k(x; data)). out is resized to M x D.
inline void drift_field(const Matrix& x, const SoftmaxKeys& data, const SoftmaxKeys* model, MeanShiftKernel kernel,
                        double tau, Matrix& out) {
    mean_shift(x, data, kernel, tau, out);
    if (!model) return;
    Matrix repulsion;
    mean_shift(x, *model, kernel, tau, repulsion);
    for_each_index(out.size(), [&](std::size_t k) { out.data()[k] -= repulsion.data()[k]; });
}

}  // namespace mdlab::kernels
