// The register-tiled fast path of the softmax score kernel (softmax_score.hpp), in double or
// float. For a group of queries x and key blocks of SoftmaxKeys it accumulates, per query, the
// running minimum d_min of the scaled distances d_i = |k_i - x / a|^2 - (2 v / a^2) l_i (l_i the
// log-weight, 0 without weights), Z = sum_i e_i and S = sum_i e_i (k_i - x / a) with
// e_i = exp((d_min - d_i) a^2 / (2 v)), rescaled whenever d_min moves (online softmax). Since
// a k_i - x = a (k_i - x / a), the logits are -d_i a^2 / (2 v) (+ l_i) and softmax_score.hpp
// turns the sums into the score a S / (Z v) and log_norm = -d_min a^2 / (2 v) + log Z.
//
// Compiled once per instruction-set path (libmdlab_kernels, mdlab/isa.hpp): registers of W keys
// are 64 bytes with AVX-512 (W = 8 doubles or 16 floats), 32 with AVX2, 16 otherwise.
//
// Why this form. Per (query, key, coordinate), in registers of W keys, the distance phase needs
// s = k - x / a and d += s s, the weighted-sum phase e s, and exp is once per (query, key).
// Current x86 cores issue two fmas and one or two adds per cycle and fewer stores, so the loop
// avoids multiplies other than the two fmas and avoids stores:
// - The queries are scaled, not the keys: x / a = xh + xl, xh = x / a rounded and xl the
//   rounding error (exact: fma(-xh, a, x) / a), once per query, and the packed keys are used
//   as they are (no per-call copy). The offsets s = k - x / a are then (k - xh) - xl: when k is
//   close to x / a, k - xh is exact (Sterbenz) and the only rounding is the last subtraction,
//   so the offset to a key the query sits on keeps full relative accuracy at any v (what
//   fma(a, k, -x) gave the scalar kernel). With a = 1 (or any a with x / a exact) xl is zero.
// - Checked fast distances. The distances are first computed without xl (one add fewer per
//   (query, key, coordinate), about 15% of the time), i.e. the weights of the query
//   x~ = a xh, 1 ulp from x; the components (weighted sums) always use the exact offsets. To
//   first order that moves the score by -(a^3 / v^2) Cov_w(s) xl, so its relative error is at
//   most (a^2 / v) |xl| tr Cov_w(s) / |E_w s|. The kernel also accumulates sum e |k - xh|^2,
//   which gives tr Cov_w(s) = E_w|s~|^2 - |E_w s|^2 (+ 2 |E_w s| |xl|, + rounding) at the end,
//   and recomputes with exact distances every query whose bound (times 2) exceeds 1e-13:
//   queries between several keys at small v (the bound grows like eps |x| / sigma), rarely
//   others (a query dominated by one key has tr Cov ~ 0). finish() does it by itself.
// - The weighted sum uses k - xh only: sum e (k - xh - xl) = sum e (k - xh) - xl Z, and xl Z is
//   subtracted once at the end (xl is a per-query constant), so it costs one add and one fma.
//   This keeps the accuracy of the direct form. The cheaper-looking forms lose it: accumulating
//   sum e k and subtracting (x / a) Z at the end cancels to an error of about eps |x| / |r|
//   relative to the score (measured with this kernel so modified, sigma^2 = 1e-6, queries 0.1
//   to 2 sigma from a key, against long double: 22 of 300 queries above 1e-12 in D = 1, worst
//   5e-11; 14 of 300 in D = 2; the direct form: none, worst 5e-14), and anchoring blocks at
//   their centroids only helps when blocks are spatially compact. Storing s from the distance
//   phase for the weighted sum (one fma instead of add + fma) was measured slower: the stores
//   bind. The direct form costs one add per (query, key, coordinate) more than sum e k (about
//   8% of the time, measured): kept.
// - Blocks where every weight of the tile underflows (exp flushes below e^-708: a block far
//   from the tile's queries, the common case at small v) skip the exp and the weighted sum:
//   they would add exact zeros, so the result is the same bit for bit.
// - Register tile (Tiling): with AVX-512's 32 registers, Q queries (2 doubles / 4 floats) times
//   one 64-key block: Q x (64 / W) = 16 distance accumulators, then 16 weights e, all in
//   registers. With 16 registers (AVX2, SSE), 2 queries times 4 registers of keys per pass over
//   the coordinates (8 accumulators; the block's distances and weights go through the stack once
//   per block, the online-softmax step stays once per block). A query streamed alone (a spatial
//   index's list) uses a one-query tile. Each key register is loaded once per coordinate and used
//   for the Q queries. Per register of keys and coordinate:
//   distance 1 add + 1 fma (exact distances: 2 adds + 1 fma), weighted sum 1 add + 1 fma; the
//   exp (11 fma-class and about 9 other operations per register, vector_exp.hpp) adds about
//   0.7 fma per coordinate at D = 16.
// - Sums over keys are kept lane-wise (W partial sums per query and coordinate) and combined in
//   a fixed order at the end, so the summation order is fixed by the code: the result of a
//   query depends only on that query and the blocks it streams over, never on the thread count
//   or on the other queries of its group.
// - float: keys (converted once per block and group into a small buffer) and x / a in float,
//   distances, weights and the per-block sums in float (16 lanes); the float partial sums are
//   added into double accumulators every `flush_blocks` blocks (1024 keys), so the float
//   rounding of a sum does not grow with N. Results are returned as doubles.
//
// Preconditions (checked by softmax_score.hpp, which sends everything else to the general scalar
// path): finite queries and keys with |x_j / a|, |k_j| <= limit<T> (no squared distance can
// overflow), a != 0, a^2 / (2 v) finite and positive; no tangent variance.
//
// Streaming over a subset of the blocks (for a spatial index): DenseGroup::stream_blocks takes
// any list of block indices (each at most once, in the order given); the result is the softmax
// over the keys of those blocks. softmax_score.hpp wraps it as softmax_detail::stream_blocks
// (any number of queries, this thread's workspace). Directly:
//   softmax_detail::Workspace<T> ws;                     // per task (reused: no allocation when warm)
//   softmax_detail::DenseGroup<T> g(keys, a, v, ws);
//   g.start(query_rows, count);                           // count <= group queries (D doubles each)
//   g.stream_blocks(blocks, nblocks);                     // may be called several times
//   g.finish(out_rows, log_norm_ptrs);                    // a S / (Z v) and log_norm per query
// finish() recomputes the queries that fail the check of the fast distances (see above) over
// the blocks streamed since start().
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include "mdlab/kernels/detail/simd_vector.hpp"
#include "mdlab/kernels/detail/softmax_keys.hpp"
#include "mdlab/kernels/detail/vector_exp.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // see simd_vector.hpp
#endif

