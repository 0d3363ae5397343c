// A k-dimensional linear subspace through the origin of R^D (a random isometric embedding of
// R^k), carrying the Gaussian law N(0, scale^2 I_k), the uniform law on the cube
// [-scale, scale]^k, or a density of set smoothness on that cube (`fourier`, fourier_law.hpp).
// The Gaussian case is the simplest reference with a closed-form noised score.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "fourier_law.hpp"

namespace {

using mdlab::Matrix;
using mdlab::Vector;

// Largest tensor rule quadrature() builds (nodes in total), and the largest 1-D Gauss rule.
constexpr double max_quadrature_nodes = 1e6;
constexpr std::size_t max_gauss_nodes = 1000;

// Gauss rule of a symmetric probability measure on the line from its Jacobi matrix (Golub and
// Welsch, Math. Comp. 23, 1969): the nodes are the eigenvalues of the symmetric tridiagonal
// matrix with zero diagonal and off-diagonal b_1..b_{n-1}, the weights the squared first
// components of its unit eigenvectors. The eigenproblem is solved by the implicit QL iteration
// with Wilkinson shifts, applying each plane rotation only to the first row of the eigenvector
// matrix (that row is all the weights need), so the cost is O(n^2).
void gauss_rule(const std::vector<double>& offdiag, std::vector<double>& nodes, std::vector<double>& weights) {
    const std::size_t n = offdiag.size() + 1;
    std::vector<double> d(n, 0.0), e(n, 0.0), z(n, 0.0);
    for (std::size_t i = 0; i + 1 < n; ++i) e[i] = offdiag[i];  // e[i] couples rows i and i+1; e[n-1] = 0
    z[0] = 1.0;
    constexpr double eps = std::numeric_limits<double>::epsilon();
    for (std::size_t l = 0; l < n; ++l) {
        for (int iter = 0;; ++iter) {
            std::size_t m = l;
            for (; m + 1 < n; ++m)  // the first negligible off-diagonal element splits the matrix
                if (std::abs(e[m]) <= eps * (std::abs(d[m]) + std::abs(d[m + 1]))) break;
            if (m == l) break;
            if (iter > 200) throw mdlab::Error("linear_subspace: the Gauss rule eigenvalue iteration did not converge");
            // Wilkinson shift from the leading 2 x 2 block, then chase the bulge from m up to l.
            double g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            double r = std::hypot(g, 1.0);
            g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
            double s = 1.0, c = 1.0, p = 0.0;
            bool split = false;
            for (std::size_t i = m; i-- > l;) {
                const double f = s * e[i], b = c * e[i];
                r = std::hypot(f, g);
                e[i + 1] = r;
                if (r == 0.0) {  // an exact split: deflate and restart
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    split = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                const double zf = z[i + 1];
                z[i + 1] = s * z[i] + c * zf;
                z[i] = c * z[i] - s * zf;
            }
            if (split) continue;
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return d[a] < d[b]; });
    nodes.resize(n);
    weights.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        nodes[i] = d[order[i]];
        weights[i] = z[order[i]] * z[order[i]];
    }
    // The measure is symmetric: make the rule exactly symmetric (odd moments vanish exactly).
    for (std::size_t i = 0; i < n / 2; ++i) {
        const std::size_t j = n - 1 - i;
        const double x = 0.5 * (nodes[j] - nodes[i]), w = 0.5 * (weights[i] + weights[j]);
        nodes[i] = -x, nodes[j] = x;
        weights[i] = weights[j] = w;
    }
    if (n % 2 == 1) nodes[n / 2] = 0.0;
    double total = 0.0;
    for (double w : weights) total += w;
    for (double& w : weights) w /= total;
}

// n-point Gauss-Hermite rule of the standard normal law (probabilists' Hermite polynomials:
// Jacobi off-diagonal sqrt(i)). Exact for polynomials of degree <= 2n - 1.
void gauss_hermite(std::size_t n, std::vector<double>& nodes, std::vector<double>& weights) {
    std::vector<double> b(n - 1);
    for (std::size_t i = 1; i < n; ++i) b[i - 1] = std::sqrt(static_cast<double>(i));
    gauss_rule(b, nodes, weights);
}

// n-point Gauss-Legendre rule of the uniform law on [-1, 1] (off-diagonal i / sqrt(4 i^2 - 1)).
void gauss_legendre(std::size_t n, std::vector<double>& nodes, std::vector<double>& weights) {
    std::vector<double> b(n - 1);
    for (std::size_t i = 1; i < n; ++i) {
        const double x = static_cast<double>(i);
        b[i - 1] = x / std::sqrt(4.0 * x * x - 1.0);
    }
    gauss_rule(b, nodes, weights);
}

// n-point midpoint rule of the uniform law on [-1, 1].
void midpoint_rule(std::size_t n, std::vector<double>& nodes, std::vector<double>& weights) {
    nodes.resize(n);
    weights.assign(n, 1.0 / static_cast<double>(n));
    for (std::size_t i = 0; i < n; ++i) nodes[i] = -1.0 + (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(n);
}

class LinearSubspace : public mdlab::Manifold {
public:
    enum class Law { gaussian, cube, fourier };

    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("linear_subspace", "1.0.0",
                                 "k-dimensional random linear subspace of R^D with a Gaussian, uniform-cube or "
                                 "set-smoothness (Fourier) law")
            .param(mdlab::integer("k", 2, "dimension k of the subspace (the intrinsic dimension)").at_least(1))
            .param(mdlab::integer("ambient_dim", 3, "ambient dimension D (at least k)").at_least(1))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::choice("law", "gaussian", {"gaussian", "cube", "fourier"},
                                 "law in the subspace coordinates: gaussian N(0, scale^2 I_k), uniform on the cube "
                                 "[-scale, scale]^k, or fourier: independent coordinates on that cube, each of density "
                                 "1 + amplitude sum_m c_m cos(2 pi m u + phi_m) in u = (z / scale + 1) / 2, with c_m "
                                 "proportional to m^-(smoothness + 1/2) (Besov smoothness `smoothness`)"))
            .param(mdlab::real("scale", 1.0, "standard deviation (gaussian) or half-width (cube, fourier) of the law").greater_than(0.0))
            .param(mdlab::real("smoothness", 1.0, "fourier law: smoothness s, Fourier coefficients decaying like m^-(s+1/2)")
                       .at_least(0.0)
                       .at_most(20.0))
            .param(mdlab::integer("modes", 64, "fourier law: number M of Fourier modes per coordinate").at_least(1).at_most(4096))
            .param(mdlab::real("amplitude", 0.5,
                               "fourier law: bound a of |density - 1| in the unit-cube coordinates (density in [1 - a, 1 + a])")
                       .at_least(0.0)
                       .less_than(1.0))
            .param(mdlab::normal_noise_param());
    }

