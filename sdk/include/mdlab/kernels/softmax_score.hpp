// The softmax-attention score kernel shared by the empirical, kernel-smoothed, tangent-smoothed
// and oracle estimators and the mean-shift (drift) kernel. For queries X (M x D), keys K (N x D),
// a scale a and a variance v > 0,
//
//   out_m = sum_i w_mi (a K_i - X_m) / v,   w_m = softmax_i( -|X_m - a K_i|^2 / (2 v) ),
//
// the score of the Gaussian mixture (1/N) sum_i N(a K_i, v I) at X_m, and optionally its log
// normaliser log_norm_m = log sum_i exp(-|X_m - a K_i|^2 / (2 v)) (add -log N - D/2 log(2 pi v)
// for the log density of the mixture).
//
// Two optional per-key extras, set once on the packed keys (SoftmaxKeys, softmax_keys.hpp):
// - log-weights l_i (set_log_weights): the mixture sum_i e^{l_i} N(a K_i, v I); every logit
//   gets + l_i and log_norm becomes log sum_i exp(l_i - |X_m - a K_i|^2 / (2 v)). Used by the
//   oracle with quadrature weights. Keys with l_i = -inf have weight 0. Absent = uniform.
// - tangent bases U_i (D x k, orthonormal columns; set_tangents), used when the call passes a
//   tangent variance tau > 0: component i is N(a K_i, v I + tau U_i U_i^T). With
//   r = X_m - a K_i and c = tau / (v + tau) (SCIENCE.md section 2, tangent_smoothed):
//     logit_i = -( |r|^2 - c |U_i^T r|^2 ) / (2 v)   (+ l_i; the determinants are equal, dropped),
//     component score = -( r - c U_i U_i^T r ) / v.
//   The logit is evaluated as -( |r - U_i U_i^T r|^2 + (1 - c) |U_i^T r|^2 ) / (2 v), a sum of
//   non-negative terms with 1 - c = v / (v + tau) formed directly: the textbook difference loses
//   digits in proportion to tau / v, which is large exactly where this estimator matters
//   (sigma << alpha h). log_norm is log sum_i exp(logit_i) with these logits.
// With tau = 0 the tangent bases are ignored and the call is the plain kernel, bit for bit.
//
// Two implementations of the same streaming (flash-attention style) computation: each query
// streams over the key blocks keeping a running minimum "distance" d_min (the running maximum
// logit times -2v), the normaliser Z = sum e_i and the accumulator sum_i e_i (a K_i - X_m) with
// e_i = exp((d_min - d_i) / (2v)), rescaled whenever the minimum moves: no M x N matrix is ever
// held, nothing overflows, and the largest logit always has weight exp(0) = 1, so nothing
// underflows to 0/0 at tiny v. A log-weight enters as d_i - 2 v l_i. The accumulator holds
// sum e_i (a K_i - X_m) directly, with a K_i - X_m formed with about one rounding, rather than
// the weighted mean of the keys minus X_m: the result stays accurate when v is tiny and a K_i is
// close to X_m.
// - The fast path (softmax_microkernel.hpp), in double (default) or float (Precision::f32),
//   for the plain and the log-weighted mixture (tau = 0): register tiles of 2 (float: 4)
//   queries by 64 keys in 64-byte registers, offsets k - x / a with the queries scaled by 1 / a
//   (a K_i - X_m = a (K_i - X_m / a), so the packed keys are used as they are), a vectorised
//   exp (vector_exp.hpp), blocks where every weight underflows skipped, fast distances checked
//   a posteriori and recomputed exactly where the check fails. On this machine (2 Zen 4 cores,
//   one 512-bit fma per cycle per core: 116 GFLOP/s peak measured) at N = M = 4096, D = 16,
//   a = 0.9, sigma = 0.3: 18 ms per call on 2 threads in double (59 GFLOP/s by the flop model
//   4 D flops per (query, key), 51% of the peak; the scalar kernel it replaces: 71 ms), 9.9 ms
//   in float.
// - The general scalar path (score_one below): the tangent variant (tau > 0, always in double);
//   every call when the build has no AVX-512 (-march: the fast path is written for 512-bit
//   registers); and the rare inputs the fast path excludes: non-finite queries (NaN
//   propagates), coordinates |x / a| or keys beyond 2^500 (float: 2^50) where a squared
//   distance could overflow (then, if every distance overflows to +inf, the nearest key in a
//   scaled metric gives the limit of the softmax), a = 0, and a^2 / (2v) or 2v / a^2
//   overflowing.
// Both keep sums over keys in fixed lane-wise partial sums combined in a fixed order at the end,
// and each query's result depends only on that query: queries run in parallel (mdlab::for_chunks
// with fixed chunks) and results are bit-identical for any number of threads.
//
// Accuracy (tests/plugins/test_kernel_fast_paths.cpp, against a two-pass softmax in long
// double): double: within 1e-12 relative plus the problem's own rounding sensitivity, for
// D = 1..64, sigma^2 = 1e-6..100, queries on top of keys and far from them (measured: 9e-14
// worst for queries within 3 sigma of a key, 7e-13 for far queries whose logits reach 1e7).
// float: about 1e-6 of the typical component |a k - x| / v for queries within a few sigma of the
// data at moderate sigma (measured 1.6e-6, tested at 2e-5; far queries 6e-6), growing like
// FLT_EPSILON times the relevant logits |x - a k|^2 / (2v) (queries far from every key) and like
// FLT_EPSILON |x| / |x - a k| for a query closer to a key than about 1e-3 |x| (tiny sigma: 9e-5
// measured at sigma^2 = 1e-6): do not use float there.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/softmax_keys.hpp"
#include "mdlab/kernels/softmax_microkernel.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