// Compiled once per instruction-set path (simd_vector.hpp): the namespace carries the path.
namespace mdlab::kernels::MDLAB_ISA_NAMESPACE {

inline constexpr std::size_t dense_block = SoftmaxKeys::block;  // keys per packed block
inline constexpr std::size_t group = 32;                        // queries per group (one parallel task)
inline constexpr std::size_t flush_blocks = 16;  // float: blocks between flushes into double sums

// The register tile: `queries` queries, whose `accumulators` distance registers stay in
// registers over the coordinates. With AVX-512's 32 registers: 2 (float: 4) queries by the whole
// 64-key block, 16 accumulators. With 16 registers (AVX2, SSE): 2 queries by 4 registers of keys
// (AVX2: 16 doubles or 32 floats) at a time, 8 accumulators, which leaves room for the query
// broadcasts, a key register and temporaries.
template <class T>
struct Tiling {
    static constexpr std::size_t accumulators = simd::registers >= 32 ? 16 : 8;  // distance registers
    static constexpr std::size_t queries = simd::registers >= 32 ? accumulators / (dense_block / simd::width<T>) : 2;
    static constexpr double limit = sizeof(T) == sizeof(double) ? 0x1p500 : 0x1p50;
    // limit: |x / a|, |k| bound: d <= D 2^1002 stays finite (float: d <= D 2^102 < FLT_MAX for D < 2^26)
};

// 64-byte aligned storage that keeps its capacity (no page faults once warm).
template <class T>
struct AlignedBuffer {
    T* data = nullptr;
    std::size_t size = 0;
    AlignedBuffer() = default;
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { ::operator delete(data, std::align_val_t(64)); }
    T* get(std::size_t n) {
        if (n > size) {
            ::operator delete(data, std::align_val_t(64));
            data = nullptr;
            size = 0;
            data = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
            size = n;
        }
        return data;
    }
};

// Per-task scratch of the fast path (one per thread or task, never shared).
template <class T>
struct Workspace {
    AlignedBuffer<T> xh;                 // group x D: x / a rounded to T
    AlignedBuffer<double> xl;            // group x D: x / a - xh
    AlignedBuffer<T> keys;               // float: the current block converted (block x D)
    AlignedBuffer<T> pen;                // block penalties -(2 v / a^2) l_k, +inf for padding
    AlignedBuffer<simd::vec<T>> acc;     // group x D lane sums of e (k - xh)
    AlignedBuffer<simd::vec<T>> z;       // group lane sums of e
    AlignedBuffer<T> dmin;               // group running minima
    AlignedBuffer<simd::vec<double>> acc64, z64;  // float: flushed sums in double
    AlignedBuffer<simd::vec<T>> zd;      // group lane sums of e |k - xh|^2 (checked fast distances)
    std::vector<std::uint32_t> blocks;   // the blocks streamed (for recomputing flagged queries)
    std::vector<const double*> rows;     // the group's query rows, and the flagged ones' outputs
    std::vector<double*> redo_out, redo_ln;
};

// The running sums of the Q queries of one tile: acc (Q x D registers), z (Q registers),
// dmin (Q values); float only: acc64 (Q x D) and z64 (Q), the flushed sums in double.
template <class T>
struct TileSums {
    simd::vec<T>* acc;
    simd::vec<T>* z;
    T* dmin;
    simd::vec<double>* acc64;
    simd::vec<double>* z64;
    simd::vec<T>* zd;  // Track: Q registers of sum e |k - xh|^2
};

// The tile kernel: Q queries (x / a = xh + xl, coordinates at [q * D + j]) against one block of
// 64 keys (coordinate j of key k at kb[j * 64 + k]). c = a^2 / (2 v). HasLo: exact distances
// (with xl); Track: accumulate sum e |k - xh|^2 for the check of the fast distances.
// The loops over coordinates keep NS = accumulators / Q registers per query in registers
// (the whole block with AVX-512; a sub-tile of it with 16 registers, the block's distances and
// weights then passing through the stack once per block), while the online-softmax step (block
// minimum, rescaling, exp) is done once per block.
// Q is Tiling<T>::queries, or 1 for a query streamed alone (a spatial index's candidate list):
// the same code with one query's registers, instead of a tile padded with a copy of the query.
template <class T, std::size_t Q, bool HasLo, bool HasPenalty, bool Track>
inline void tile_block(std::size_t d, T c, double c_double, const T* kb, const T* pen, const T* xh, const double* xl,
                       const TileSums<T>& sums) {
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    constexpr std::size_t NB = dense_block / W;  // registers of keys per block
    constexpr std::size_t NS = std::min(NB, Tiling<T>::accumulators / Q);  // per sub-tile
    static_assert(Q * NS <= Tiling<T>::accumulators && NB % NS == 0, "the tile's distance registers");

    // Distance phase: s = (k - xh) - xl, d += s s.
    const V one = simd::broadcast(T(1));
    V dist[Q][NB];
#pragma GCC unroll 16
    for (std::size_t sub = 0; sub < NB; sub += NS) {
#pragma GCC unroll 16
        for (std::size_t q = 0; q < Q; ++q)
#pragma GCC unroll 16
            for (std::size_t v = 0; v < NS; ++v) dist[q][sub + v] = V{};
        for (std::size_t j = 0; j < d; ++j) {
            V bh[Q], bl[Q];
#pragma GCC unroll 16
            for (std::size_t q = 0; q < Q; ++q) {
                bh[q] = simd::broadcast(xh[q * d + j]);
                if constexpr (HasLo) bl[q] = simd::broadcast(xl[q * d + j]);
            }
            const T* kj = kb + j * dense_block + sub * W;
#pragma GCC unroll 16
            for (std::size_t v = 0; v < NS; ++v) {
                V k = simd::load(kj + v * W);
                simd::keep_in_register(k);
#pragma GCC unroll 16
                for (std::size_t q = 0; q < Q; ++q) {
                    // -s = (xh - k) + xl (the sign does not matter in s s); for odd q the second
                    // add as fma(u, 1, xl), the same rounding on the fma port, which has room here
                    // while the add port is the bottleneck.
                    V s = bh[q] - k;
                    if constexpr (HasLo) s = q % 2 ? simd::fma(s, one, bl[q]) : s + bl[q];
                    dist[q][sub + v] = simd::fma(s, s, dist[q][sub + v]);
                }
            }
        }
    }
    if constexpr (HasPenalty) {
        // Log-weights (d - (2 v / a^2) l, l <= 0) and padding (+inf): weight exp(-inf) = 0.
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NB; ++v) {
            const V p = simd::load(pen + v * W);
#pragma GCC unroll 16
            for (std::size_t q = 0; q < Q; ++q) dist[q][v] = dist[q][v] + p;
        }
    }

