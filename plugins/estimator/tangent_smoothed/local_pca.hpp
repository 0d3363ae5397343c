// Local PCA tangent bases for the tangent_smoothed estimator: at every training point, the top
// k principal directions of its neighbourhood (the point and its nearest training neighbours,
// centred at their mean). Header-only so the tests can check it directly.
//
// The neighbourhood has m = neighbours + 1 <= 33 points in R^D with D up to a few hundred, so the
// D x D covariance C = Y^T Y (Y: the m x D centred points) is never formed: its non-zero
// eigenpairs are those of the m x m Gram matrix G = Y Y^T (if G g = lambda g then C (Y^T g) =
// lambda (Y^T g), |Y^T g|^2 = lambda), which Eigen's symmetric eigensolver diagonalises in
// O(m^3). The directions Y^T g / sqrt(lambda) are re-orthonormalised (Gram-Schmidt twice).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Eigenvalues>
#include <xtensor/xtensor.hpp>

#include <mdlab/array.hpp>
#include <mdlab/error.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/parallel.hpp>

namespace mdlab_local_pca {

// Eigen-decomposition of the symmetric n x n matrix a (row-major) by Eigen's
// SelfAdjointEigenSolver (Householder tridiagonalisation, then implicit symmetric QR).
// Writes the eigenvalues in descending order to w and the matching unit eigenvectors as the
// columns of the row-major n x n matrix v. Deterministic: the same matrix gives the same bits.
inline void symmetric_eigen(const std::vector<double>& a, std::size_t n, std::vector<double>& w,
                            std::vector<double>& v) {
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto size = Eigen::Index(n);
    const Eigen::SelfAdjointEigenSolver<RowMajor> solver(Eigen::Map<const RowMajor>(a.data(), size, size));
    w.resize(n);
    v.resize(n * n);
    // Eigen sorts ascending: reverse the order of the pairs.
    Eigen::Map<Eigen::VectorXd>(w.data(), size) = solver.eigenvalues().reverse();
    Eigen::Map<RowMajor>(v.data(), size, size) = solver.eigenvectors().rowwise().reverse();
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
