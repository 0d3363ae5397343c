// k nearest references of every query point (Euclidean), for small fixed k.
//
//   auto nn = mdlab::kernels::nearest(Y, X, 2);           // nn.distance(i, 0), nn.distance(i, 1)
//   auto self = mdlab::kernels::nearest_within(X, 1);     // each row's nearest *other* row
//
// Brute force: the references are streamed in blocks (stored transposed so the inner loop over
// a block vectorises) and the queries are processed in parallel chunks with mdlab::for_chunks;
// no M x N matrix is formed. Squared distances are summed coordinate by coordinate from the
// differences (no |x|^2 + |y|^2 - 2 x.y cancellation, so a query equal to a reference is at
// distance exactly 0). Each query's result is computed by the same sequence of operations
// whatever the thread count or block size, so it is bit-identical across runs.
//
// Ties are broken by the lower reference index: neighbours are ordered by (distance, index).
// When fewer than k references are available, the missing entries have distance +inf and
// index `no_neighbour`.
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

// Largest k the brute-force kernel supports (it keeps each query's k best in a sorted array).
inline constexpr std::size_t max_neighbours = 32;
inline constexpr std::size_t no_neighbour = std::numeric_limits<std::size_t>::max();

struct NearestOptions {
    // The queries are the references themselves (same matrix): query i never counts reference
    // i as its neighbour. Used for nearest-neighbour distances within one point set.
    bool exclude_self = false;
    // Queries per parallel task. Affects speed only, never the result.
    std::size_t query_chunk = 64;
};

struct Neighbours {
    std::size_t k = 0;
    Matrix distance;                    // M x k, ascending in each row
    xt::xtensor<std::size_t, 2> index;  // M x k, row of the reference (no_neighbour if missing)
};

namespace detail {

inline std::string shape_text(const Matrix& m) {
    return std::to_string(rows(m)) + " x " + std::to_string(cols(m));
}

// References per streamed block: about 128 KiB of coordinates, at least 64 rows.
inline std::size_t reference_block(std::size_t d) {
    const std::size_t b = 16384 / std::max<std::size_t>(d, 1);
    return std::clamp<std::size_t>(b, 64, 4096);
}

// Inserts (d2, j) into the sorted k-best lists if it beats the current k-th. References arrive
// in increasing index, so strict comparisons keep ties in index order.
inline void offer(double d2, std::size_t j, double* best_d, std::size_t* best_i, std::size_t k) {
    if (!(d2 < best_d[k - 1])) return;
    std::size_t p = k - 1;
    while (p > 0 && d2 < best_d[p - 1]) {
        best_d[p] = best_d[p - 1];
        best_i[p] = best_i[p - 1];
        --p;
    }
    best_d[p] = d2;
    best_i[p] = j;
}

}  // namespace detail

// The k nearest rows of `references` to every row of `queries`.
inline Neighbours nearest(const Matrix& queries, const Matrix& references, std::size_t k,
                          const NearestOptions& options = {}) {
    if (k == 0 || k > max_neighbours)
        throw Error("kernels::nearest: k = " + std::to_string(k) + " is not in [1, " +
                    std::to_string(max_neighbours) + "]");
    const std::size_t m = rows(queries), n = rows(references), d = cols(references);
    if (cols(queries) != d)
        throw Error("kernels::nearest: queries are " + detail::shape_text(queries) + " but references are " +
                    detail::shape_text(references) + " (the dimensions differ)");
    if (options.exclude_self && m != n)
        throw Error("kernels::nearest: exclude_self needs the queries to be the references, but they are " +
                    detail::shape_text(queries) + " and " + detail::shape_text(references));

    Neighbours out;
    out.k = k;
    out.distance = Matrix::from_shape({m, k});
    out.index = xt::xtensor<std::size_t, 2>::from_shape({m, k});
    std::fill(out.distance.begin(), out.distance.end(), std::numeric_limits<double>::infinity());
    std::fill(out.index.begin(), out.index.end(), no_neighbour);
    if (m == 0 || n == 0) return out;

    // References transposed (d x n): coordinate c of reference j at rt[c * n + j].
    std::vector<double> rt(n * d);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t c = 0; c < d; ++c) rt[c * n + j] = references(j, c);

    const std::size_t block = detail::reference_block(d);
    const std::size_t chunk = std::max<std::size_t>(options.query_chunk, 1);
    for_chunks(m, chunk, [&](std::size_t, std::size_t qb, std::size_t qe) {
        std::vector<double> d2(block);
        double* best_d = out.distance.data();
        std::size_t* best_i = out.index.data();
        for (std::size_t rb = 0; rb < n; rb += block) {
            const std::size_t re = std::min(n, rb + block), len = re - rb;
            for (std::size_t q = qb; q < qe; ++q) {
                const double* y = row(queries, q);
                double* acc = d2.data();
                std::fill(acc, acc + len, 0.0);
                for (std::size_t c = 0; c < d; ++c) {
                    const double yc = y[c];
                    const double* xc = rt.data() + c * n + rb;
                    for (std::size_t t = 0; t < len; ++t) {
                        const double e = xc[t] - yc;
                        acc[t] += e * e;
                    }
                }
                double* bd = best_d + q * k;
                std::size_t* bi = best_i + q * k;
                for (std::size_t t = 0; t < len; ++t) {
                    const std::size_t j = rb + t;
                    if (options.exclude_self && j == q) continue;
                    detail::offer(acc[t], j, bd, bi, k);
                }
            }
        }
        for (std::size_t q = qb; q < qe; ++q)
            for (std::size_t s = 0; s < k; ++s) best_d[q * k + s] = std::sqrt(best_d[q * k + s]);
    });
    return out;
}

// The k nearest *other* rows of every row of `points`.
inline Neighbours nearest_within(const Matrix& points, std::size_t k, std::size_t query_chunk = 64) {
    NearestOptions o;
    o.exclude_self = true;
    o.query_chunk = query_chunk;
    return nearest(points, points, k, o);
}

// Column s (0-based: s = 0 nearest, 1 second nearest, ...) of a Neighbours' distances.
inline Vector neighbour_distance(const Neighbours& nn, std::size_t s) {
    if (s >= nn.k) throw Error("kernels::neighbour_distance: column " + std::to_string(s) + " of k = " + std::to_string(nn.k));
    const std::size_t m = rows(nn.distance);
    Vector v = Vector::from_shape({m});
    for (std::size_t i = 0; i < m; ++i) v(i) = nn.distance(i, s);
    return v;
}

}  // namespace mdlab::kernels
