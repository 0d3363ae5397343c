// The general scalar path of the softmax score kernel (mdlab/kernels/softmax_score.hpp): every
// variant (log-weights, tangent bases), one query at a time. Compiled once per instruction-set
// path (softmax_isa.cpp), so it lives in the path's namespace.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "mdlab/kernels/detail/softmax_keys.hpp"
#include "mdlab/kernels/detail/simd_vector.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels::MDLAB_ISA_NAMESPACE {

inline constexpr std::size_t block = SoftmaxKeys::block;  // keys per packed block
inline constexpr std::size_t lanes = 8;         // partial sums per reduction (general path)
inline constexpr std::size_t query_chunk = 16;  // queries per parallel task (general path)
static_assert(block % lanes == 0, "the key block must be a multiple of the lane count");

// ---------------------------------------------------------------------------------------------
// The general scalar path: one query at a time, every variant. The inner loops run over the 64
// keys of a block with unit stride and a compile-time trip count (the compiler vectorises them
// for the path's instruction set).

// a k - x rounded once where the target has FMA: the offset to a key the query nearly sits on
// keeps full relative accuracy instead of inheriting the rounding error of a k (which would
// cost digits at tiny v). The result then does not depend on the compiler's contraction choices.
inline double offset(double a, double k, double x) {
#if defined(__FMA__) || defined(__FP_FAST_FMA)
    return std::fma(a, k, -x);
#else
    return a * k - x;
#endif
}

// off[k] = offset(a, kj[k], xj) for the `block` keys of one coordinate row kj.
inline void block_offsets(double a, const double* kj, double xj, double* off) {
    for (std::size_t k = 0; k < block; ++k) off[k] = offset(a, kj[k], xj);
}

// Per-call constants of the tangent variant: c = tau / (v + tau) and 1 - c = v / (v + tau).
struct TangentShrink {
    double c = 0.0, one_minus_c = 1.0;
};

// Per-task scratch: the accumulator (d * lanes) and the tangent projections (k * block).
struct Scratch {
    std::vector<double> acc, proj;
    Scratch(std::size_t d, std::size_t kt) : acc(d * lanes), proj(kt * block) {}
};

