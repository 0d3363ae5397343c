// Local PCA tangent bases for the tangent_smoothed estimator: at every training point, the top
// k principal directions of its neighbourhood (the point and its nearest training neighbours,
// centred at their mean). Header-only so the tests can check it directly.
//
// The neighbourhood has m = neighbours + 1 <= 33 points in R^D with D up to a few hundred, so the
// D x D covariance C = Y^T Y (Y: the m x D centred points) is never formed: its non-zero
// eigenpairs are those of the m x m Gram matrix G = Y Y^T (if G g = lambda g then C (Y^T g) =
// lambda (Y^T g), |Y^T g|^2 = lambda), which a cyclic Jacobi iteration diagonalises in O(m^3)
// per sweep. The directions Y^T g / sqrt(lambda) are re-orthonormalised (Gram-Schmidt twice).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <mdlab/array.hpp>
#include <mdlab/error.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/parallel.hpp>

namespace mdlab_local_pca {

// Eigen-decomposition of the symmetric n x n matrix a (row-major; destroyed) by the cyclic
// Jacobi method (Golub and Van Loan, Matrix Computations, 4th ed., section 8.5): plane
// rotations zero each off-diagonal entry in turn until none is left above rounding level.
// Writes the eigenvalues in descending order to w and the matching unit eigenvectors as the
// columns of the row-major n x n matrix v.
inline void symmetric_eigen(std::vector<double>& a, std::size_t n, std::vector<double>& w, std::vector<double>& v) {
    v.assign(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0.0;
        for (std::size_t p = 0; p < n; ++p)
            for (std::size_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
        if (off == 0.0) break;
        for (std::size_t p = 0; p < n; ++p)
            for (std::size_t q = p + 1; q < n; ++q) {
                const double apq = a[p * n + q];
                const double app = a[p * n + p], aqq = a[q * n + q];
                // Negligible next to both diagonal entries (after a few sweeps): set it to 0.
                const double g = 100.0 * std::abs(apq);
                if (sweep > 3 && std::abs(app) + g == std::abs(app) && std::abs(aqq) + g == std::abs(aqq)) {
                    a[p * n + q] = a[q * n + p] = 0.0;
                    continue;
                }
                if (apq == 0.0) continue;
                // t = tan(phi), the smaller root of t^2 + 2 theta t - 1 = 0: the rotation that
                // zeroes a_pq.
                const double theta = (aqq - app) / (2.0 * apq);
                double t = 1.0 / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
                if (theta < 0.0) t = -t;
                const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
                for (std::size_t r = 0; r < n; ++r) {
                    if (r == p || r == q) continue;
                    const double arp = a[r * n + p], arq = a[r * n + q];
                    a[r * n + p] = a[p * n + r] = c * arp - s * arq;
                    a[r * n + q] = a[q * n + r] = s * arp + c * arq;
                }
                a[p * n + p] = app - t * apq;
                a[q * n + q] = aqq + t * apq;
                a[p * n + q] = a[q * n + p] = 0.0;
                for (std::size_t r = 0; r < n; ++r) {
                    const double vrp = v[r * n + p], vrq = v[r * n + q];
                    v[r * n + p] = c * vrp - s * vrq;
                    v[r * n + q] = s * vrp + c * vrq;
                }
            }
    }
    // Sort descending (ties by index, so the order is deterministic).
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return a[i * n + i] > a[j * n + j]; });
    std::vector<double> sorted(n * n);
    w.resize(n);
    for (std::size_t c = 0; c < n; ++c) {
        w[c] = a[order[c] * n + order[c]];
        for (std::size_t r = 0; r < n; ++r) sorted[r * n + c] = v[r * n + order[c]];
    }
    v.swap(sorted);
}

// Removes from u (length d) its components along the first `count` columns of basis (d x k,
// row-major, column j at basis[a * k + j]), twice (Gram-Schmidt is then orthogonal to working
// precision), and returns the remaining norm.
inline double orthogonalise(double* u, const double* basis, std::size_t d, std::size_t k, std::size_t count) {
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t j = 0; j < count; ++j) {
            double dot = 0.0;
            for (std::size_t a = 0; a < d; ++a) dot += basis[a * k + j] * u[a];
            for (std::size_t a = 0; a < d; ++a) u[a] -= dot * basis[a * k + j];
        }
    double s = 0.0;
    for (std::size_t a = 0; a < d; ++a) s += u[a] * u[a];
    return std::sqrt(s);
}

