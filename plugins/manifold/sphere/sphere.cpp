// The round sphere S^k of radius r in a random isometric (k+1)-subspace of R^D, with a density
// that depends on the first coordinate u_1 of the unit vector u (uniform, von Mises-Fisher about
// Q e_1, or irregular) and optional Gaussian noise in the normal space.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double pi = 3.141592653589793238462643383279502884;
constexpr double two_pi = 2.0 * pi;

// n-point Gauss-Legendre rule on [-1, 1]: Newton's method on P_n from the Chebyshev-like
// initial guesses cos(pi (i + 3/4) / (n + 1/2)), P_n and P_n' by the three-term recurrence.
void gauss_legendre(std::size_t n, std::vector<double>& x, std::vector<double>& w) {
    x.assign(n, 0.0);
    w.assign(n, 0.0);
    for (std::size_t i = 0; i < (n + 1) / 2; ++i) {
        double z = std::cos(pi * (static_cast<double>(i) + 0.75) / (static_cast<double>(n) + 0.5));
        double dp = 1.0;
        for (int it = 0; it < 100; ++it) {
            double p0 = 1.0, p1 = z;
            for (std::size_t j = 2; j <= n; ++j) {
                const double p2 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p0) / static_cast<double>(j);
                p0 = p1;
                p1 = p2;
            }
            // P_n = p1, P_{n-1} = p0 (for n = 1: P_1 = z, P_0 = 1).
            dp = static_cast<double>(n) * (z * p1 - p0) / (z * z - 1.0);
            const double dz = p1 / dp;
            z -= dz;
            if (std::abs(dz) < 1e-16) break;
        }
        // Recompute P_n' at the converged node for the weight 2 / ((1 - z^2) P_n'(z)^2).
        double p0 = 1.0, p1 = z;
        for (std::size_t j = 2; j <= n; ++j) {
            const double p2 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p0) / static_cast<double>(j);
            p0 = p1;
            p1 = p2;
        }
        dp = static_cast<double>(n) * (z * p1 - p0) / (z * z - 1.0);
        const double wi = 2.0 / ((1.0 - z * z) * dp * dp);
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = w[n - 1 - i] = wi;
    }
    if (n % 2 == 1) x[n / 2] = 0.0;
}