    // Block minimum per query; rescale what was accumulated when it is a new minimum.
    simd::vec<T>* const acc = sums.acc;
    simd::vec<T>* const z = sums.z;
    T* const dmin = sums.dmin;
    T bmin[Q];
    bool live = false;
#pragma GCC unroll 16
    for (std::size_t q = 0; q < Q; ++q) {
        V m = dist[q][0];
#pragma GCC unroll 16
        for (std::size_t v = 1; v < NB; ++v) m = simd::min(m, dist[q][v]);
        bmin[q] = simd::hmin(m);
        // Whether some weight of the block is not flushed to 0 by the exp: the largest is at
        // bmin, and (d_min - d) c rounds monotonically in d, so this is exactly the exp's test.
        live = live || !((dmin[q] - bmin[q]) * c < simd::exp_lowest<T>) || bmin[q] < dmin[q];
    }
    // Every weight 0 (a block far from every query of the tile, typical at small v): adding
    // zeros would change nothing, so the exp and the weighted sums are skipped.
    if (!live) return;
    V e[Q][NB];
#pragma GCC unroll 16
    for (std::size_t q = 0; q < Q; ++q) {
        if (bmin[q] < dmin[q]) {
            const T bm = bmin[q];
            // exp(-inf) = 0 on the first block: the (zero) sums stay zero.
            const double scale = std::exp((static_cast<double>(bm) - static_cast<double>(dmin[q])) * c_double);
            const T st = static_cast<T>(scale);
            for (std::size_t j = 0; j < d; ++j) acc[q * d + j] *= st;
            z[q] *= st;
            if constexpr (Track) sums.zd[q] *= st;
            if constexpr (sizeof(T) != sizeof(double)) {
                for (std::size_t j = 0; j < d; ++j) sums.acc64[q * d + j] *= scale;
                sums.z64[q] *= scale;
            }
            dmin[q] = bm;
        }
        // e = exp((d_min - d) c) in (0, 1]; 0 for +inf distances (and for the NaN of inf - inf
        // while every key so far has weight 0).
        const V dm = simd::broadcast(dmin[q]);
        V zs = z[q];
#pragma GCC unroll 16
        for (std::size_t v = 0; v < NB; ++v) {
            e[q][v] = simd::exp_nonpositive((dm - dist[q][v]) * c);
            zs += e[q][v];
        }
        z[q] = zs;
        if constexpr (Track) {
            // sum e |k - xh|^2: the distance without its penalty (0 where e = 0: padding).
            V t = sums.zd[q];
#pragma GCC unroll 16
            for (std::size_t v = 0; v < NB; ++v) {
                V dd = dist[q][v];
                if constexpr (HasPenalty) {
                    dd = dd - simd::load(pen + v * W);
                    dd = e[q][v] > T(0) ? dd : V{};
                }
                t = simd::fma(e[q][v], dd, t);
            }
            sums.zd[q] = t;
        }
    }

