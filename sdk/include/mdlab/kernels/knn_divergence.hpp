// The k-nearest-neighbour estimator of the Kullback-Leibler divergence KL(P || Q) from samples
// (Q. Wang, S. R. Kulkarni and S. Verdu, "Divergence estimation for multidimensional densities
// via k-nearest-neighbor distances", IEEE Trans. Inf. Theory 55(5), 2009; the same k for both
// samples):
//
//   D_hat = (d / n) sum_i log( nu_k(i) / rho_k(i) ) + log( m / (n - 1) ),
//
// x_1..x_n ~ P, y_1..y_m ~ Q, rho_k(i) the distance from x_i to its k-th nearest other x,
// nu_k(i) the distance from x_i to its k-th nearest y, d the dimension of the densities.
// Asymptotically unbiased and mean-square consistent for fixed k as n, m -> infinity.
//
//   double kl = mdlab::kernels::knn_kl_divergence(X, Y, 5, 2);
//
// The points may lie on a d-dimensional submanifold of R^{cols}: the estimator only uses ratios
// of small neighbour distances, and the chord distance of the embedding equals the intrinsic
// (geodesic) distance up to a factor 1 + O(curvature^2 r^2) as r -> 0, so the volume of a small
// ball is still c_d r^d and the estimate is consistent with d the intrinsic dimension.
// Neighbours come from mdlab/kernels/nearest.hpp (brute force, parallel, deterministic); the
// sum runs in index order.
//
// Atoms: when k + 1 points of P coincide (rho_k = 0; for example samples that copy the same
// training point) P has no density while Q has one, and the result is +infinity, the value of
// KL(P || Q). When a point of P coincides with k points of Q (nu_k = 0), Q has atoms and the
// function throws: the estimator does not apply.
#pragma once
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/nearest.hpp"

namespace mdlab::kernels {

inline double knn_kl_divergence(const Matrix& x, const Matrix& y, std::size_t k, std::size_t d) {
    const std::size_t n = rows(x), m = rows(y);
    if (k == 0 || k > max_neighbours)
        throw Error("kernels::knn_kl_divergence: k = " + std::to_string(k) + " is not in [1, " +
                    std::to_string(max_neighbours) + "]");
    if (d == 0) throw Error("kernels::knn_kl_divergence: the dimension d is 0");
    if (cols(x) != cols(y))
        throw Error("kernels::knn_kl_divergence: the samples are " + detail::shape_text(x) + " and " +
                    detail::shape_text(y) + " (the dimensions differ)");
    if (n < k + 1)
        throw Error("kernels::knn_kl_divergence: " + std::to_string(n) + " points of P, but the k-th nearest other "
                    "point needs at least k + 1 = " + std::to_string(k + 1));
    if (m < k)
        throw Error("kernels::knn_kl_divergence: " + std::to_string(m) + " points of Q, fewer than k = " +
                    std::to_string(k));
    const Neighbours own = nearest_within(x, k);
    const Neighbours other = nearest(x, y, k);
    // nu_k = 0: x_i and k points of Q coincide, so Q has atoms and no density: undefined.
    for (std::size_t i = 0; i < n; ++i)
        if (!(other.distance(i, k - 1) > 0.0))
            throw Error("kernels::knn_kl_divergence: point " + std::to_string(i) + " of P coincides with " +
                        std::to_string(k) + " points of Q (nu_k = 0): Q has atoms, so it has no density and the "
                        "estimator does not apply");
    // rho_k = 0: k + 1 points of P coincide, so P has atoms; Q being a density, P is not
    // absolutely continuous with respect to it and KL(P || Q) = +infinity.
    for (std::size_t i = 0; i < n; ++i)
        if (!(own.distance(i, k - 1) > 0.0)) return std::numeric_limits<double>::infinity();
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += std::log(other.distance(i, k - 1)) - std::log(own.distance(i, k - 1));
    return static_cast<double>(d) * sum / static_cast<double>(n) +
           std::log(static_cast<double>(m) / static_cast<double>(n - 1));
}

}  // namespace mdlab::kernels
