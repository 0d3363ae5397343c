// The plane of the two leading principal components of a point set, to draw points of any
// dimension in 2-D. Deterministic: the same points give the same plane and orientation.
#pragma once
#include <array>
#include <vector>

#include <mdlab/array.hpp>

namespace mdlab::runtime {

struct PrincipalPlane {
    std::vector<double> mean;
    std::vector<double> axis1, axis2;  // orthonormal; zero vectors where the data has no spread
    double variance1 = 0.0, variance2 = 0.0;
};

// Eigenvalues (descending) and eigenvectors (row k is the k-th vector) of a symmetric n x n
// matrix stored row-major, by Eigen's SelfAdjointEigenSolver (tridiagonal QR). Each vector's
// largest component is made positive (the first of near-equal ones), so the result does not
// depend on the solver's arbitrary signs. A non-finite matrix gives NaN values
// and vectors.
void symmetric_eigen(std::vector<double> matrix, std::size_t n, std::vector<double>& values,
                     std::vector<std::vector<double>>& vectors);

// Principal plane of the rows of `points` (finite rows only). In up to 128 dimensions from the
// covariance of at most 4000 rows; above that from the Gram matrix of at most 256 rows.
PrincipalPlane principal_plane(const Matrix& points);

// Coordinates of every row in the plane (rows with non-finite entries give NaN).
std::vector<std::array<double, 2>> project(const Matrix& points, const PrincipalPlane& plane);

}  // namespace mdlab::runtime
