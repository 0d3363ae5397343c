// The natural cubic spline through (x_i, y_i), x strictly increasing: C^2, second derivative 0 at
// both ends (the end pieces' cubics continue beyond them). Values and first derivatives; it
// reproduces linear data exactly.
// Used by the interpolant process's given schedule (alpha and sigma as lists on a time grid).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

namespace mdlab {

class CubicSpline {
public:
    CubicSpline() = default;
    // At least 2 knots; x strictly increasing (the caller checks).
    CubicSpline(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)), m_(x_.size(), 0.0) {
        const std::size_t n = x_.size();
        if (n < 3) return;
        // The second derivatives M_1..M_{n-2} (M_0 = M_{n-1} = 0) solve, for i = 1..n-2,
        // h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (d_i - d_{i-1}), d_i = (y_{i+1} - y_i) / h_i:
        // a diagonally dominant tridiagonal system, solved by the Thomas algorithm.
        std::vector<double> diag(n, 0.0), rhs(n, 0.0);
        for (std::size_t i = 1; i + 1 < n; ++i) {
            const double h0 = x_[i] - x_[i - 1], h1 = x_[i + 1] - x_[i];
            diag[i] = 2.0 * (h0 + h1);
            rhs[i] = 6.0 * ((y_[i + 1] - y_[i]) / h1 - (y_[i] - y_[i - 1]) / h0);
        }
        for (std::size_t i = 2; i + 1 < n; ++i) {  // elimination below the diagonal
            const double h0 = x_[i] - x_[i - 1], w = h0 / diag[i - 1];
            diag[i] -= w * h0;
            rhs[i] -= w * rhs[i - 1];
        }
        for (std::size_t i = n - 2; i >= 1; --i) {  // back substitution
            const double h1 = x_[i + 1] - x_[i];
            m_[i] = (rhs[i] - h1 * m_[i + 1]) / diag[i];
        }
    }

    double value(double t) const {
        const Piece p = piece(t);
        return p.a * y_[p.i] + p.b * y_[p.i + 1] + ((p.a * p.a * p.a - p.a) * m_[p.i] + (p.b * p.b * p.b - p.b) * m_[p.i + 1]) * p.h * p.h / 6.0;
    }
    double derivative(double t) const {
        const Piece p = piece(t);
        return (y_[p.i + 1] - y_[p.i]) / p.h + ((1.0 - 3.0 * p.a * p.a) * m_[p.i] + (3.0 * p.b * p.b - 1.0) * m_[p.i + 1]) * p.h / 6.0;
    }

private:
    // The interval [x_i, x_{i+1}] holding t (the first or last beyond the ends) and the weights
    // a = (x_{i+1} - t) / h, b = 1 - a.
    struct Piece {
        std::size_t i;
        double h, a, b;
    };
    Piece piece(double t) const {
        const std::size_t n = x_.size();
        const std::size_t hi = std::upper_bound(x_.begin(), x_.end(), t) - x_.begin();
        const std::size_t i = std::min(n - 2, hi == 0 ? 0 : hi - 1);
        const double h = x_[i + 1] - x_[i];
        const double a = (x_[i + 1] - t) / h;
        return {i, h, a, 1.0 - a};
    }

    std::vector<double> x_, y_, m_;
};

}  // namespace mdlab
