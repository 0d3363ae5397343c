// Point sets are row-major xtensor matrices: one point per row, double precision.
#pragma once
#include <cstddef>
#include <xtensor/xtensor.hpp>

namespace mdlab {

using Matrix = xt::xtensor<double, 2>;
using Vector = xt::xtensor<double, 1>;

// A rows x cols matrix of zeros (from_shape leaves memory uninitialised; NaN * 0 stays NaN).
inline Matrix zeros(std::size_t rows, std::size_t cols) {
    Matrix m = Matrix::from_shape({rows, cols});
    m.fill(0.0);
    return m;
}
inline std::size_t rows(const Matrix& m) { return m.shape()[0]; }
inline std::size_t cols(const Matrix& m) { return m.shape()[1]; }
inline const double* row(const Matrix& m, std::size_t i) { return m.data() + i * m.shape()[1]; }
inline double* row(Matrix& m, std::size_t i) { return m.data() + i * m.shape()[1]; }

}  // namespace mdlab