    // Weighted-sum phase: acc_j += e (k_j - xh_j), a sub-tile's weights in registers at a time.
#pragma GCC unroll 16
    for (std::size_t sub = 0; sub < NB; sub += NS) {
        for (std::size_t j = 0; j < d; ++j) {
            const T* kj = kb + j * dense_block + sub * W;
            V bh[Q], s[Q];
#pragma GCC unroll 16
            for (std::size_t q = 0; q < Q; ++q) {
                bh[q] = simd::broadcast(xh[q * d + j]);
                s[q] = acc[q * d + j];
            }
#pragma GCC unroll 16
            for (std::size_t v = 0; v < NS; ++v) {
                V k = simd::load(kj + v * W);
                simd::keep_in_register(k);
#pragma GCC unroll 16
                for (std::size_t q = 0; q < Q; ++q) s[q] = simd::fma(e[q][sub + v], k - bh[q], s[q]);
            }
#pragma GCC unroll 16
            for (std::size_t q = 0; q < Q; ++q) acc[q * d + j] = s[q];
        }
    }
}

// A group of up to `group` queries streaming over key blocks together (see the header).
template <class T>
class DenseGroup {
public:
    using V = simd::vec<T>;
    static constexpr std::size_t Q = Tiling<T>::queries;
    static constexpr std::size_t W = simd::width<T>;

