// The linear assignment problem and exact optimal transport between two equal-size point sets.
//
//   auto a = mdlab::kernels::solve_assignment(cost.data(), n);  // a.col_of_row[i], a.cost
//   double w2 = mdlab::kernels::wasserstein_exact(X, Y, 2.0);   // W_2 of the empirical laws
//
// solve_assignment minimises sum_i C(i, sigma(i)) over permutations sigma of a dense n x n cost
// matrix (row-major doubles). It is the shortest augmenting path method with dual potentials
// (Jonker and Volgenant, Computing 38, 1987; in the form of D. F. Crouse, "On implementing 2D
// rectangular assignment algorithms", IEEE TAES 52, 2016): the reduced costs C(i,j) - u_i - v_j
// stay >= 0 and are 0 on matched pairs; each free row is matched by a Dijkstra search over the
// columns for the cheapest augmenting path in reduced costs, the potentials are updated so the
// invariant holds, and the path is flipped. O(n^3) time in the worst case, O(n) memory besides
// the cost matrix. It starts from the column reduction v_j = min_i C(i, j) with each column
// greedily matched to its cheapest row when that row is still free (a feasible dual with zero
// reduced cost on the matched pairs, so the invariant holds from the start). Sequential and
// deterministic: ties are broken by a fixed scan order.
//
// wasserstein_exact: with uniform weights 1/n on both sides, an optimal transport plan between
// two n-point empirical laws can be taken to be a permutation (Birkhoff - von Neumann: the
// transport polytope's vertices are permutation matrices), so
//   W_p(X, Y)^p = min_sigma (1/n) sum_i |x_i - y_sigma(i)|^p,
// one assignment problem with the cost |x_i - y_j|^p. The n x n cost matrix takes 8 n^2 bytes.
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

inline constexpr std::size_t unassigned = std::numeric_limits<std::size_t>::max();

struct Assignment {
    std::vector<std::size_t> col_of_row;  // sigma(i): the column matched to row i
    double cost = 0.0;                    // sum_i C(i, sigma(i)), added in row order
};

// Minimum-cost perfect matching of the n x n row-major cost matrix `cost` (finite values).
inline Assignment solve_assignment(const double* cost, std::size_t n) {
    Assignment out;
    out.col_of_row.assign(n, unassigned);
    if (n == 0) return out;
    for (std::size_t k = 0; k < n * n; ++k)
        if (!std::isfinite(cost[k]))
            throw Error("kernels::solve_assignment: cost(" + std::to_string(k / n) + ", " + std::to_string(k % n) +
                        ") is not finite");

    constexpr double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(n, 0.0), v(n, inf);
    std::vector<std::size_t> row_of_col(n, unassigned), argmin(n, 0);
    std::vector<std::size_t>& col_of_row = out.col_of_row;

    // Column reduction (row by row for contiguous access; strict < keeps the lowest row on ties),
    // then greedy matching of each column to its cheapest row if that row is free.
    for (std::size_t i = 0; i < n; ++i) {
        const double* ci = cost + i * n;
        for (std::size_t j = 0; j < n; ++j)
            if (ci[j] < v[j]) {
                v[j] = ci[j];
                argmin[j] = i;
            }
    }
    for (std::size_t j = 0; j < n; ++j) {
        const std::size_t i = argmin[j];
        if (col_of_row[i] == unassigned) {
            col_of_row[i] = j;
            row_of_col[j] = i;
        }
    }

    std::vector<double> dist(n);              // shortest reduced path length to each column
    std::vector<std::size_t> pred(n);         // row from which each column was reached
    std::vector<std::size_t> remaining(n);    // columns not yet scanned (unordered)
    std::vector<std::size_t> scanned_rows, scanned_cols;
    scanned_rows.reserve(n);
    scanned_cols.reserve(n);

    for (std::size_t s = 0; s < n; ++s) {
        if (col_of_row[s] != unassigned) continue;
        std::fill(dist.begin(), dist.end(), inf);
        for (std::size_t j = 0; j < n; ++j) remaining[j] = n - 1 - j;
        std::size_t left = n;
        scanned_rows.clear();
        scanned_cols.clear();

        std::size_t i = s, sink = unassigned;
        double min_val = 0.0;  // reduced length of the path to the row being scanned
        while (sink == unassigned) {
            scanned_rows.push_back(i);
            const double* ci = cost + i * n;
            const double base = min_val - u[i];
            double lowest = inf;
            std::size_t at = unassigned;
            for (std::size_t r = 0; r < left; ++r) {
                const std::size_t j = remaining[r];
                const double d = base + ci[j] - v[j];
                if (d < dist[j]) {
                    dist[j] = d;
                    pred[j] = i;
                }
                // Prefer a free column among equals: the search ends sooner.
                if (dist[j] < lowest || (dist[j] == lowest && row_of_col[j] == unassigned)) {
                    lowest = dist[j];
                    at = r;
                }
            }
            if (at == unassigned || !std::isfinite(lowest))
                throw Error("kernels::solve_assignment: no augmenting path (internal error)");
            min_val = lowest;
            const std::size_t j = remaining[at];
            remaining[at] = remaining[--left];
            scanned_cols.push_back(j);
            if (row_of_col[j] == unassigned) sink = j;
            else i = row_of_col[j];
        }

        // Dual update: keeps C - u - v >= 0 everywhere and = 0 along the new matching.
        u[s] += min_val;
        for (std::size_t r : scanned_rows)
            if (r != s) u[r] += min_val - dist[col_of_row[r]];
        for (std::size_t j : scanned_cols) v[j] -= min_val - dist[j];

        // Flip the augmenting path from the sink back to s.
        std::size_t j = sink;
        for (;;) {
            const std::size_t r = pred[j];
            row_of_col[j] = r;
            std::swap(col_of_row[r], j);
            if (r == s) break;
        }
    }

    double total = 0.0;
    for (std::size_t r = 0; r < n; ++r) total += cost[r * n + col_of_row[r]];
    out.cost = total;
    return out;
}