// Top-k principal directions of the rows idx[0..m) of x (centred at their mean) into basis
// (d x k row-major, orthonormal columns, descending variance). Returns how many directions the
// neighbourhood did not determine (its spread along them is zero to rounding, for example
// when points coincide); those are completed with coordinate axes orthogonal to the rest.
inline std::size_t local_pca(const mdlab::Matrix& x, const std::size_t* idx, std::size_t m, std::size_t k,
                             double* basis) {
    const std::size_t d = mdlab::cols(x);
    std::vector<double> mean(d, 0.0), y(m * d), g(m * m), w, v, u(d);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t a = 0; a < d; ++a) mean[a] += x(idx[i], a);
    for (double& c : mean) c /= static_cast<double>(m);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t a = 0; a < d; ++a) y[i * d + a] = x(idx[i], a) - mean[a];
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = i; j < m; ++j) {
            double s = 0.0;
            for (std::size_t a = 0; a < d; ++a) s += y[i * d + a] * y[j * d + a];
            g[i * m + j] = g[j * m + i] = s;
        }
    symmetric_eigen(g, m, w, v);
    // Directions whose variance is below this are noise of the Gram matrix's rounding.
    const double floor = 64.0 * std::numeric_limits<double>::epsilon() * std::max(w.empty() ? 0.0 : w[0], 0.0);
    std::size_t undetermined = 0, filled = 0, axis = 0;
    for (std::size_t j = 0; j < k; ++j) {
        double norm = 0.0;
        if (j < m && w[j] > floor) {
            for (std::size_t a = 0; a < d; ++a) {
                double s = 0.0;
                for (std::size_t i = 0; i < m; ++i) s += y[i * d + a] * v[i * m + j];
                u[a] = s;
            }
            norm = orthogonalise(u.data(), basis, d, k, filled);
            if (!(norm > 0.5 * std::sqrt(w[j]))) norm = 0.0;  // lost to cancellation: treat as undetermined
        }
        if (norm == 0.0) {
            ++undetermined;
            for (; axis < d; ++axis) {  // the first coordinate axis not yet (nearly) spanned
                std::fill(u.begin(), u.end(), 0.0);
                u[axis] = 1.0;
                norm = orthogonalise(u.data(), basis, d, k, filled);
                if (norm > 0.5) {
                    ++axis;
                    break;
                }
            }
        }
        for (std::size_t a = 0; a < d; ++a) basis[a * k + filled] = u[a] / norm;
        ++filled;
    }
    return undetermined;
}

struct TangentEstimate {
    xt::xtensor<double, 3> bases;  // N x D x k, bases(i, a, j)
    std::size_t undetermined = 0;  // points whose neighbourhood spanned fewer than k directions
};

// Local PCA at every row of x with its `neighbours` nearest other rows (mdlab/kernels/nearest.hpp;
// ties by lower index). Each point is computed alone, so the result is independent of the
// thread count.
inline TangentEstimate tangent_bases(const mdlab::Matrix& x, std::size_t neighbours, std::size_t k) {
    const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
    if (k == 0 || k > d || neighbours == 0 || neighbours >= n)
        throw mdlab::Error("local PCA: need 1 <= k <= D and 1 <= neighbours < N (k = " + std::to_string(k) +
                           ", neighbours = " + std::to_string(neighbours) + ", N = " + std::to_string(n) +
                           ", D = " + std::to_string(d) + ")");
    const mdlab::kernels::Neighbours nn = mdlab::kernels::nearest_within(x, neighbours);
    TangentEstimate out;
    out.bases = xt::xtensor<double, 3>::from_shape({n, d, k});
    std::vector<std::size_t> missing(mdlab::chunk_count(n, 64), 0);
    mdlab::for_chunks(n, 64, [&](std::size_t c, std::size_t b, std::size_t e) {
        std::vector<std::size_t> idx(neighbours + 1);
        for (std::size_t i = b; i < e; ++i) {
            idx[0] = i;
            for (std::size_t j = 0; j < neighbours; ++j) idx[j + 1] = nn.index(i, j);
            if (local_pca(x, idx.data(), neighbours + 1, k, out.bases.data() + i * d * k) > 0) ++missing[c];
        }
    });
    for (std::size_t c : missing) out.undetermined += c;
    return out;
}

}  // namespace mdlab_local_pca