// Arithmetic of the fast path: double (default) or float (results are returned as doubles).
enum class Precision { f64, f32 };

// "f64" or "f32" (the choices the estimators offer as their `precision` parameter).
inline Precision precision_from_string(const std::string& name) {
    if (name == "f64") return Precision::f64;
    if (name == "f32") return Precision::f32;
    throw Error("softmax_score: unknown precision '" + name + "' (f64 or f32)");
}

namespace softmax_detail {
inline constexpr std::size_t block = SoftmaxKeys::block;  // keys per packed block
inline constexpr std::size_t lanes = 8;         // partial sums per reduction (general path)
inline constexpr std::size_t query_chunk = 16;  // queries per parallel task (general path)
static_assert(block % lanes == 0, "the key block must be a multiple of the lane count");

// ---------------------------------------------------------------------------------------------
// The general scalar path: one query at a time, every variant. The inner loops run over the 64
// keys of a block with unit stride and a compile-time trip count.

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

// One query against all keys.
template <bool Weighted, bool Tangent>
inline void score_one(const double* x, const SoftmaxKeys& keys, double a, double v, TangentShrink shrink,
                      Scratch& scratch, double* out, double* log_norm) {
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

    for (std::size_t b = 0; b < keys.blocks(); ++b) {
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

        // Block minimum (exact whatever the order) by pairwise halving, which vectorises.
        static_assert(block == 8 * lanes, "the halving below assumes block = 8 lanes");
        alignas(64) double half[block / 2];
        for (std::size_t k = 0; k < block / 2; ++k)
            half[k] = dist[k + block / 2] < dist[k] ? dist[k + block / 2] : dist[k];
        for (std::size_t k = 0; k < block / 4; ++k)
            half[k] = half[k + block / 4] < half[k] ? half[k + block / 4] : half[k];
        for (std::size_t k = 0; k < block / 8; ++k)
            half[k] = half[k + block / 8] < half[k] ? half[k + block / 8] : half[k];
        double bmin = half[0];
        for (std::size_t l = 1; l < lanes; ++l) bmin = half[l] < bmin ? half[l] : bmin;
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

inline void check(const Matrix& x, std::size_t n, std::size_t d, double a, double v) {
    if (n == 0) throw Error("softmax_score: there are no keys");
    if (cols(x) != d)
        throw Error("softmax_score: the queries have " + std::to_string(cols(x)) +
                    " columns, the keys have " + std::to_string(d));
    if (!(v > 0.0) || !std::isfinite(v))
        throw Error("softmax_score: the variance must be positive and finite, got " + std::to_string(v));
    if (!std::isfinite(a)) throw Error("softmax_score: the scale must be finite, got " + std::to_string(a));
}


template <bool Weighted, bool Tangent>
inline void run_general(const Matrix& x, const SoftmaxKeys& keys, double a, double v, TangentShrink shrink,
                        Matrix& out, double* log_norm) {
    const std::size_t d = keys.dim(), kt = Tangent ? keys.tangent_dim() : 0;
    for_chunks(rows(x), query_chunk, [&](std::size_t, std::size_t b, std::size_t e) {
        Scratch scratch(d, kt);
        for (std::size_t i = b; i < e; ++i)
            score_one<Weighted, Tangent>(row(x, i), keys, a, v, shrink, scratch, row(out, i),
                                         log_norm ? log_norm + i : nullptr);
    });
}

inline void run_general(const Matrix& x, const SoftmaxKeys& keys, double a, double v, TangentShrink shrink,
                        bool tangent, Matrix& out, double* log_norm) {
    // The variant is chosen once here, never per key.
    if (keys.weighted()) {
        if (tangent) run_general<true, true>(x, keys, a, v, shrink, out, log_norm);
        else run_general<true, false>(x, keys, a, v, shrink, out, log_norm);
    } else {
        if (tangent) run_general<false, true>(x, keys, a, v, shrink, out, log_norm);
        else run_general<false, false>(x, keys, a, v, shrink, out, log_norm);
    }
}

// ---------------------------------------------------------------------------------------------
// The fast path.

// The fast path is written for 512-bit registers; built without AVX-512 its vector code falls
// back to element loops that are slower than the general path, which then serves every call.
#if defined(__AVX512F__)
inline constexpr bool fast_path_compiled = true;
#else
inline constexpr bool fast_path_compiled = false;
#endif

// Whether the whole call can take the fast path in T (the per-query condition is checked on
// each query by query_applies).
template <class T>
inline bool fast_path_applies(const SoftmaxKeys& keys, double a, double v) {
    if (!fast_path_compiled) return false;
    if (!(keys.max_abs() <= Tiling<T>::limit)) return false;  // NaN keys fail too
    if (a == 0.0) return false;
    const double c = a * a * (0.5 / v), factor = 2.0 * v / (a * a);
    if (!(c > 0.0) || !std::isfinite(c) || !std::isfinite(factor)) return false;
    // float: the logit scale must be a normal float.
    if constexpr (sizeof(T) != sizeof(double))
        if (!(c >= static_cast<double>(std::numeric_limits<float>::min()) &&
              c <= static_cast<double>(std::numeric_limits<float>::max())))
            return false;
    return true;
}

template <class T>
inline bool query_applies(const double* x, std::size_t d, double a) {
    for (std::size_t j = 0; j < d; ++j)
        if (!(std::abs(x[j] / a) <= Tiling<T>::limit)) return false;  // NaN fails too
    return true;
}

// This thread's fast-path scratch: used only inside one task body at a time (a task body never
// waits on other tasks, so no other task of this thread can interleave with it).
template <class T>
inline Workspace<T>& thread_workspace() {
    static thread_local Workspace<T> ws;
    return ws;
}

// The softmax over the keys of the blocks blocks[0..nblocks) (nullptr: all blocks in order) for
// the queries rows[0..count), in T: out[i] (D doubles) and, if log_norm and log_norm[i],
// *log_norm[i], as softmax_score computes them over those keys. Preconditions:
// fast_path_applies<T>(keys, a, v) for the call and query_applies<T>(rows[i], D, a) for every
// row (send the others to score_one). The entry point for a spatial index (kernels/
// key_index.hpp): pass the union of the candidate blocks of the queries (any superset is
// exact up to the index's tolerance). Uses this thread's workspace: call it inside one task,
// not concurrently from one thread.
template <class T>
inline void stream_blocks(const SoftmaxKeys& keys, double a, double v, const double* const* rows, std::size_t count,
                          const std::uint32_t* blocks, std::size_t nblocks, double* const* out,
                          double* const* log_norm = nullptr) {
    Workspace<T>& ws = thread_workspace<T>();
    DenseGroup<T> g(keys, a, v, ws);
    for (std::size_t first = 0; first < count; first += group) {
        const std::size_t n = std::min(group, count - first);
        g.start(rows + first, n);
        g.stream_blocks(blocks, blocks ? nblocks : keys.blocks());
        g.finish(out + first, log_norm ? log_norm + first : nullptr);
    }
}

// Queries for which the spatial index proves that at most half of the blocks carry all but its tolerance of
// the weight stream alone over those blocks; the others are compacted to the front of the
// arrays and their count returned, for the dense path. Each query's result depends only on the
// query (one query per stream), so results stay independent of the thread count.
template <class T>
inline std::size_t stream_pruned(const SoftmaxKeys& keys, double a, double v, const double** in, double** res,
                                 double** ln, std::size_t n, bool with_log_norm) {
    static thread_local KeyIndex::Scratch scratch;
    static thread_local std::vector<std::uint32_t> list;
    const KeyIndex& index = *keys.index();
    std::size_t dense = 0;
    for (std::size_t q = 0; q < n; ++q) {
        const std::size_t count = index.candidates(in[q], a, v, list, scratch);
        if (index.worth_it(count)) {
            stream_blocks<T>(keys, a, v, in + q, 1, list.data(), count, res + q, with_log_norm ? ln + q : nullptr);
            continue;
        }
        in[dense] = in[q];
        res[dense] = res[q];
        ln[dense] = ln[q];
        ++dense;
    }
    return dense;
}

template <class T>
inline void run_fast(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out, double* log_norm) {
    const std::size_t d = keys.dim();
    for_chunks(rows(x), group, [&](std::size_t, std::size_t b, std::size_t e) {
        const double* in[group];
        double* res[group];
        double* ln[group];
        std::size_t n = 0;
        std::optional<Scratch> general;  // for queries outside the fast path's range (rare)
        for (std::size_t i = b; i < e; ++i) {
            if (query_applies<T>(row(x, i), d, a)) {
                in[n] = row(x, i);
                res[n] = row(out, i);
                ln[n] = log_norm ? log_norm + i : nullptr;
                ++n;
                continue;
            }
            if (!general) general.emplace(d, 0);
            if (keys.weighted())
                score_one<true, false>(row(x, i), keys, a, v, TangentShrink{}, *general, row(out, i),
                                       log_norm ? log_norm + i : nullptr);
            else
                score_one<false, false>(row(x, i), keys, a, v, TangentShrink{}, *general, row(out, i),
                                        log_norm ? log_norm + i : nullptr);
        }
        if (n > 0 && keys.index()) n = stream_pruned<T>(keys, a, v, in, res, ln, n, log_norm != nullptr);
        if (n > 0) stream_blocks<T>(keys, a, v, in, n, nullptr, 0, res, log_norm ? ln : nullptr);
    });
}

}  // namespace softmax_detail

// out (resized to M x D) = the mixture score at the rows of x; log_norm (if given, resized to M)
// = log sum_i exp(logit_i). tangent_variance tau >= 0 is the variance added along each key's
// tangent basis (tau > 0 needs keys with set_tangents; tau = 0 ignores them). precision: the
// arithmetic of the fast path (f32: see the accuracy notes above; the tangent variant always
// runs in double).
inline void softmax_score(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr, double tangent_variance = 0.0,
                          Precision precision = Precision::f64) {
    const std::size_t m = rows(x), d = keys.dim();
    softmax_detail::check(x, keys.size(), d, a, v);
    if (!(tangent_variance >= 0.0) || !std::isfinite(tangent_variance))
        throw Error("softmax_score: the tangent variance must be finite and >= 0, got " +
                    std::to_string(tangent_variance));
    const bool tangent = tangent_variance > 0.0;
    if (tangent && !keys.has_tangents())
        throw Error("softmax_score: a tangent variance was given but the keys have no tangent bases");
    if (out.shape()[0] != m || out.shape()[1] != d) out.resize({m, d});
    if (log_norm && log_norm->shape()[0] != m) log_norm->resize({m});
    double* ln = log_norm ? log_norm->data() : nullptr;
    using namespace softmax_detail;
    if (!tangent) {
        if (precision == Precision::f32 && fast_path_applies<float>(keys, a, v))
            return run_fast<float>(x, keys, a, v, out, ln);
        if (fast_path_applies<double>(keys, a, v)) return run_fast<double>(x, keys, a, v, out, ln);
    }
    TangentShrink shrink;
    if (tangent) {
        shrink.c = tangent_variance / (v + tangent_variance);
        shrink.one_minus_c = v / (v + tangent_variance);
    }
    run_general(x, keys, a, v, shrink, tangent, out, ln);
}

// Convenience overload that packs the keys on every call (plain keys: no weights, no tangents).
inline void softmax_score(const Matrix& x, const Matrix& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr, Precision precision = Precision::f64) {
    if (rows(keys) == 0) throw Error("softmax_score: there are no keys");
    softmax_score(x, SoftmaxKeys(keys), a, v, out, log_norm, 0.0, precision);
}

}  // namespace mdlab::kernels
