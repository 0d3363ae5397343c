// The softmax-attention score kernel shared by the empirical, kernel-smoothed, tangent-smoothed
// and oracle estimators. For queries X (M x D), keys K (N x D), a scale a and a variance v > 0,
//
//   out_m = sum_i w_mi (a K_i - X_m) / v,   w_m = softmax_i( -|X_m - a K_i|^2 / (2 v) ),
//
// the score of the Gaussian mixture (1/N) sum_i N(a K_i, v I) at X_m, and optionally its log
// normaliser log_norm_m = log sum_i exp(-|X_m - a K_i|^2 / (2 v)) (add -log N - D/2 log(2 pi v)
// for the log density of the mixture).
//
// Two optional per-key extras, set once on the packed keys (SoftmaxKeys):
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
// How it is computed (flash-attention style):
// - Keys are packed once (SoftmaxKeys) into blocks of `block` keys, transposed inside a block
//   (for each coordinate d the block's `block` values are contiguous), the last block padded.
//   The inner loops run over the keys of a block with unit stride and a compile-time trip
//   count, which g++ -O3 -march=native vectorises for any D. Log-weights and tangent bases are
//   packed the same way.
// - Each query streams over the key blocks keeping a running minimum "distance" (the running
//   maximum logit times -2v), the normaliser and the accumulator sum_i e_i (a K_i - X_m),
//   rescaled whenever the maximum moves: no M x N matrix is ever held, nothing overflows, and
//   the largest logit always has weight exp(0) = 1, so nothing underflows to 0/0 at tiny v.
//   A log-weight enters as distance - 2 v l_i, so one code path serves every variant.
// - a K_i - X_m is formed with one rounding (fused multiply-add) where the target has FMA.
// - The accumulator holds sum e_i (a K_i - X_m) directly rather than the weighted mean of the
//   keys minus X_m, so the result stays accurate when v is tiny and a K_i is close to X_m.
// - Sums over keys are kept in `lanes` fixed partial sums (one SIMD register wide) combined in
//   a fixed order at the end, so the loops vectorise without -ffast-math and the summation
//   order is fixed by the code, not by the compiler or the machine's thread count.
// - The variant (plain, weighted, tangent, both) is a template parameter chosen once per call:
//   the plain path has no per-key branch or extra work.
// - Queries are processed in parallel (mdlab::for_chunks); each query's result depends only on
//   that query, so results are bit-identical for any number of threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

namespace softmax_detail {
inline constexpr std::size_t block = 64;        // keys per packed block
inline constexpr std::size_t lanes = 8;         // partial sums per reduction (one AVX-512 register)
inline constexpr std::size_t query_chunk = 16;  // queries per parallel task
static_assert(block % lanes == 0, "the key block must be a multiple of the lane count");
}  // namespace softmax_detail

// Keys packed for the kernel. Pack once (for example in an estimator's prepare()) and reuse for
// every call: the scale a, the variance v and the tangent variance tau are arguments of the
// kernel, not of the packing.
class SoftmaxKeys {
public:
    static constexpr std::size_t block = softmax_detail::block;

    SoftmaxKeys() = default;
    explicit SoftmaxKeys(const Matrix& keys) : n_(rows(keys)), d_(cols(keys)) {
        const std::size_t nb = blocks();
        packed_.assign(nb * d_ * block, 0.0);
        for_chunks(nb, 16, [&](std::size_t, std::size_t b0, std::size_t b1) {
            for (std::size_t b = b0; b < b1; ++b) {
                double* dst = packed_.data() + b * d_ * block;
                const std::size_t first = b * block, count = std::min(block, n_ - first);
                for (std::size_t k = 0; k < count; ++k) {
                    const double* src = row(keys, first + k);
                    for (std::size_t j = 0; j < d_; ++j) dst[j * block + k] = src[j];
                }
            }
        });
    }

    // Per-key log-weights l_i (N values; -inf = weight 0; at least one finite; no NaN or +inf).
    // They need not be normalised. Equal log-weights are stored as a constant only (the softmax
    // does not see them), so uniform weights cost nothing and give the plain kernel's result.
    void set_log_weights(const Vector& log_weights) {
        constexpr double inf = std::numeric_limits<double>::infinity();
        if (log_weights.size() != n_)
            throw Error("SoftmaxKeys: " + std::to_string(log_weights.size()) + " log-weights for " +
                        std::to_string(n_) + " keys");
        double top = -inf, low = inf;
        for (std::size_t i = 0; i < n_; ++i) {
            const double l = log_weights(i);
            if (std::isnan(l) || l == inf)
                throw Error("SoftmaxKeys: log-weight " + std::to_string(i) + " is " + std::to_string(l));
            top = std::max(top, l);
            low = std::min(low, l);
        }
        if (!(top > -inf)) throw Error("SoftmaxKeys: every key has weight 0 (all log-weights are -inf)");
        log_weights_.clear();
        log_weight_offset_ = top;
        if (low == top) return;  // uniform
        // Stored relative to the largest (all <= 0), so a weighted distance is never below the
        // plain one; padding is 0 (the padded keys' distance is set to +inf anyway).
        log_weights_.assign(blocks() * block, 0.0);
        for (std::size_t i = 0; i < n_; ++i) log_weights_[i] = log_weights(i) - top;
    }

