// k-nearest-neighbour balls of a point set, and which of them contain given points: the pieces
// of the precision / recall (Kynkaanniemi et al. 2019) and density / coverage (Naeem et al. 2020)
// metrics. Each point c_i of a set gets the ball B(c_i, r_i), r_i the distance to its k-th
// nearest other point of the set (mdlab/kernels/nearest.hpp); a query y is in ball i when
// |y - c_i| <= r_i (closed balls, Kynkaanniemi's code) or |y - c_i| < r_i (open, Naeem's code).
//
//   const Vector r = mdlab::kernels::knn_radii(X, 3);
//   auto hits = mdlab::kernels::balls_containing(Y, X, r, mdlab::kernels::Ball::closed, true);
//
// Brute force over all balls, queries in parallel fixed chunks; distances summed coordinate by
// coordinate from the differences and square-rooted exactly as nearest() forms the radii, so a
// query on a ball's boundary point is classified consistently. Counts are integers: the results
// are the same on any thread count.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/nearest.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

enum class Ball { closed, open };

// Distance of every row of `points` to its k-th nearest other row (needs at least k + 1 rows).
inline Vector knn_radii(const Matrix& points, std::size_t k) {
    if (rows(points) < k + 1)
        throw Error("kernels::knn_radii: " + std::to_string(rows(points)) + " points, but the k-th nearest other "
                    "point needs at least k + 1 = " + std::to_string(k + 1));
    return neighbour_distance(nearest_within(points, k), k - 1);
}

// For each query row: how many balls B(centres_i, radii_i) contain it; with `first_only`, 1 as
// soon as one does (membership of the union, the search stops there).
inline std::vector<std::size_t> balls_containing(const Matrix& queries, const Matrix& centres, const Vector& radii,
                                                 Ball ball, bool first_only) {
    const std::size_t m = rows(queries), n = rows(centres), d = cols(centres);
    if (cols(queries) != d)
        throw Error("kernels::balls_containing: queries are " + detail::shape_text(queries) + " but centres are " +
                    detail::shape_text(centres) + " (the dimensions differ)");
    if (radii.size() != n)
        throw Error("kernels::balls_containing: " + std::to_string(radii.size()) + " radii for " + std::to_string(n) +
                    " centres");
    std::vector<std::size_t> count(m, 0);
    for_chunks(m, 32, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t q = b; q < e; ++q) {
            const double* y = row(queries, q);
            std::size_t c = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double* x = row(centres, i);
                double d2 = 0.0;
                for (std::size_t j = 0; j < d; ++j) {
                    const double diff = x[j] - y[j];
                    d2 += diff * diff;
                }
                const double dist = std::sqrt(d2);
                if (ball == Ball::closed ? dist <= radii(i) : dist < radii(i)) {
                    ++c;
                    if (first_only) break;
                }
            }
            count[q] = c;
        }
    });
    return count;
}

}  // namespace mdlab::kernels