    // The keys (with their log-weights, if any; tangents are ignored), the scale a and the
    // variance v of the call; ws: this task's scratch. exact: compute exact distances from the
    // start (no checked fast distances; used for the recomputation).
    DenseGroup(const SoftmaxKeys& keys, double a, double v, Workspace<T>& ws, bool exact = false)
        : keys_(&keys), a_(a), v_(v), ws_(&ws), exact_(exact) {
        d_ = keys.dim();
        c_double_ = a * a * (0.5 / v);
        c_ = static_cast<T>(c_double_);
        weighted_ = keys.weighted();
        const std::size_t d = d_;
        ws.xh.get(group * d);
        ws.xl.get(group * d);
        if constexpr (sizeof(T) != sizeof(double)) ws.keys.get(dense_block * d);
        ws.pen.get(dense_block);
        ws.acc.get(group * d);
        ws.z.get(group);
        ws.dmin.get(group);
        if constexpr (sizeof(T) != sizeof(double)) {
            ws.acc64.get(group * d);
            ws.z64.get(group);
        }
        ws.zd.get(group);
    }

    // Loads `count` (1..group) queries: rows[i] points at D doubles satisfying the preconditions.
    void start(const double* const* rows, std::size_t count) {
        const std::size_t d = d_;
        count_ = count;
        tiles_ = (count + Q - 1) / Q;
        T* xh = ws_->xh.data;
        double* xl = ws_->xl.data;
        has_lo_ = false;
        for (std::size_t i = 0; i < tiles_ * Q; ++i) {
            const double* src = rows[std::min(i, count - 1)];  // pad the last tile with a copy
            for (std::size_t j = 0; j < d; ++j) {
                // x / a = h + l up to the rounding of l: x - a h is exact (fma).
                const double h = src[j] / a_;
                const double l = std::fma(-h, a_, src[j]) / a_;
                const T ht = static_cast<T>(h);
                xh[i * d + j] = ht;
                // float: xl also carries the rounding of x / a to float; the kernel does not
                // see it (distances use xh), the mean offset sum e (k - x / a) / Z does.
                xl[i * d + j] = sizeof(T) == sizeof(double) ? l : (h - static_cast<double>(ht)) + l;
                has_lo_ = has_lo_ || l != 0.0;
            }
        }
        if constexpr (sizeof(T) != sizeof(double)) has_lo_ = false;  // float: distances use xh only
        track_ = has_lo_ && !exact_;
        ws_->rows.assign(rows, rows + count);
        ws_->blocks.clear();
        std::fill(ws_->zd.data, ws_->zd.data + tiles_ * Q, V{});
        std::fill(ws_->acc.data, ws_->acc.data + tiles_ * Q * d, V{});
        std::fill(ws_->z.data, ws_->z.data + tiles_ * Q, V{});
        std::fill(ws_->dmin.data, ws_->dmin.data + tiles_ * Q, std::numeric_limits<T>::infinity());
        if constexpr (sizeof(T) != sizeof(double)) {
            std::fill(ws_->acc64.data, ws_->acc64.data + tiles_ * Q * d, simd::vec<double>{});
            std::fill(ws_->z64.data, ws_->z64.data + tiles_ * Q, simd::vec<double>{});
        }
        since_flush_ = 0;
    }

