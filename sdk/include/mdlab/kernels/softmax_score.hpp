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
//   for the plain and the log-weighted mixture (tau = 0): register tiles of queries by keys
//   (AVX-512: 2 (float: 4) queries by 64 keys in 16 of its 32 registers; AVX2 and the generic
//   SSE path: 2 queries by 4 registers of keys, 8 accumulators of their 16 registers), offsets
//   k - x / a with the queries scaled by 1 / a (a K_i - X_m = a (K_i - X_m / a), so the packed
//   keys are used as they are), a vectorised exp (vector_exp.hpp), blocks where every weight
//   underflows skipped, fast distances checked a posteriori and recomputed exactly where the
//   check fails. With keys packed in a spatial index (SoftmaxKeys::indexed) each query streams
//   only the blocks the index keeps. Figures per path: docs/benchmarks.md.
// - The general scalar path (score_one in sdk/src/kernels/softmax_general.hpp): the tangent
//   variant (tau > 0, always in double; with an index it too streams only the kept blocks) and
//   the rare inputs the fast path excludes: non-finite queries (NaN propagates), coordinates
//   |x / a| or keys beyond 2^500 (float: 2^50) where a squared distance could overflow (then, if
//   every distance overflows to +inf, the nearest key in a scaled metric gives the limit of the
//   softmax), a = 0, and a^2 / (2v) or 2v / a^2 overflowing.
// Both are compiled for every instruction-set path (mdlab/isa.hpp) in libmdlab_kernels; the
// call runs the path isa::active() names. On one path results are bit-identical for any thread
// count; across paths they agree to rounding (the fast path's tolerance below).
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
#include <cstddef>
#include <cstdint>
#include <string>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/isa.hpp"
#include "mdlab/kernels/detail/softmax_keys.hpp"

namespace mdlab::kernels {

// Arithmetic of the fast path: double (default) or float (results are returned as doubles).
enum class Precision { f64, f32 };

// "f64" or "f32" (the choices the estimators offer as their `precision` parameter).
inline Precision precision_from_string(const std::string& name) {
    if (name == "f64") return Precision::f64;
    if (name == "f32") return Precision::f32;
    throw Error("softmax_score: unknown precision '" + name + "' (f64 or f32)");
}

// What a call did (optional, for tests and benchmarks): how many queries took the fast path,
// how many of those the spatial index pruned, the key blocks streamed in all (a dense query
// streams every block), and the queries recomputed with exact distances.
struct SoftmaxStats {
    std::size_t queries = 0, fast_queries = 0, pruned_queries = 0, blocks_streamed = 0, recomputed = 0;
    isa::Path path = isa::Path::generic;
};

// out (resized to M x D) = the mixture score at the rows of x; log_norm (if given, resized to M)
// = log sum_i exp(logit_i). tangent_variance tau >= 0 is the variance added along each key's
// tangent basis (tau > 0 needs keys with set_tangents; tau = 0 ignores them). precision: the
// arithmetic of the fast path (f32: see the accuracy notes above; the tangent variant always
// runs in double). stats, if given, is overwritten with what the call did.
MDLAB_KERNELS_API void softmax_score(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out,
                                     Vector* log_norm = nullptr, double tangent_variance = 0.0,
                                     Precision precision = Precision::f64, SoftmaxStats* stats = nullptr);

// Convenience overload that packs the keys on every call (plain keys: no weights, no tangents).
inline void softmax_score(const Matrix& x, const Matrix& keys, double a, double v, Matrix& out,
                          Vector* log_norm = nullptr, Precision precision = Precision::f64) {
    if (rows(keys) == 0) throw Error("softmax_score: there are no keys");
    softmax_score(x, SoftmaxKeys(keys), a, v, out, log_norm, 0.0, precision);
}

// The fast path over the key blocks blocks[0..nblocks) (nullptr: all blocks in order) for the
// queries rows[0..count) (D doubles each): out[i] (D doubles) and, if log_norm and log_norm[i],
// *log_norm[i], the softmax over those keys. The entry point for a spatial index: any superset
// of a query's kept blocks is exact up to the index's tolerance. Preconditions: the fast path
// applies to the call and to every row (see above; throws mdlab::Error otherwise). Returns the
// number of queries recomputed with exact distances.
MDLAB_KERNELS_API std::size_t stream_blocks(const SoftmaxKeys& keys, double a, double v, const double* const* rows,
                                            std::size_t count, const std::uint32_t* blocks, std::size_t nblocks,
                                            double* const* out, double* const* log_norm = nullptr,
                                            Precision precision = Precision::f64);

// The fast path's vector exp (vector_exp.hpp) on the active path, over arrays of t <= 0 (tests).
MDLAB_KERNELS_API void exp_nonpositive(const double* t, double* out, std::size_t n);
MDLAB_KERNELS_API void exp_nonpositive(const float* t, float* out, std::size_t n);

}  // namespace mdlab::kernels