class Sphere : public mdlab::Manifold {
public:
    enum class Shape { uniform, fisher, irregular };

    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("sphere", "1.1.0",
                                 "sphere S^k of radius r in a random isometric (k+1)-subspace of R^D, with a density "
                                 "in the first coordinate u_1 of the unit vector")
            .param(mdlab::integer("k", 2, "intrinsic dimension k of S^k").at_least(1))
            .param(mdlab::integer("ambient_dim", 3, "ambient dimension D (at least k + 1)").at_least(2))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::real("radius", 1.0, "radius r of the sphere").greater_than(0.0))
            .param(mdlab::normal_noise_param())
            .param(mdlab::choice("density", "uniform", {"uniform", "von_mises", "irregular"},
                                 "density on S^k as a function of u_1 = cos(theta_1) (theta_1 the first polar angle): "
                                 "uniform, von_mises (von Mises-Fisher, proportional to exp(kappa u_1), mean direction Q e_1) "
                                 "or irregular (proportional to 1/4 + |u_1|, with a kink on the great sphere u_1 = 0)"))
            .param(mdlab::real("kappa", 2.0, "concentration of the von_mises (von Mises-Fisher) density")
                       .at_least(0.0)
                       .at_most(50.0));
    }

    explicit Sphere(const mdlab::Params& p)
        : k_(static_cast<std::size_t>(p.integer("k"))),
          d_(static_cast<std::size_t>(p.integer("ambient_dim"))),
          r_(p.real("radius")),
          kappa_(p.real("kappa")) {
        if (d_ < k_ + 1)
            throw mdlab::InputError("sphere: ambient_dim = " + std::to_string(d_) + " is too small for S^" +
                                        std::to_string(k_) + ", which needs ambient_dim >= k + 1 = " +
                                        std::to_string(k_ + 1),
                                    "ambient_dim");
        const std::string& s = p.string("density");
        if (s == "uniform")
            shape_ = Shape::uniform;
        else if (s == "von_mises")
            shape_ = Shape::fisher;
        else if (s == "irregular")
            shape_ = Shape::irregular;
        else
            throw mdlab::InputError("sphere: unknown density '" + s + "'", "density");
        if (shape_ == Shape::fisher && kappa_ == 0.0) shape_ = Shape::uniform;
        set_normal_noise(p.real("noise"));
    }

    // Q (D x (k+1), orthonormal columns) from the node's "embedding" stream: depends only on
    // the pipeline seed and the node id.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, k_ + 1, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return k_; }

    // Unnormalised density of mu_data with respect to the surface measure, as a function of u_1.
    double weight(double u1) const {
        switch (shape_) {
        case Shape::uniform: return 1.0;
        case Shape::fisher: return std::exp(kappa_ * (u1 - 1.0));
        case Shape::irregular: return 0.25 + std::abs(u1);
        }
        return 1.0;
    }

    // x = Q r u with u a unit vector of R^{k+1}:
    //  uniform:   u = g / |g|, g ~ N(0, I_{k+1}) (rotation invariance);
    //  von_mises: Wood's (1994) rejection sampler for the von Mises-Fisher law: u_1 = W from the
    //             envelope built on Z ~ Beta(k/2, k/2), the rest sqrt(1 - W^2) V with V uniform
    //             on S^{k-1}. Both Z and V come from one Gaussian vector g: Z = (1 + g_1/|g|) / 2,
    //             V = (g_2..g_{k+1}) / |(g_2..g_{k+1})|, independent by rotation invariance about e_1;
    //  irregular: rejection from the uniform law with acceptance (1/4 + |u_1|) / (5/4).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        const std::size_t m = k_ + 1;
        std::vector<double> g(m), u(m);
        // Wood's constants (p - 1 = k), in forms free of cancellation at large kappa.
        const double kd = static_cast<double>(k_);
        const double b = kd / (2.0 * kappa_ + std::sqrt(4.0 * kappa_ * kappa_ + kd * kd));
        const double x0 = (1.0 - b) / (1.0 + b);
        const double c = kappa_ * x0 + kd * (std::log(4.0 * b) - 2.0 * std::log1p(b));  // log(1 - x0^2) = log(4b/(1+b)^2)
        for (std::size_t i = 0; i < count; ++i) {
            if (shape_ == Shape::fisher) {
                for (;;) {
                    double n2 = 0.0, t2 = 0.0;
                    for (std::size_t j = 0; j < m; ++j) {
                        g[j] = rng.normal();
                        n2 += g[j] * g[j];
                        if (j > 0) t2 += g[j] * g[j];
                    }
                    const double logu = std::log(rng.uniform_open0());
                    if (!(t2 > 0.0)) continue;  // probability zero
                    const double t = g[0] / std::sqrt(n2);
                    const double z = 0.5 * (1.0 + t), zc = 0.5 * (1.0 - t);
                    const double den = 1.0 - (1.0 - b) * z;
                    const double w = (1.0 - (1.0 + b) * z) / den;
                    if (kappa_ * w + kd * std::log1p(-x0 * w) - c < logu) continue;
                    const double s = std::sqrt(std::max(0.0, 4.0 * b * z * zc)) / den;  // sqrt(1 - w^2)
                    const double tn = std::sqrt(t2);
                    u[0] = w;
                    for (std::size_t j = 1; j < m; ++j) u[j] = s * g[j] / tn;
                    break;
                }
            } else {
                for (;;) {
                    double n2 = 0.0;
                    for (std::size_t j = 0; j < m; ++j) {
                        g[j] = rng.normal();
                        n2 += g[j] * g[j];
                    }
                    if (!(n2 > 0.0)) continue;  // probability zero
                    const double n = std::sqrt(n2);
                    for (std::size_t j = 0; j < m; ++j) u[j] = g[j] / n;
                    if (shape_ == Shape::uniform) break;
                    if (rng.uniform() * 1.25 < 0.25 + std::abs(u[0])) break;
                }
            }
            const double n = mdlab::Isometry::norm(u);
            for (std::size_t j = 0; j < m; ++j) u[j] *= r_ / n;
            q_.embed_row(u.data(), out + i * d_);
        }
    }

    mdlab::Matrix project(const mdlab::Matrix& x) const override {
        require_prepared();
        return q_.project_to_sphere(x, r_);
    }

    mdlab::Vector distance(const mdlab::Matrix& x) const override {
        require_prepared();
        return q_.distance_to_sphere(x, r_);
    }

    // Hyperspherical angles of y = Q^T x (those of the nearest point of the sphere):
    //   y_1 = |y| cos th_1, y_2 = |y| sin th_1 cos th_2, ..., y_{k+1} = |y| sin th_1 ... sin th_k,
    // th_i = atan2(|(y_{i+1}, ..., y_{k+1})|, y_i) in [0, pi] for i < k, and
    // th_k = atan2(y_{k+1}, y_k) in [0, 2 pi).
    mdlab::Matrix intrinsic_coords(const mdlab::Matrix& x) const override {
        require_prepared();
        const mdlab::Matrix y = q_.coords(x);
        const std::size_t n = mdlab::rows(x), m = k_ + 1;
        mdlab::Matrix th = mdlab::Matrix::from_shape({n, k_});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const double* yi = mdlab::row(y, i);
                double tail2 = yi[m - 1] * yi[m - 1] + yi[m - 2] * yi[m - 2];
                th(i, k_ - 1) = mdlab::angle_0_2pi(yi[m - 1], yi[m - 2]);
                for (std::size_t j = k_ - 1; j-- > 0;) {  // th_{j+1} from y_{j+1} and the tail after it
                    th(i, j) = std::atan2(std::sqrt(tail2), yi[j]);
                    tail2 += yi[j] * yi[j];
                }
            }
        });
        return th;
    }

    // Nodes and weights including the density (weights normalised to sum 1):
    //  k = 2: the spherical Fibonacci lattice with N = resolution^2 points,
    //         u_1 = 1 - (2i + 1)/N, azimuth = i * pi (3 - sqrt 5), weights proportional to the
    //         density at u_1 (the lattice is equal-area; in u_1 alone it is the midpoint rule);
    //  otherwise: a product rule in the hyperspherical angles, Gauss-Legendre with `resolution`
    //         nodes on [0, pi] for th_1..th_{k-1} (weight times the Jacobian sin^{k-j}(th_j)) and
    //         `resolution` equispaced azimuths th_k (periodic trapezoid), resolution^k nodes.
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        if (resolution == 0) throw mdlab::InputError("sphere: quadrature needs resolution >= 1", "resolution");
        const std::size_t m = k_ + 1;
        const double max_nodes = 2e7;
        const double count = std::pow(static_cast<double>(resolution), static_cast<double>(k_));
        if (count > max_nodes || count * static_cast<double>(d_) > 4e8)
            throw mdlab::InputError("sphere: a quadrature with resolution " + std::to_string(resolution) + " on S^" +
                                        std::to_string(k_) + " would need " + std::to_string(count) +
                                        " nodes; lower the resolution",
                                    "resolution");
        const std::size_t n = static_cast<std::size_t>(count + 0.5);
        mdlab::Quadrature q;
        q.nodes = mdlab::Matrix::from_shape({n, d_});
        q.weights = mdlab::Vector::from_shape({n});
        if (k_ == 2) {
            const double golden = pi * (3.0 - std::sqrt(5.0));
            mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                double y[3];
                for (std::size_t i = b; i < e; ++i) {
                    const double h = 1.0 - (2.0 * static_cast<double>(i) + 1.0) / static_cast<double>(n);
                    const double rho = std::sqrt(std::max(0.0, (1.0 - h) * (1.0 + h)));
                    const double ph = std::fmod(golden * static_cast<double>(i), two_pi);
                    y[0] = r_ * h;
                    y[1] = r_ * rho * std::cos(ph);
                    y[2] = r_ * rho * std::sin(ph);
                    q_.embed_row(y, mdlab::row(q.nodes, i));
                    q.weights(i) = weight(h);
                }
            });
        } else {
            std::vector<double> gx, gw, polar(resolution), polar_w(resolution);
            gauss_legendre(resolution, gx, gw);
            for (std::size_t i = 0; i < resolution; ++i) {
                polar[i] = 0.5 * pi * (gx[i] + 1.0);
                polar_w[i] = 0.5 * pi * gw[i];
            }
            mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                std::vector<double> y(m);
                std::vector<std::size_t> digit(k_);
                for (std::size_t i = b; i < e; ++i) {
                    // Digits of i in base `resolution`: digit j indexes th_{j+1}, the last the azimuth.
                    std::size_t rest = i;
                    for (std::size_t j = k_; j-- > 0;) {
                        digit[j] = rest % resolution;
                        rest /= resolution;
                    }
                    double s = 1.0, w = 1.0;
                    for (std::size_t j = 0; j + 1 < k_; ++j) {
                        const double th = polar[digit[j]];
                        y[j] = s * std::cos(th);
                        w *= polar_w[digit[j]] * std::pow(std::sin(th), static_cast<double>(k_ - 1 - j));
                        s *= std::sin(th);
                    }
                    const double az = two_pi * static_cast<double>(digit[k_ - 1]) / static_cast<double>(resolution);
                    y[k_ - 1] = s * std::cos(az);
                    y[k_] = s * std::sin(az);
                    w *= weight(y[0]);
                    for (double& v : y) v *= r_;
                    q_.embed_row(y.data(), mdlab::row(q.nodes, i));
                    q.weights(i) = w;
                }
            });
        }
        double total = 0.0;
        for (std::size_t i = 0; i < n; ++i) total += q.weights(i);
        if (!(total > 0.0)) throw mdlab::Error("sphere: quadrature weights vanish");
        for (std::size_t i = 0; i < n; ++i) q.weights(i) /= total;
        return q;
    }

    // For u = Q^T x / |Q^T x| (e_1 at the centre): the Householder reflection H = I - 2 v v^T / |v|^2,
    // v = u + s e_j with j = argmax |u_j| and s = sign(u_j), maps u to -s e_j; its columns other than
    // j are orthonormal and orthogonal to H e_j = -s u, so Q H e_i (i != j) is a tangent basis.
    void tangent_bases(const mdlab::Matrix& points, mdlab::TangentBases& out) const override {
        require_prepared();
        if (mdlab::cols(points) != d_)
            throw mdlab::InputError("sphere: tangent_bases: points have " + std::to_string(mdlab::cols(points)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_), "points");
        const std::size_t n = mdlab::rows(points), m = k_ + 1;
        out = mdlab::TangentBases::from_shape({n, d_, k_});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> u(m), v(m), h(m), x(d_);
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(points, i), u.data());
                const double nu = mdlab::Isometry::norm(u);
                if (nu > 0.0) {
                    for (double& c : u) c /= nu;
                } else {
                    std::fill(u.begin(), u.end(), 0.0);
                    u[0] = 1.0;
                }
                std::size_t jmax = 0;
                for (std::size_t j = 1; j < m; ++j)
                    if (std::abs(u[j]) > std::abs(u[jmax])) jmax = j;
                v = u;
                v[jmax] += u[jmax] >= 0.0 ? 1.0 : -1.0;
                double v2 = 0.0;
                for (double c : v) v2 += c * c;  // = 2 (1 + |u_j|) >= 2
                std::size_t col = 0;
                for (std::size_t j = 0; j < m; ++j) {
                    if (j == jmax) continue;
                    for (std::size_t a = 0; a < m; ++a) h[a] = (a == j ? 1.0 : 0.0) - 2.0 * v[a] * v[j] / v2;
                    q_.embed_row(h.data(), x.data());
                    for (std::size_t a = 0; a < d_; ++a) out(i, a, col) = x[a];
                    ++col;
                }
            }
        });
    }

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("sphere: prepare() must be called before use");
    }

    std::size_t k_, d_;
    double r_;
    double kappa_;
    Shape shape_ = Shape::uniform;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Sphere)