// One query against the keys of the blocks blocks[0..nblocks) (nullptr: every block).
template <bool Weighted, bool Tangent>
inline void score_one(const double* x, const SoftmaxKeys& keys, double a, double v, TangentShrink shrink,
                      Scratch& scratch, double* out, double* log_norm, const std::uint32_t* blocks = nullptr,
                      std::size_t nblocks = 0) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    const std::size_t d = keys.dim();
    const std::size_t kt = Tangent ? keys.tangent_dim() : 0;
    const double inv2v = 0.5 / v;
    double* acc = scratch.acc.data();
    double* proj = scratch.proj.data();

    alignas(64) double dist[block];
    alignas(64) double e[block];
    alignas(64) double sum[lanes];
    alignas(64) double off[block];  // tangent variant: per-coordinate offsets of the block
    std::fill(acc, acc + d * lanes, 0.0);
    std::fill(sum, sum + lanes, 0.0);
    double dmin = inf;  // running minimum distance = running maximum logit * (-2v)

    const std::size_t streamed = blocks ? nblocks : keys.blocks();
    for (std::size_t bi = 0; bi < streamed; ++bi) {
        const std::size_t b = blocks ? blocks[bi] : bi;
        const double* kb = keys.data(b);
        const std::size_t valid = keys.count(b);

        if constexpr (!Tangent) {
            // Squared distances |x - a k|^2 of the block's keys.
            for (std::size_t k = 0; k < block; ++k) dist[k] = 0.0;
            for (std::size_t j = 0; j < d; ++j) {
                const double xj = x[j];
                const double* kj = kb + j * block;
                for (std::size_t k = 0; k < block; ++k) {
                    const double r = offset(a, kj[k], xj);
                    dist[k] += r * r;
                }
            }
        } else {
            const double* ub = keys.tangents(b);
            // p_t = U_t^T o with o = a k - x (= -r; the sign does not matter below).
            std::fill(proj, proj + kt * block, 0.0);
            for (std::size_t j = 0; j < d; ++j) {
                block_offsets(a, kb + j * block, x[j], off);
                for (std::size_t t = 0; t < kt; ++t) {
                    const double* u = ub + (t * d + j) * block;
                    double* p = proj + t * block;
                    for (std::size_t k = 0; k < block; ++k) p[k] += u[k] * off[k];
                }
            }
            // |o - U p|^2 + (1 - c) |p|^2 = |r|^2 - c |U^T r|^2 without cancellation.
            for (std::size_t k = 0; k < block; ++k) dist[k] = 0.0;
            for (std::size_t j = 0; j < d; ++j) {
                block_offsets(a, kb + j * block, x[j], off);
                for (std::size_t t = 0; t < kt; ++t) {
                    const double* u = ub + (t * d + j) * block;
                    const double* p = proj + t * block;
                    for (std::size_t k = 0; k < block; ++k) off[k] -= u[k] * p[k];
                }
                for (std::size_t k = 0; k < block; ++k) dist[k] += off[k] * off[k];
            }
            for (std::size_t t = 0; t < kt; ++t) {
                const double* p = proj + t * block;
                for (std::size_t k = 0; k < block; ++k) dist[k] += shrink.one_minus_c * (p[k] * p[k]);
            }
        }
        if constexpr (Weighted) {
            // logit + l_i  <=>  distance - 2 v l_i (l_i <= 0 relative to the largest; -inf -> +inf).
            const double* lw = keys.log_weights(b);
            const double two_v = 2.0 * v;
            for (std::size_t k = 0; k < block; ++k) dist[k] -= two_v * lw[k];
        }
        for (std::size_t k = valid; k < block; ++k) dist[k] = inf;  // padding: weight 0

        const double bmin = softmax_detail::block_minimum(dist);
        if (!(bmin < inf)) {
            if (std::isnan(bmin)) dmin = bmin;  // a NaN query stays NaN (callers check finiteness)
            continue;                           // every weight of the block is 0 relative to dmin
        }

        // New maximum logit: rescale what was accumulated so far.
        if (bmin < dmin) {
            const double scale = std::exp((bmin - dmin) * inv2v);  // 0 on the first block
            for (std::size_t l = 0; l < lanes; ++l) sum[l] *= scale;
            for (std::size_t q = 0; q < d * lanes; ++q) acc[q] *= scale;
            dmin = bmin;
        }

        // Unnormalised weights e_k = exp(logit_k - max logit) in (0, 1].
        for (std::size_t k = 0; k < block; ++k) e[k] = std::exp((dmin - dist[k]) * inv2v);
        for (std::size_t k = 0; k < block; k += lanes)
            for (std::size_t l = 0; l < lanes; ++l) sum[l] += e[k + l];
        if constexpr (!Tangent) {
            // acc_j += e_k (a k_j - x_j), directly (not as a weighted mean minus x).
            for (std::size_t j = 0; j < d; ++j) {
                const double xj = x[j];
                const double* kj = kb + j * block;
                double* aj = acc + j * lanes;
                alignas(64) double t[lanes];  // local copy: no aliasing with the keys, so it vectorises
                for (std::size_t l = 0; l < lanes; ++l) t[l] = aj[l];
                for (std::size_t k = 0; k < block; k += lanes)
                    for (std::size_t l = 0; l < lanes; ++l) t[l] += e[k + l] * offset(a, kj[k + l], xj);
                for (std::size_t l = 0; l < lanes; ++l) aj[l] = t[l];
            }
        } else {
            // acc_j += e_k (o_j - c (U p)_j): the component score times v. p_t <- c e p_t first.
            const double* ub = keys.tangents(b);
            for (std::size_t t = 0; t < kt; ++t) {
                double* p = proj + t * block;
                for (std::size_t k = 0; k < block; ++k) p[k] *= shrink.c * e[k];
            }
            for (std::size_t j = 0; j < d; ++j) {
                const double xj = x[j];
                const double* kj = kb + j * block;
                for (std::size_t k = 0; k < block; ++k) off[k] = e[k] * offset(a, kj[k], xj);
                for (std::size_t t = 0; t < kt; ++t) {
                    const double* u = ub + (t * d + j) * block;
                    const double* p = proj + t * block;
                    for (std::size_t k = 0; k < block; ++k) off[k] -= u[k] * p[k];
                }
                double* aj = acc + j * lanes;
                alignas(64) double t[lanes];
                for (std::size_t l = 0; l < lanes; ++l) t[l] = aj[l];
                for (std::size_t k = 0; k < block; k += lanes)
                    for (std::size_t l = 0; l < lanes; ++l) t[l] += off[k + l];
                for (std::size_t l = 0; l < lanes; ++l) aj[l] = t[l];
            }
        }
    }

    double total = 0.0;
    for (std::size_t l = 0; l < lanes; ++l) total += sum[l];
    if (!(total > 0.0)) {
        // Every distance overflowed to +inf (or the query is NaN): no finite logit. The limit of
        // the softmax is then the nearest key (of positive weight); find it by comparing in a
        // scaled metric that cannot overflow, and return its component score. (Unreachable for
        // sane inputs.)
        if (std::isnan(dmin)) {
            for (std::size_t j = 0; j < d; ++j) out[j] = std::numeric_limits<double>::quiet_NaN();
            if (log_norm) *log_norm = std::numeric_limits<double>::quiet_NaN();
            return;
        }
        double best = inf;
        std::size_t best_b = 0, best_k = 0;
        for (std::size_t b = 0; b < keys.blocks(); ++b)
            for (std::size_t k = 0; k < keys.count(b); ++k) {
                if constexpr (Weighted)
                    if (keys.log_weights(b)[k] == -inf) continue;
                double s = 0.0;
                for (std::size_t j = 0; j < d; ++j) {
                    const double r = (a * keys.data(b)[j * block + k] - x[j]) * 0x1p-600;
                    s += r * r;
                }
                if (s < best) best = s, best_b = b, best_k = k;
            }
        for (std::size_t j = 0; j < d; ++j) out[j] = (a * keys.data(best_b)[j * block + best_k] - x[j]) / v;
        if constexpr (Tangent) {
            const double* ub = keys.tangents(best_b);
            std::vector<double> o(out, out + d);  // (a k - x) / v
            for (std::size_t t = 0; t < kt; ++t) {
                double p = 0.0;
                for (std::size_t j = 0; j < d; ++j) p += ub[(t * d + j) * block + best_k] * o[j];
                for (std::size_t j = 0; j < d; ++j) out[j] -= shrink.c * p * ub[(t * d + j) * block + best_k];
            }
        }
        if (log_norm) *log_norm = -inf;
        return;
    }
    const double inv = 1.0 / (total * v);
    for (std::size_t j = 0; j < d; ++j) {
        double s = 0.0;
        for (std::size_t l = 0; l < lanes; ++l) s += acc[j * lanes + l];
        out[j] = s * inv;
    }
    if (log_norm) *log_norm = -dmin * inv2v + std::log(total) + keys.log_weight_offset();
}