    // Streams the loaded queries over the blocks blocks[0..count) (nullptr: blocks 0..count-1).
    void stream_blocks(const std::uint32_t* blocks, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint32_t b = blocks ? blocks[i] : static_cast<std::uint32_t>(i);
            const T* kb = block_keys(b);
            const bool pen = penalties(b);
            if constexpr (sizeof(T) == sizeof(double)) {
                if (track_) {
                    ws_->blocks.push_back(b);
                    if (pen) run_tiles<false, true, true>(kb);
                    else run_tiles<false, false, true>(kb);
                    continue;
                }
                if (has_lo_) {
                    if (pen) run_tiles<true, true, false>(kb);
                    else run_tiles<true, false, false>(kb);
                    continue;
                }
            }
            if (pen) run_tiles<false, true, false>(kb);
            else run_tiles<false, false, false>(kb);
        }
    }

    // out[i] (D doubles) = a S / (Z v) of query i; *log_norm[i] (if log_norm and log_norm[i]) =
    // -d_min a^2 / (2 v) + log Z + log_weight_offset. Z = 0 (no key of positive weight was
    // streamed) gives NaN.
    // With checked fast distances, the queries that fail the check are recomputed here with
    // exact distances over the same blocks (the workspace is reused: call start() again after).
    void finish(double* const* out, double* const* log_norm) {
        if constexpr (sizeof(T) != sizeof(double)) flush();
        const std::size_t d = d_;
        const double scale = a_ / v_;
        constexpr double eps = std::numeric_limits<double>::epsilon();
        ws_->redo_out.clear();
        ws_->redo_ln.clear();
        std::size_t redo = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            double total;
            if constexpr (sizeof(T) == sizeof(double)) total = simd::hsum(ws_->z.data[i]);
            else total = simd::hsum(ws_->z64.data[i]);
            const double inv = 1.0 / total;
            double mean2 = 0.0, xl2 = 0.0;
            for (std::size_t j = 0; j < d; ++j) {
                double s;
                if constexpr (sizeof(T) == sizeof(double)) s = simd::hsum(ws_->acc.data[i * d + j]);
                else s = simd::hsum(ws_->acc64.data[i * d + j]);
                // E_w s = sum e (k - x / a) / Z = S / Z - xl (xl: see start()).
                const double xl = ws_->xl.data[i * d + j];
                const double mean = s * inv - xl;
                out[i][j] = total > 0.0 ? mean * scale : std::numeric_limits<double>::quiet_NaN();
                mean2 += mean * mean;
                xl2 += xl * xl;
            }
            if (log_norm && log_norm[i])
                *log_norm[i] = total > 0.0 ? -static_cast<double>(ws_->dmin.data[i]) * c_double_ + std::log(total) +
                                                 keys_->log_weight_offset()
                                           : std::numeric_limits<double>::quiet_NaN();
            if (track_) {
                // The check of the fast distances (see the header): bound on the relative error
                // 2 (a^2 / v) |xl| tr Cov / |E s|, tr Cov <= E|s~|^2 - |E s|^2 + 2 |E s| |xl|
                // + the rounding of the sums (E|s~|^2 is summed over 8 terms per lane and block).
                const double es2 = simd::hsum(ws_->zd.data[i]) * inv;
                const double m = std::sqrt(mean2), xln = std::sqrt(xl2);
                const double rounding = (8.0 * ws_->blocks.size() + d + 8.0) * eps * es2;
                const double cov = std::max(0.0, es2 - mean2) + 2.0 * m * xln + rounding;
                const double bound = 2.0 * (2.0 * c_double_) * xln * cov / m;
                if (!(bound <= 1e-13)) {
                    ws_->rows[redo++] = ws_->rows[i];
                    ws_->redo_out.push_back(out[i]);
                    ws_->redo_ln.push_back(log_norm ? log_norm[i] : nullptr);
                }
            }
        }
        if (redo > 0) {
            // Recompute the flagged queries with exact distances, over the same blocks.
            const std::vector<std::uint32_t> blocks = ws_->blocks;
            const std::vector<double*> outs = ws_->redo_out, lns = ws_->redo_ln;
            const std::vector<const double*> rows(ws_->rows.begin(), ws_->rows.begin() + redo);
            recomputed_ += redo;
            const bool was_exact = exact_;
            exact_ = true;
            start(rows.data(), redo);
            stream_blocks(blocks.data(), blocks.size());
            finish(outs.data(), lns.data());
            exact_ = was_exact;
        }
    }

    // Queries recomputed with exact distances by the last finish() calls (statistics).
    std::size_t recomputed() const { return recomputed_; }

