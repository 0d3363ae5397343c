// Derivatives of a score estimate s(x, t) by central finite differences along directions,
// shared by the likelihood metric (nll) and the score-Jacobian dimension metric
// (score_jacobian_dim; SCIENCE.md section 6). For a direction v,
//   J(x) v ~ (s(x + h v, t) - s(x - h v, t)) / (2 h),   error O(h^2 |d^3 s|) + O(eps_mach |s| / h),
// which gives
//   - the exact divergence div s = sum_j e_j . J e_j (D directions, 2 D scores per point),
//   - Hutchinson's estimate z . J z with Rademacher z (E[z z^T] = I, so E[z . J z] = tr J;
//     Hutchinson 1990), 2 scores per probe,
//   - the columns J e_j of the whole Jacobian.
// Near the data the score varies on the scale of the noise, sigma(t), so callers take
// h = (relative step) * sigma(t). All shifted points of a block of rows go to the estimator in
// one call (an estimator's own batching and parallelism apply); blocks are cut so that a
// block's shifted points stay below about 2^21 values.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "mdlab/components.hpp"
#include "mdlab/parallel.hpp"
#include "mdlab/rng.hpp"

namespace mdlab::score_fd {

// J(x_i) v_ij for every row i of x and m directions per row: direction(i, j) returns a pointer
// to the D values of v_ij. Row i * m + j of `out` (n m x D) gets J(x_i) v_ij.
template <class Direction>
void jacobian_products(const ScoreEstimator& est, const Matrix& x, double t, std::size_t m, double h,
                       Direction&& direction, Matrix& out) {
    const std::size_t n = rows(x), d = cols(x);
    out = Matrix::from_shape({n * m, d});
    if (n == 0 || m == 0) return;
    const std::size_t block = std::max<std::size_t>(1, (std::size_t(1) << 21) / (2 * m * d));
    Matrix shifted, s;
    for (std::size_t b = 0; b < n; b += block) {
        const std::size_t e = std::min(n, b + block), q = (e - b) * m;
        // Rows 2 r and 2 r + 1 of `shifted` (r = (i - b) m + j): x_i + h v_ij and x_i - h v_ij.
        shifted = Matrix::from_shape({2 * q, d});
        for_each_index(q, [&](std::size_t r) {
            const std::size_t i = b + r / m, j = r % m;
            const double* xi = row(x, i);
            const double* v = direction(i, j);
            double* plus = row(shifted, 2 * r);
            double* minus = row(shifted, 2 * r + 1);
            for (std::size_t a = 0; a < d; ++a) {
                plus[a] = xi[a] + h * v[a];
                minus[a] = xi[a] - h * v[a];
            }
        });
        est.score(shifted, t, s);
        for_each_index(q, [&](std::size_t r) {
            const double* plus = row(s, 2 * r);
            const double* minus = row(s, 2 * r + 1);
            double* o = row(out, b * m + r);
            for (std::size_t a = 0; a < d; ++a) o[a] = (plus[a] - minus[a]) / (2.0 * h);
        });
    }
}

// The D x D identity, whose rows are the coordinate directions e_j.
inline Matrix identity(std::size_t d) {
    Matrix id = Matrix::from_shape({d, d});
    std::fill(id.begin(), id.end(), 0.0);
    for (std::size_t a = 0; a < d; ++a) id(a, a) = 1.0;
    return id;
}

// The Jacobians J(x_i): row i * D + j of `columns` is the column J(x_i) e_j.
inline void jacobians(const ScoreEstimator& est, const Matrix& x, double t, double h, Matrix& columns) {
    const Matrix id = identity(cols(x));
    jacobian_products(est, x, t, cols(x), h, [&](std::size_t, std::size_t j) { return row(id, j); }, columns);
}

// div s(x_i) = trace J(x_i) from the D coordinate directions (2 D scores per point).
inline void exact_divergence(const ScoreEstimator& est, const Matrix& x, double t, double h, std::vector<double>& div) {
    const std::size_t n = rows(x), d = cols(x);
    Matrix columns;
    jacobians(est, x, t, h, columns);
    div.assign(n, 0.0);
    for_each_index(n, [&](std::size_t i) {
        double tr = 0.0;
        for (std::size_t j = 0; j < d; ++j) tr += columns(i * d + j, j);
        div[i] = tr;
    });
}

// Hutchinson's estimate (1/m) sum_j z_ij . J(x_i) z_ij with the probes z (row i * m + j: z_ij).
inline void hutchinson_divergence(const ScoreEstimator& est, const Matrix& x, double t, double h, const Matrix& z,
                                  std::size_t m, std::vector<double>& div) {
    const std::size_t n = rows(x), d = cols(x);
    Matrix products;
    jacobian_products(est, x, t, m, h, [&](std::size_t i, std::size_t j) { return row(z, i * m + j); }, products);
    div.assign(n, 0.0);
    for_each_index(n, [&](std::size_t i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < m; ++j) {
            const double* zj = row(z, i * m + j);
            const double* jz = row(products, i * m + j);
            for (std::size_t a = 0; a < d; ++a) sum += zj[a] * jz[a];
        }
        div[i] = sum / double(m);
    });
}

// n m Rademacher probes in R^d (values +-1), row i * m + j the j-th probe of point i, drawn
// chunk-wise over the points from `stream` (bit-identical for any thread count).
inline Matrix rademacher_probes(std::size_t n, std::size_t m, std::size_t d, const RandomStream& stream) {
    Matrix z = Matrix::from_shape({n * m, d});
    for_chunks(n, random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
        Rng rng = stream.chunk(c);
        for (std::size_t k = b * m * d; k < e * m * d; ++k) z.data()[k] = (rng() >> 63) ? 1.0 : -1.0;
    });
    return z;
}

}  // namespace mdlab::score_fd
