// The softmax-attention score kernel shared by the empirical, kernel-smoothed and oracle
// estimators: for queries X (M x D), keys K (N x D), a scale a and a variance v > 0,
//
//   out_m = sum_i w_mi (a K_i - X_m) / v,   w_m = softmax_i( -|X_m - a K_i|^2 / (2 v) ),
//
// the score of the Gaussian mixture (1/N) sum_i N(a K_i, v I) at X_m, and optionally its log
// normaliser log_norm_m = log sum_i exp(-|X_m - a K_i|^2 / (2 v)) (add -log N - D/2 log(2 pi v)
// for the log density of the mixture).
//
// How it is computed (flash-attention style):
// - Keys are packed once (SoftmaxKeys) into blocks of `block` keys, transposed inside a block
//   (for each coordinate d the block's `block` values are contiguous), the last block padded.
//   The inner loops run over the keys of a block with unit stride and a compile-time trip
//   count, which g++ -O3 -march=native vectorises for any D.
// - Each query streams over the key blocks keeping a running minimum squared distance (the
//   running maximum logit), the normaliser and the accumulator sum_i e_i (a K_i - X_m), rescaled
//   whenever the maximum moves: no M x N matrix is ever held, nothing overflows, and the
//   nearest key always has weight exp(0) = 1, so nothing underflows to 0/0 at tiny v.
// - a K_i - X_m is formed with one rounding (fused multiply-add) where the target has FMA.
// - The accumulator holds sum e_i (a K_i - X_m) directly rather than the weighted mean of the
//   keys minus X_m, so the result stays accurate when v is tiny and a K_i is close to X_m.
// - Sums over keys are kept in `lanes` fixed partial sums (one SIMD register wide) combined in
//   a fixed order at the end, so the loops vectorise without -ffast-math and the summation
//   order is fixed by the code, not by the compiler or the machine's thread count.
// - Queries are processed in parallel (mdlab::for_chunks); each query's result depends only on
//   that query, so results are bit-identical for any number of threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

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
// every call: the scale a and variance v are arguments of the kernel, not of the packing.
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

    std::size_t size() const { return n_; }
    std::size_t dim() const { return d_; }
    std::size_t blocks() const { return chunk_count(n_, block); }
    // Keys valid in block b (the last block may be partial; its padding is zero).
    std::size_t count(std::size_t b) const { return std::min(block, n_ - b * block); }
    // Block b: d_ rows of `block` values, coordinate j of key k of the block at [j * block + k].
    const double* data(std::size_t b) const { return packed_.data() + b * d_ * block; }

private:
    std::size_t n_ = 0, d_ = 0;
    std::vector<double> packed_;
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

// One query against all keys. acc is scratch of d * lanes doubles.
inline void score_one(const double* x, const SoftmaxKeys& keys, double a, double v, double* acc,
                      double* out, double* log_norm) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    const std::size_t d = keys.dim();
    const double inv2v = 0.5 / v;

    alignas(64) double dist[block];
    alignas(64) double e[block];
    alignas(64) double sum[lanes];
    std::fill(acc, acc + d * lanes, 0.0);
    std::fill(sum, sum + lanes, 0.0);
    double dmin = inf;  // running minimum squared distance = running maximum logit * (-2v)

    for (std::size_t b = 0; b < keys.blocks(); ++b) {
        const double* kb = keys.data(b);
        const std::size_t valid = keys.count(b);

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
    }

    double total = 0.0;
    for (std::size_t l = 0; l < lanes; ++l) total += sum[l];
    if (!(total > 0.0)) {
        // Every squared distance overflowed to +inf (or the query is NaN): no finite logit.
        // The limit of the softmax is then the nearest key; find it by comparing in a scaled
        // metric that cannot overflow. (Unreachable for sane inputs.)
        if (std::isnan(dmin)) {
            for (std::size_t j = 0; j < d; ++j) out[j] = std::numeric_limits<double>::quiet_NaN();
            if (log_norm) *log_norm = std::numeric_limits<double>::quiet_NaN();
            return;
        }
        double best = inf;
        std::size_t best_b = 0, best_k = 0;
        for (std::size_t b = 0; b < keys.blocks(); ++b)
            for (std::size_t k = 0; k < keys.count(b); ++k) {
                double s = 0.0;
                for (std::size_t j = 0; j < d; ++j) {
                    const double r = (a * keys.data(b)[j * block + k] - x[j]) * 0x1p-600;
                    s += r * r;
                }
                if (s < best) best = s, best_b = b, best_k = k;
            }
        for (std::size_t j = 0; j < d; ++j) out[j] = (a * keys.data(best_b)[j * block + best_k] - x[j]) / v;
        if (log_norm) *log_norm = -inf;
        return;
    }
    const double inv = 1.0 / (total * v);
    for (std::size_t j = 0; j < d; ++j) {
        double s = 0.0;
        for (std::size_t l = 0; l < lanes; ++l) s += acc[j * lanes + l];
        out[j] = s * inv;
    }
    if (log_norm) *log_norm = -dmin * inv2v + std::log(total);
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

}  // namespace softmax_detail

// out (resized to M x D) = the mixture score at the rows of x; log_norm (if given, resized to M)
// = log sum_i exp(-|x_m - a k_i|^2 / (2 v)).
inline void softmax_score(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr) {
    const std::size_t m = rows(x), d = keys.dim();
    softmax_detail::check(x, keys.size(), d, a, v);
    if (out.shape()[0] != m || out.shape()[1] != d) out.resize({m, d});
    if (log_norm && log_norm->shape()[0] != m) log_norm->resize({m});
    double* ln = log_norm ? log_norm->data() : nullptr;
    for_chunks(m, softmax_detail::query_chunk, [&](std::size_t, std::size_t b, std::size_t e) {
        std::vector<double> acc(d * softmax_detail::lanes);
        for (std::size_t i = b; i < e; ++i)
            softmax_detail::score_one(row(x, i), keys, a, v, acc.data(), row(out, i), ln ? ln + i : nullptr);
    });
}

// Convenience overload that packs the keys on every call.
inline void softmax_score(const Matrix& x, const Matrix& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr) {
    if (rows(keys) == 0) throw Error("softmax_score: there are no keys");
    softmax_score(x, SoftmaxKeys(keys), a, v, out, log_norm);
}

}  // namespace mdlab::kernels