private:
    // Block b's keys as T (double: the packed keys themselves).
    const T* block_keys(std::size_t b) {
        const double* kb = keys_->data(b);
        if constexpr (sizeof(T) == sizeof(double)) {
            return kb;
        } else {
            T* dst = ws_->keys.data;
            for (std::size_t k = 0; k < d_ * dense_block; ++k) dst[k] = static_cast<T>(kb[k]);
            return dst;
        }
    }

    // Fills the block's penalties (log-weights, padding); false when there are none.
    bool penalties(std::size_t b) {
        const std::size_t valid = keys_->count(b);
        if (!weighted_ && valid == dense_block) return false;
        T* pen = ws_->pen.data;
        const double factor = 2.0 * v_ / (a_ * a_);
        const double* lw = weighted_ ? keys_->log_weights(b) : nullptr;
        for (std::size_t k = 0; k < dense_block; ++k) {
            const double p = k >= valid ? std::numeric_limits<double>::infinity() : lw ? -(factor * lw[k]) : 0.0;
            pen[k] = static_cast<T>(p);
        }
        return true;
    }

    template <bool HasLo, bool HasPenalty, bool Track>
    void run_tiles(const T* kb) {
        const std::size_t d = d_;
        for (std::size_t t = 0; t < tiles_; ++t) {
            TileSums<T> sums{ws_->acc.data + t * Q * d, ws_->z.data + t * Q, ws_->dmin.data + t * Q, nullptr, nullptr,
                             ws_->zd.data + t * Q};
            if constexpr (sizeof(T) != sizeof(double)) {
                sums.acc64 = ws_->acc64.data + t * Q * d;
                sums.z64 = ws_->z64.data + t * Q;
            }
            if (count_ == 1)  // one query: a one-query tile, not a tile padded with its copy
                tile_block<T, 1, HasLo, HasPenalty, Track>(d, c_, c_double_, kb, ws_->pen.data, ws_->xh.data,
                                                           ws_->xl.data, sums);
            else
                tile_block<T, Q, HasLo, HasPenalty, Track>(d, c_, c_double_, kb, ws_->pen.data,
                                                           ws_->xh.data + t * Q * d, ws_->xl.data + t * Q * d, sums);
        }
        if constexpr (sizeof(T) != sizeof(double))
            if (++since_flush_ == flush_blocks) flush();
    }

    // float: adds the float lane sums into the double ones (lanes l and l + W / 2 into lane l)
    // and clears them. Rescaling multiplies both by the same factor, so they stay consistent.
    void flush() {
        if constexpr (sizeof(T) != sizeof(double)) {
            since_flush_ = 0;
            const std::size_t n = tiles_ * Q, d = d_;
            auto add = [](simd::vec<double>& to, V& from) {
                constexpr std::size_t h = simd::width<double>;
                simd::vec<double> low, high;
                for (std::size_t l = 0; l < h; ++l) low[l] = from[l], high[l] = from[l + h];
                to = (to + low) + high;
                from = V{};
            };
            for (std::size_t i = 0; i < n * d; ++i) add(ws_->acc64.data[i], ws_->acc.data[i]);
            for (std::size_t i = 0; i < n; ++i) add(ws_->z64.data[i], ws_->z.data[i]);
        }
    }

    const SoftmaxKeys* keys_;
    double a_, v_, c_double_ = 0.0;
    T c_ = 0;
    Workspace<T>* ws_;
    std::size_t d_ = 0;
    bool weighted_ = false, has_lo_ = false, exact_ = false, track_ = false;
    std::size_t recomputed_ = 0;
    std::size_t count_ = 0, tiles_ = 0, since_flush_ = 0;
};

}  // namespace mdlab::kernels::MDLAB_ISA_NAMESPACE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