inline Assignment solve_assignment(const Matrix& cost) {
    if (rows(cost) != cols(cost))
        throw Error("kernels::solve_assignment: the cost matrix is " + std::to_string(rows(cost)) + " x " +
                    std::to_string(cols(cost)) + ", not square");
    return solve_assignment(cost.data(), rows(cost));
}

// |a - b|^p for rows of length d, with the exact square root / square for p = 1, 2.
inline double distance_power(const double* a, const double* b, std::size_t d, double p) {
    double s = 0.0;
    for (std::size_t c = 0; c < d; ++c) {
        const double e = a[c] - b[c];
        s += e * e;
    }
    if (p == 2.0) return s;
    if (p == 1.0) return std::sqrt(s);
    return std::pow(std::sqrt(s), p);
}

struct Transport {
    double w = 0.0;                       // W_p of the two empirical laws
    std::vector<std::size_t> match;       // y row sent to each x row by the optimal plan
};

// Exact W_p (p >= 1) between the empirical laws of the rows of x and of y (same shape).
inline Transport optimal_transport(const Matrix& x, const Matrix& y, double p) {
    if (rows(x) != rows(y) || cols(x) != cols(y))
        throw Error("kernels::optimal_transport: the point sets are " + std::to_string(rows(x)) + " x " +
                    std::to_string(cols(x)) + " and " + std::to_string(rows(y)) + " x " + std::to_string(cols(y)) +
                    " (exact transport as an assignment needs equal shapes)");
    if (!(p >= 1.0)) throw Error("kernels::optimal_transport: p = " + std::to_string(p) + " is below 1");
    const std::size_t n = rows(x), d = cols(x);
    Transport t;
    if (n == 0) return t;
    std::vector<double> cost(n * n);
    for_chunks(n, 64, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i)
            for (std::size_t j = 0; j < n; ++j) cost[i * n + j] = distance_power(row(x, i), row(y, j), d, p);
    });
    Assignment a = solve_assignment(cost.data(), n);
    const double mean = a.cost / static_cast<double>(n);
    t.w = p == 1.0 ? mean : p == 2.0 ? std::sqrt(mean) : std::pow(mean, 1.0 / p);
    t.match = std::move(a.col_of_row);
    return t;
}

inline double wasserstein_exact(const Matrix& x, const Matrix& y, double p) { return optimal_transport(x, y, p).w; }

}  // namespace mdlab::kernels
