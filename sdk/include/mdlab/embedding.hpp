// Random isometric embeddings R^m -> R^D (D x m matrices Q with orthonormal columns), and the
// round sphere {Q z : |z| = r} of the embedded subspace (a circle when m = 2), shared by the
// built-in manifolds. Batch operations are parallel over fixed row chunks; every row is computed
// independently, so results never depend on the thread count.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/parallel.hpp"
#include "mdlab/rng.hpp"

namespace mdlab {

class Isometry {
public:
    // Rows per chunk of the batch operations (they draw no random numbers).
    static constexpr std::size_t chunk_rows = 512;

    Isometry() = default;

    // A D x m Gaussian matrix drawn row-major from `rng`, orthonormalised by modified
    // Gram-Schmidt with one re-orthogonalisation pass (columns orthonormal to ~1e-16).
    static Isometry random(std::size_t D, std::size_t m, Rng& rng) {
        if (m == 0 || m > D)
            throw Error("isometry: need 1 <= m <= D, got m = " + std::to_string(m) +
                        ", D = " + std::to_string(D));
        Isometry iso;
        iso.q_ = Matrix::from_shape({D, m});
        for (std::size_t k = 0; k < D * m; ++k) iso.q_.data()[k] = rng.normal();
        for (std::size_t j = 0; j < m; ++j) {
            for (int pass = 0; pass < 2; ++pass)
                for (std::size_t i = 0; i < j; ++i) {
                    double dot = 0.0;
                    for (std::size_t a = 0; a < D; ++a) dot += iso.q_(a, i) * iso.q_(a, j);
                    for (std::size_t a = 0; a < D; ++a) iso.q_(a, j) -= dot * iso.q_(a, i);
                }
            double n2 = 0.0;
            for (std::size_t a = 0; a < D; ++a) n2 += iso.q_(a, j) * iso.q_(a, j);
            const double n = std::sqrt(n2);
            if (!(n > 1e-8)) throw Error("isometry: degenerate Gaussian draw");  // probability 0
            for (std::size_t a = 0; a < D; ++a) iso.q_(a, j) /= n;
        }
        return iso;
    }

    // The first m coordinate axes of R^D: Q = [I_m; 0].
    static Isometry coordinate(std::size_t D, std::size_t m) {
        if (m == 0 || m > D)
            throw Error("isometry: need 1 <= m <= D, got m = " + std::to_string(m) +
                        ", D = " + std::to_string(D));
        Isometry iso;
        iso.q_ = Matrix::from_shape({D, m});
        for (std::size_t k = 0; k < D * m; ++k) iso.q_.data()[k] = 0.0;
        for (std::size_t j = 0; j < m; ++j) iso.q_(j, j) = 1.0;
        return iso;
    }

    bool empty() const { return q_.size() == 0; }
    std::size_t ambient_dim() const { return q_.shape()[0]; }
    std::size_t dim() const { return q_.shape()[1]; }
    // The D x m matrix Q.
    const Matrix& matrix() const { return q_; }

    // x = Q z for one row (z has m values, x has D).
    void embed_row(const double* z, double* x) const {
        const std::size_t D = ambient_dim(), m = dim();
        for (std::size_t a = 0; a < D; ++a) {
            double s = 0.0;
            for (std::size_t j = 0; j < m; ++j) s += q_(a, j) * z[j];
            x[a] = s;
        }
    }
    // z = Q^T x for one row.
    void coords_row(const double* x, double* z) const {
        const std::size_t D = ambient_dim(), m = dim();
        for (std::size_t j = 0; j < m; ++j) z[j] = 0.0;
        for (std::size_t a = 0; a < D; ++a)
            for (std::size_t j = 0; j < m; ++j) z[j] += q_(a, j) * x[a];
    }
    // |x - Q Q^T x|^2 for one row, given z = Q^T x: summed from the residual itself, not as
    // |x|^2 - |z|^2, so it is accurate for points close to the subspace.
    double normal_norm2_row(const double* x, const double* z) const {
        const std::size_t D = ambient_dim(), m = dim();
        double s = 0.0;
        for (std::size_t a = 0; a < D; ++a) {
            double e = x[a];
            for (std::size_t j = 0; j < m; ++j) e -= q_(a, j) * z[j];
            s += e * e;
        }
        return s;
    }

    // Rows Q z_i: n x m -> n x D.
    Matrix embed(const Matrix& z) const {
        check_cols(z, dim(), "embed");
        Matrix x = Matrix::from_shape({rows(z), ambient_dim()});
        for_chunks(rows(z), chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) embed_row(row(z, i), row(x, i));
        });
        return x;
    }
    // Rows Q^T x_i: n x D -> n x m.
    Matrix coords(const Matrix& x) const {
        check_cols(x, ambient_dim(), "coords");
        Matrix z = Matrix::from_shape({rows(x), dim()});
        for_chunks(rows(x), chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) coords_row(row(x, i), row(z, i));
        });
        return z;
    }

    // Nearest point of the sphere {Q z : |z| = r} for each row: Q r z / |z| with z = Q^T x.
    // Rows with z = 0 are equidistant from the whole sphere; they map to Q (r e_1).
    Matrix project_to_sphere(const Matrix& x, double r) const {
        check_cols(x, ambient_dim(), "project");
        Matrix p = Matrix::from_shape({rows(x), ambient_dim()});
        for_chunks(rows(x), chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(dim());
            for (std::size_t i = b; i < e; ++i) {
                coords_row(row(x, i), z.data());
                const double n = norm(z);
                if (n > 0.0) {
                    for (double& v : z) v *= r / n;
                } else {
                    for (double& v : z) v = 0.0;
                    z[0] = r;
                }
                embed_row(z.data(), row(p, i));
            }
        });
        return p;
    }
    // Distance of each row to that sphere: sqrt(|x - Q Q^T x|^2 + (|Q^T x| - r)^2).
    Vector distance_to_sphere(const Matrix& x, double r) const {
        check_cols(x, ambient_dim(), "distance");
        Vector d = Vector::from_shape({rows(x)});
        for_chunks(rows(x), chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(dim());
            for (std::size_t i = b; i < e; ++i) {
                coords_row(row(x, i), z.data());
                const double radial = norm(z) - r;
                d(i) = std::sqrt(normal_norm2_row(row(x, i), z.data()) + radial * radial);
            }
        });
        return d;
    }

    static double norm(const std::vector<double>& z) {
        double s = 0.0;
        for (double v : z) s += v * v;
        return std::sqrt(s);
    }

private:
    void check_cols(const Matrix& m, std::size_t want, const char* what) const {
        if (empty()) throw Error(std::string("isometry ") + what + ": the embedding was not drawn (prepare() not called)");
        if (cols(m) != want)
            throw InputError(std::string(what) + ": points have " + std::to_string(cols(m)) +
                             " columns, expected " + std::to_string(want));
    }
    Matrix q_;
};

// The angle of the point (x, y) of the plane, in [0, 2 pi).
inline double angle_0_2pi(double y, double x) {
    constexpr double two_pi = 6.283185307179586476925286766559;
    double a = std::atan2(y, x);
    if (a < 0.0) a += two_pi;
    return a < two_pi ? a : 0.0;  // -tiny + 2 pi rounds to 2 pi
}

}  // namespace mdlab