// Queries x (m rows of D) on the general path, in the given order (nullptr: 0..m-1); with a
// spatial index, each query streams only the blocks the index keeps (with the tangent variance,
// whose components are wider along tangents).
// Returns the blocks streamed in all.
template <bool Weighted, bool Tangent>
inline std::size_t run_general(const double* x, std::size_t m, const SoftmaxKeys& keys, double a, double v,
                               double tau, TangentShrink shrink, double* out, double* log_norm,
                               const std::uint32_t* order) {
    const std::size_t d = keys.dim(), kt = Tangent ? keys.tangent_dim() : 0;
    std::vector<std::size_t> streamed((m + query_chunk - 1) / query_chunk, 0);
    for_chunks(m, query_chunk, [&](std::size_t chunk, std::size_t b, std::size_t e) {
        Scratch scratch(d, kt);
        KeyIndex::Scratch index_scratch;
        std::vector<std::uint32_t> list;
        for (std::size_t p = b; p < e; ++p) {
            const std::size_t i = order ? order[p] : p;  // the rows in cache-friendly order
            const double* xi = x + i * d;
            double* ln = log_norm ? log_norm + i : nullptr;
            if (keys.index()) {
                const std::size_t count = keys.index()->template candidates<simd::path>(xi, a, v, list, index_scratch, tau);
                if (keys.index()->worth_it(count)) {
                    score_one<Weighted, Tangent>(xi, keys, a, v, shrink, scratch, out + i * d, ln, list.data(), count);
                    streamed[chunk] += count;
                    continue;
                }
            }
            score_one<Weighted, Tangent>(xi, keys, a, v, shrink, scratch, out + i * d, ln);
            streamed[chunk] += keys.blocks();
        }
    });
    std::size_t total = 0;
    for (std::size_t s : streamed) total += s;
    return total;
}

inline std::size_t run_general(const double* x, std::size_t m, const SoftmaxKeys& keys, double a, double v,
                               double tau, TangentShrink shrink, bool tangent, double* out, double* log_norm,
                               const std::uint32_t* order) {
    // The variant is chosen once here, never per key.
    if (keys.weighted()) {
        if (tangent) return run_general<true, true>(x, m, keys, a, v, tau, shrink, out, log_norm, order);
        return run_general<true, false>(x, m, keys, a, v, tau, shrink, out, log_norm, order);
    }
    if (tangent) return run_general<false, true>(x, m, keys, a, v, tau, shrink, out, log_norm, order);
    return run_general<false, false>(x, m, keys, a, v, tau, shrink, out, log_norm, order);
}

}  // namespace mdlab::kernels::MDLAB_ISA_NAMESPACE