    explicit LinearSubspace(const mdlab::Params& p)
        : k_(p.count("k")),
          d_(p.count("ambient_dim")),
          law_(p.string("law") == "cube" ? Law::cube : p.string("law") == "fourier" ? Law::fourier : Law::gaussian),
          scale_(p.real("scale")),
          fourier_(p.real("smoothness"), p.count("modes"), p.real("amplitude")) {
        if (d_ < k_)
            throw mdlab::InputError("linear_subspace: ambient_dim = " + std::to_string(d_) +
                                        " is smaller than the subspace dimension k = " + std::to_string(k_),
                                    "ambient_dim");
        set_normal_noise(p.real("noise"));
    }

    // Q (D x k, orthonormal columns) from the node's "embedding" stream, chunk 0.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, k_, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return k_; }

    // x = Q z with z ~ N(0, scale^2 I_k), z ~ U[-scale, scale]^k, or z = scale (2 u - 1) with the
    // coordinates of u drawn from the fourier law by rejection (exact).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        std::vector<double> z(k_);
        for (std::size_t i = 0; i < count; ++i) {
            if (law_ == Law::gaussian)
                for (double& v : z) v = scale_ * rng.normal();
            else if (law_ == Law::cube)
                for (double& v : z) v = scale_ * (2.0 * rng.uniform() - 1.0);
            else
                for (double& v : z) v = scale_ * (2.0 * fourier_.draw(rng) - 1.0);
            q_.embed_row(z.data(), out + i * d_);
        }
    }

    // Onto the support: Q Q^T x for the Gaussian law (the whole subspace), Q clamp(Q^T x) for the
    // cube and fourier laws (the nearest point of a box is the coordinate-wise clamp).
    Matrix project(const Matrix& x) const override {
        require_prepared();
        check(x);
        Matrix p = Matrix::from_shape({mdlab::rows(x), d_});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(k_);
            for (std::size_t i = b; i < e; ++i) {
                support_coords(mdlab::row(x, i), z.data());
                q_.embed_row(z.data(), mdlab::row(p, i));
            }
        });
        return p;
    }

    // sqrt(|x - Q Q^T x|^2 + |Q^T x - clamp(Q^T x)|^2), the normal part summed from the residual.
    Vector distance(const Matrix& x) const override {
        require_prepared();
        check(x);
        Vector d = Vector::from_shape({mdlab::rows(x)});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(k_);
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(x, i), z.data());
                double s = q_.normal_norm2_row(mdlab::row(x, i), z.data());
                if (law_ != Law::gaussian)
                    for (double v : z) {
                        const double out = v - std::clamp(v, -scale_, scale_);
                        s += out * out;
                    }
                d(i) = std::sqrt(s);
            }
        });
        return d;
    }

    // The subspace coordinates Q^T p of the nearest point p of the support (Q^T x for the
    // Gaussian law, clamped to the cube for the cube and fourier laws).
    Matrix intrinsic_coords(const Matrix& x) const override {
        require_prepared();
        check(x);
        Matrix z = Matrix::from_shape({mdlab::rows(x), k_});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) support_coords(mdlab::row(x, i), mdlab::row(z, i));
        });
        return z;
    }

    // Tensor rule with `resolution` nodes per subspace coordinate: Gauss-Hermite for the Gaussian
    // law (exact for polynomials of degree <= 2 resolution - 1 in each coordinate), Gauss-Legendre
    // for the cube (same exactness) up to 1000 nodes per coordinate, the midpoint rule beyond.
    // The fourier law takes the midpoint rule (resolution cells per coordinate) with weights
    // f(u) / resolution per coordinate, renormalised: exact for trigonometric polynomials of
    // degree < resolution - modes, and its cells tile the cube, so the weights of a box made of
    // whole cells sum to the law's exact mass of that box up to O(resolution^-2).
    // The tensor grid has resolution^k nodes: meant for small k; refused above 1e6 nodes.
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        const std::size_t n = std::max<std::size_t>(resolution, 1);
        double total = 1.0;
        for (std::size_t j = 0; j < k_; ++j) total *= static_cast<double>(n);
        if (total > max_quadrature_nodes)
            throw mdlab::InputError("linear_subspace: a tensor quadrature with " + std::to_string(n) +
                                        " nodes per coordinate in k = " + std::to_string(k_) +
                                        " dimensions has " + std::to_string(total) +
                                        " nodes (more than 1e6); lower the resolution or k" +
                                        (law_ == Law::gaussian ? " (the gaussian law has a closed-form noised score)" : ""),
                                    "k");
        std::vector<double> xi, w;
        if (law_ == Law::gaussian) {
            if (n > max_gauss_nodes)
                throw mdlab::InputError("linear_subspace: at most " + std::to_string(max_gauss_nodes) +
                                        " Gauss-Hermite nodes per coordinate (asked for " + std::to_string(n) +
                                        "; the weights of larger rules underflow); the gaussian law has a closed-form noised score");
            if (n == 1) xi = {0.0}, w = {1.0};
            else gauss_hermite(n, xi, w);
        } else if (law_ == Law::fourier) {
            midpoint_rule(n, xi, w);
            double total_w = 0.0;
            for (std::size_t i = 0; i < n; ++i) total_w += (w[i] *= fourier_.density(0.5 * (xi[i] + 1.0)));
            for (double& v : w) v /= total_w;
        } else if (n == 1) {
            xi = {0.0}, w = {1.0};
        } else if (n <= max_gauss_nodes) {
            gauss_legendre(n, xi, w);
        } else {
            midpoint_rule(n, xi, w);
        }
        const std::size_t m = static_cast<std::size_t>(total);
        mdlab::Quadrature q;
        q.nodes = Matrix::from_shape({m, d_});
        q.weights = Vector::from_shape({m});
        mdlab::for_chunks(m, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(k_);
            for (std::size_t i = b; i < e; ++i) {
                std::size_t rest = i;  // mixed-radix digits of i: one 1-D node index per coordinate
                double weight = 1.0;
                for (std::size_t j = 0; j < k_; ++j) {
                    const std::size_t a = rest % n;
                    rest /= n;
                    z[j] = scale_ * xi[a];
                    weight *= w[a];
                }
                q_.embed_row(z.data(), mdlab::row(q.nodes, i));
                q.weights(i) = weight;
            }
        });
        return q;
    }

    // The columns of Q at every point.
    void tangent_bases(const Matrix& points, mdlab::TangentBases& out) const override {
        require_prepared();
        check(points);
        const std::size_t n = mdlab::rows(points);
        out = mdlab::TangentBases::from_shape({n, d_, k_});
        const Matrix& q = q_.matrix();
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t a = 0; a < d_; ++a)
                for (std::size_t j = 0; j < k_; ++j) out(i, a, j) = q(a, j);
    }

    // Gaussian law: alpha x0 + sigma eps ~ N(0, alpha^2 scale^2 Q Q^T + sigma^2 I), whose score is
    //   -( Q z / (alpha^2 scale^2 + sigma^2) + (x - Q z) / sigma^2 ),  z = Q^T x.
    // The cube law has no closed form.
    bool noised_score(const Matrix& x, double alpha, double sigma, Matrix& out) const override {
        if (law_ != Law::gaussian) return false;
        require_prepared();
        check(x);
        if (!(sigma > 0.0)) throw mdlab::Error("linear_subspace: noised_score needs sigma > 0");
        const double in_plane = 1.0 / (alpha * alpha * scale_ * scale_ + sigma * sigma);
        // Normal `noise` s_n makes the law Gaussian across the subspace too: variance
        // alpha^2 s_n^2 + sigma^2 in the normal directions once noised.
        const double s_n = normal_noise();
        const double normal = 1.0 / (alpha * alpha * s_n * s_n + sigma * sigma);
        out = Matrix::from_shape({mdlab::rows(x), d_});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(k_), par(d_);
            for (std::size_t i = b; i < e; ++i) {
                const double* xi = mdlab::row(x, i);
                double* si = mdlab::row(out, i);
                q_.coords_row(xi, z.data());
                q_.embed_row(z.data(), par.data());
                for (std::size_t a = 0; a < d_; ++a) si[a] = -(in_plane * par[a] + normal * (xi[a] - par[a]));
            }
        });
        return true;
    }

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("linear_subspace: prepare() must be called before use");
    }
    void check(const Matrix& x) const {
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("linear_subspace: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
    }
    // Q^T x, clamped to the cube for the cube law: the coordinates of the nearest support point.
    void support_coords(const double* x, double* z) const {
        q_.coords_row(x, z);
        if (law_ != Law::gaussian)
            for (std::size_t j = 0; j < k_; ++j) z[j] = std::clamp(z[j], -scale_, scale_);
    }

    std::size_t k_, d_;
    Law law_;
    double scale_;
    linear_subspace_detail::FourierLaw fourier_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(LinearSubspace)