    // Orthonormal tangent bases, bases(i, a, j) = coordinate a of tangent vector j at key i
    // (shape N x D x k, k >= 1, the layout of mdlab::TangentBases). Orthonormality is the
    // caller's promise (it is what makes the determinants cancel).
    void set_tangents(const xt::xtensor<double, 3>& bases) {
        const auto& s = bases.shape();
        if (s[0] != n_ || s[1] != d_ || s[2] == 0 || s[2] > d_)
            throw Error("SoftmaxKeys: tangent bases of shape " + std::to_string(s[0]) + " x " + std::to_string(s[1]) +
                        " x " + std::to_string(s[2]) + " for " + std::to_string(n_) + " keys in dimension " +
                        std::to_string(d_) + " (expected N x D x k with 1 <= k <= D)");
        kt_ = s[2];
        const std::size_t nb = blocks(), per = kt_ * d_ * block;
        tangents_.assign(nb * per, 0.0);
        for_chunks(nb, 16, [&](std::size_t, std::size_t b0, std::size_t b1) {
            for (std::size_t b = b0; b < b1; ++b) {
                double* dst = tangents_.data() + b * per;
                const std::size_t first = b * block, count = std::min(block, n_ - first);
                for (std::size_t t = 0; t < kt_; ++t)
                    for (std::size_t j = 0; j < d_; ++j)
                        for (std::size_t k = 0; k < count; ++k) dst[(t * d_ + j) * block + k] = bases(first + k, j, t);
            }
        });
    }

    std::size_t size() const { return n_; }
    std::size_t dim() const { return d_; }
    std::size_t blocks() const { return chunk_count(n_, block); }
    // Keys valid in block b (the last block may be partial; its padding is zero).
    std::size_t count(std::size_t b) const { return std::min(block, n_ - b * block); }
    // Block b: d_ rows of `block` values, coordinate j of key k of the block at [j * block + k].
    const double* data(std::size_t b) const { return packed_.data() + b * d_ * block; }

    // Non-uniform log-weights are stored (uniform ones are only the offset below).
    bool weighted() const { return !log_weights_.empty(); }
    // Block b's log-weights minus log_weight_offset(), `block` values.
    const double* log_weights(std::size_t b) const { return log_weights_.data() + b * block; }
    // The largest log-weight (0 without weights): added to log_norm.
    double log_weight_offset() const { return log_weight_offset_; }

    bool has_tangents() const { return kt_ > 0; }
    std::size_t tangent_dim() const { return kt_; }
    // Block b: coordinate j of tangent vector t of key k at [(t * D + j) * block + k].
    const double* tangents(std::size_t b) const { return tangents_.data() + b * kt_ * d_ * block; }

private:
    std::size_t n_ = 0, d_ = 0, kt_ = 0;
    std::vector<double> packed_;
    std::vector<double> log_weights_;
    double log_weight_offset_ = 0.0;
    std::vector<double> tangents_;
};

namespace softmax_detail {

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
inline void run(const Matrix& x, const SoftmaxKeys& keys, double a, double v, TangentShrink shrink, Matrix& out,
                double* log_norm) {
    const std::size_t d = keys.dim(), kt = Tangent ? keys.tangent_dim() : 0;
    for_chunks(rows(x), query_chunk, [&](std::size_t, std::size_t b, std::size_t e) {
        Scratch scratch(d, kt);
        for (std::size_t i = b; i < e; ++i)
            score_one<Weighted, Tangent>(row(x, i), keys, a, v, shrink, scratch, row(out, i),
                                         log_norm ? log_norm + i : nullptr);
    });
}

}  // namespace softmax_detail

// out (resized to M x D) = the mixture score at the rows of x; log_norm (if given, resized to M)
// = log sum_i exp(logit_i). tangent_variance tau >= 0 is the variance added along each key's
// tangent basis (tau > 0 needs keys with set_tangents; tau = 0 ignores them).
inline void softmax_score(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr, double tangent_variance = 0.0) {
    const std::size_t m = rows(x), d = keys.dim();
    softmax_detail::check(x, keys.size(), d, a, v);
    if (!(tangent_variance >= 0.0) || !std::isfinite(tangent_variance))
        throw Error("softmax_score: the tangent variance must be finite and >= 0, got " +
                    std::to_string(tangent_variance));
    const bool tangent = tangent_variance > 0.0;
    if (tangent && !keys.has_tangents())
        throw Error("softmax_score: a tangent variance was given but the keys have no tangent bases");
    softmax_detail::TangentShrink shrink;
    if (tangent) {
        shrink.c = tangent_variance / (v + tangent_variance);
        shrink.one_minus_c = v / (v + tangent_variance);
    }
    if (out.shape()[0] != m || out.shape()[1] != d) out.resize({m, d});
    if (log_norm && log_norm->shape()[0] != m) log_norm->resize({m});
    double* ln = log_norm ? log_norm->data() : nullptr;
    // The variant is chosen once here, never per key.
    using namespace softmax_detail;
    if (keys.weighted()) {
        if (tangent) run<true, true>(x, keys, a, v, shrink, out, ln);
        else run<true, false>(x, keys, a, v, shrink, out, ln);
    } else {
        if (tangent) run<false, true>(x, keys, a, v, shrink, out, ln);
        else run<false, false>(x, keys, a, v, shrink, out, ln);
    }
}

// Convenience overload that packs the keys on every call (plain keys: no weights, no tangents).
inline void softmax_score(const Matrix& x, const Matrix& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr) {
    if (rows(keys) == 0) throw Error("softmax_score: there are no keys");
    softmax_score(x, SoftmaxKeys(keys), a, v, out, log_norm);
}

}  // namespace mdlab::kernels
