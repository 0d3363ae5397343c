// The softmax score kernel on one instruction-set path: compiled once per path by
// mdlab_add_isa_sources (MDLAB_ISA_SOURCE = generic, avx2 or avx512, with that path's -march),
// each copy in its own namespace (simd_vector.hpp), entered through kernel_entries.hpp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "kernel_entries.hpp"
#include "mdlab/kernels/detail/softmax_microkernel.hpp"
#include "mdlab/kernels/detail/vector_exp.hpp"
#include "mdlab/parallel.hpp"
#include "softmax_general.hpp"

namespace mdlab::kernels::MDLAB_ISA_NAMESPACE {

namespace {

// Whether the whole call can take the fast path in T (the per-query condition is checked on
// each query by query_applies).
template <class T>
bool fast_path_applies(const SoftmaxKeys& keys, double a, double v) {
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
bool query_applies(const double* x, std::size_t d, double a) {
    for (std::size_t j = 0; j < d; ++j)
        if (!(std::abs(x[j] / a) <= Tiling<T>::limit)) return false;  // NaN fails too
    return true;
}

// This thread's fast-path scratch: used only inside one task body at a time (a task body never
// waits on other tasks, so no other task of this thread can interleave with it).
template <class T>
Workspace<T>& thread_workspace() {
    static thread_local Workspace<T> ws;
    return ws;
}

// The queries rows[0..count) over the blocks blocks[0..nblocks) (nullptr: all), in groups of
// `group`; returns the queries recomputed with exact distances.
template <class T>
std::size_t stream_blocks(const SoftmaxKeys& keys, double a, double v, const double* const* rows, std::size_t count,
                          const std::uint32_t* blocks, std::size_t nblocks, double* const* out,
                          double* const* log_norm) {
    Workspace<T>& ws = thread_workspace<T>();
    DenseGroup<T> g(keys, a, v, ws);
    for (std::size_t first = 0; first < count; first += group) {
        const std::size_t n = std::min(group, count - first);
        g.start(rows + first, n);
        g.stream_blocks(blocks, blocks ? nblocks : keys.blocks());
        g.finish(out + first, log_norm ? log_norm + first : nullptr);
    }
    return g.recomputed();
}

// Per-task tallies of a call (summed in task order at the end).
struct Tally {
    std::size_t fast = 0, pruned = 0, blocks = 0, recomputed = 0;
};

// Queries for which the spatial index proves that at most a fraction of the blocks carry all
// but its tolerance of the weight stream alone over those blocks; the others are compacted to
// the front of the arrays and their count returned, for the dense path. Each query's result
// depends only on the query (one query per stream), so results stay independent of the thread
// count.
template <class T>
std::size_t stream_pruned(const SoftmaxKeys& keys, double a, double v, const double** in, double** res, double** ln,
                          std::size_t n, bool with_log_norm, Tally& tally) {
    static thread_local KeyIndex::Scratch scratch;
    static thread_local std::vector<std::uint32_t> list;
    const KeyIndex& index = *keys.index();
    std::size_t dense = 0;
    for (std::size_t q = 0; q < n; ++q) {
        const std::size_t count = index.template candidates<simd::path>(in[q], a, v, list, scratch);
        if (index.worth_it(count)) {
            tally.recomputed += stream_blocks<T>(keys, a, v, in + q, 1, list.data(), count, res + q,
                                                 with_log_norm ? ln + q : nullptr);
            tally.pruned += 1;
            tally.blocks += count;
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
void run_fast(const detail::SoftmaxCall& call, SoftmaxStats& stats) {
    const SoftmaxKeys& keys = *call.keys;
    const std::size_t d = keys.dim();
    const double a = call.a, v = call.v;
    std::vector<Tally> tallies(chunk_count(call.m, group));
    for_chunks(call.m, group, [&](std::size_t chunk, std::size_t b, std::size_t e) {
        Tally& tally = tallies[chunk];
        const double* in[group];
        double* res[group];
        double* ln[group];
        std::size_t n = 0;
        std::optional<Scratch> general;  // for queries outside the fast path's range (rare)
        for (std::size_t p = b; p < e; ++p) {
            const std::size_t i = call.order ? call.order[p] : p;
            const double* xi = call.x + i * d;
            double* lni = call.log_norm ? call.log_norm + i : nullptr;
            if (query_applies<T>(xi, d, a)) {
                in[n] = xi;
                res[n] = call.out + i * d;
                ln[n] = lni;
                ++n;
                continue;
            }
            if (!general) general.emplace(d, 0);
            if (keys.weighted())
                score_one<true, false>(xi, keys, a, v, TangentShrink{}, *general, call.out + i * d, lni);
            else
                score_one<false, false>(xi, keys, a, v, TangentShrink{}, *general, call.out + i * d, lni);
            tally.blocks += keys.blocks();
        }
        tally.fast += n;
        if (n > 0 && keys.index()) n = stream_pruned<T>(keys, a, v, in, res, ln, n, call.log_norm != nullptr, tally);
        if (n > 0) {
            tally.recomputed +=
                stream_blocks<T>(keys, a, v, in, n, keys.dense_order(), keys.blocks(), res, call.log_norm ? ln : nullptr);
            tally.blocks += n * keys.blocks();
        }
    });
    for (const Tally& t : tallies) {
        stats.fast_queries += t.fast;
        stats.pruned_queries += t.pruned;
        stats.blocks_streamed += t.blocks;
        stats.recomputed += t.recomputed;
    }
}

template <class T>
void exp_array(const T* t, T* out, std::size_t n) {
    constexpr std::size_t w = simd::width<T>;
    std::size_t i = 0;
    for (; i + w <= n; i += w) simd::store(out + i, simd::exp_nonpositive(simd::load(t + i)));
    if (i < n) {  // the tail, padded with 0
        T buf[w] = {};
        std::copy(t + i, t + n, buf);
        simd::store(buf, simd::exp_nonpositive(simd::load(buf)));
        std::copy(buf, buf + (n - i), out + i);
    }
}

}  // namespace

void softmax_entry(const detail::SoftmaxCall& call, SoftmaxStats& stats) {
    const SoftmaxKeys& keys = *call.keys;
    if (call.tau == 0.0) {
        if (call.precision == Precision::f32 && fast_path_applies<float>(keys, call.a, call.v))
            return run_fast<float>(call, stats);
        if (fast_path_applies<double>(keys, call.a, call.v)) return run_fast<double>(call, stats);
    }
    TangentShrink shrink;
    shrink.c = call.c;
    shrink.one_minus_c = call.one_minus_c;
    stats.blocks_streamed += run_general(call.x, call.m, keys, call.a, call.v, call.tau, shrink, call.tau > 0.0,
                                         call.out, call.log_norm, call.order);
}

std::size_t stream_entry(const detail::StreamCall& call) {
    const SoftmaxKeys& keys = *call.keys;
    const bool f32 = call.precision == Precision::f32;
    const bool applies = f32 ? fast_path_applies<float>(keys, call.a, call.v)
                             : fast_path_applies<double>(keys, call.a, call.v);
    bool rows_apply = true;
    for (std::size_t i = 0; i < call.count; ++i)
        rows_apply = rows_apply && (f32 ? query_applies<float>(call.rows[i], keys.dim(), call.a)
                                        : query_applies<double>(call.rows[i], keys.dim(), call.a));
    if (!applies || !rows_apply)
        throw Error("stream_blocks: the fast path does not apply to these keys, scale, variance or queries");
    if (f32)
        return stream_blocks<float>(keys, call.a, call.v, call.rows, call.count, call.blocks, call.nblocks, call.out,
                                    call.log_norm);
    return stream_blocks<double>(keys, call.a, call.v, call.rows, call.count, call.blocks, call.nblocks, call.out,
                                 call.log_norm);
}

void exp_entry(const double* t, double* out, std::size_t n) { exp_array(t, out, n); }
void exp_entry(const float* t, float* out, std::size_t n) { exp_array(t, out, n); }

}  // namespace mdlab::kernels::MDLAB_ISA_NAMESPACE
