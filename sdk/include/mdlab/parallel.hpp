// Deterministic parallel loops: work is cut into fixed chunks independent of the thread count,
// and reductions combine per-chunk partial results in chunk order.
#pragma once
#include <cstddef>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

namespace mdlab {

inline std::size_t chunk_count(std::size_t n, std::size_t chunk) { return (n + chunk - 1) / chunk; }

// Calls body(chunk_index, begin, end) for every chunk of `chunk` items, in parallel.
template <class Body>
void for_chunks(std::size_t n, std::size_t chunk, Body&& body) {
    const std::size_t chunks = chunk_count(n, chunk);
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, chunks, 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
            for (std::size_t c = r.begin(); c != r.end(); ++c)
                body(c, c * chunk, std::min(n, (c + 1) * chunk));
        },
        tbb::simple_partitioner());
}

// Calls f(k) for every k in [0, n), in parallel over fixed chunks: for elementwise updates of a
// sampler's state (no reduction, so the result never depends on the thread count).
template <class F>
void for_each_index(std::size_t n, F&& f) {
    for_chunks(n, 4096, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k) f(k);
    });
}

// Sum of f(i) for i in [0, n): chunked, partial sums added in chunk order (bit-reproducible).
template <class F>
double ordered_sum(std::size_t n, F&& f, std::size_t chunk = 1024) {
    std::vector<double> partial(chunk_count(n, chunk), 0.0);
    for_chunks(n, chunk, [&](std::size_t c, std::size_t b, std::size_t e) {
        double s = 0.0;
        for (std::size_t i = b; i < e; ++i) s += f(i);
        partial[c] = s;
    });
    double total = 0.0;
    for (double p : partial) total += p;
    return total;
}

}  // namespace mdlab
