// A random closed curve of prescribed smoothness in R^m, embedded in R^D by a random isometry:
//
//   gamma(theta) = s * sum_{j=1..J} j^{-(beta+1)} (a_j cos(j theta) + b_j sin(j theta)),   x = Q gamma(theta)
//
// with a_j, b_j ~ N(0, I_m) drawn from the node's stream "curve" (chunk 0, in the order a_1, b_1,
// a_2, b_2, ..., m values each), Q (D x m) from the stream "embedding" (chunk 0), and s chosen so
// that the root-mean-square distance to the centroid, ((1/2pi) int |gamma|^2)^{1/2}
// = s (sum_j j^{-2(beta+1)} (|a_j|^2 + |b_j|^2) / 2)^{1/2}, equals `radius` (the diameter is then a
// few times `radius`). The coefficient decay j^{-(beta+1)} makes the J -> infinity limit a curve of
// Hoelder/Sobolev regularity about beta (it lies in H^s for s < beta + 1/2 almost surely).
//
// The data law mu_data is the push-forward of the coordinate density p(u), u = theta / 2 pi,
// under gamma: it is NOT arc-length based. Hence E f = int_0^1 f(Q gamma(2 pi u)) p(u) du, and the
// quadrature uses equispaced theta with weights proportional to p(u_i) (no |gamma'| factor).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/densities.hpp>
#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

class Curve : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("curve", "1.0.0",
                               "random closed curve sum_j j^-(beta+1) (a_j cos j theta + b_j sin j theta) in R^m "
                               "with Gaussian a_j, b_j, embedded in R^D by a random isometry");
        spec.param(mdlab::integer("ambient_dim", 3, "ambient dimension D (at least curve_dim)").at_least(2))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::integer("curve_dim", 3,
                                  "dimension m of the space the curve is drawn in (m = 2 curves usually cross themselves)")
                       .at_least(2))
            .param(mdlab::real("beta", 1.0, "regularity: the coefficients of mode j decay as j^-(beta+1)")
                       .greater_than(0.0)
                       .at_most(20.0))
            .param(mdlab::integer("modes", 16, "number J of Fourier modes").at_least(1).at_most(256))
            .param(mdlab::real("radius", 1.0, "root-mean-square distance of the curve to its centroid").greater_than(0.0))
            .param(mdlab::normal_noise_param());
        mdlab::CoordinateDensity::declare(spec, "parameter theta");
        return spec;
    }

    explicit Curve(const mdlab::Params& p)
        : d_(static_cast<std::size_t>(p.integer("ambient_dim"))),
          m_(static_cast<std::size_t>(p.integer("curve_dim"))),
          j_(static_cast<std::size_t>(p.integer("modes"))),
          beta_(p.real("beta")),
          radius_(p.real("radius")),
          density_(p) {
        if (d_ < m_)
            throw mdlab::InputError("curve: ambient_dim = " + std::to_string(d_) + " is smaller than curve_dim = " +
                                        std::to_string(m_),
                                    "ambient_dim");
        set_normal_noise(p.real("noise"));
    }

    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng erng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, m_, erng);
        mdlab::Rng crng = ctx.stream("curve").chunk(0);
        a_.assign(j_ * m_, 0.0);
        b_.assign(j_ * m_, 0.0);
        double power = 0.0;
        for (std::size_t j = 0; j < j_; ++j) {
            const double c = std::pow(static_cast<double>(j + 1), -(beta_ + 1.0));
            for (std::size_t k = 0; k < m_; ++k) a_[j * m_ + k] = c * crng.normal();
            for (std::size_t k = 0; k < m_; ++k) b_[j * m_ + k] = c * crng.normal();
            for (std::size_t k = 0; k < m_; ++k)
                power += 0.5 * (a_[j * m_ + k] * a_[j * m_ + k] + b_[j * m_ + k] * b_[j * m_ + k]);
        }
        const double s = radius_ / std::sqrt(power);
        for (double& v : a_) v *= s;
        for (double& v : b_) v *= s;

        // The search grid for the projection, and L = max |gamma'| (on a 4x finer grid, 5% margin).
        grid_n_ = std::max<std::size_t>(1024, 32 * j_);
        grid_ = std::vector<double>(grid_n_ * m_);
        std::vector<double> g(m_), d1(m_);
        for (std::size_t i = 0; i < grid_n_; ++i) eval(theta_of(i, grid_n_), grid_.data() + i * m_, nullptr, nullptr);
        double lmax = 0.0, lmin = std::numeric_limits<double>::infinity();
        for (std::size_t i = 0; i < 4 * grid_n_; ++i) {
            eval(theta_of(i, 4 * grid_n_), g.data(), d1.data(), nullptr);
            const double l = norm(d1.data());
            lmax = std::max(lmax, l);
            lmin = std::min(lmin, l);
        }
        speed_max_ = 1.05 * lmax;
        if (!(lmin > 1e-8 * lmax))
            throw mdlab::Error("curve: the drawn curve is singular (gamma' nearly vanishes); change the seed");
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 1; }

    // theta = 2 pi u with u from the coordinate density, x = Q gamma(theta).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        std::vector<double> g(m_);
        for (std::size_t i = 0; i < count; ++i) {
            eval(two_pi * density_.sample(rng), g.data(), nullptr, nullptr);
            q_.embed_row(g.data(), out + i * d_);
        }
    }

    mdlab::Matrix project(const mdlab::Matrix& x) const override {
        std::vector<double> theta, dist;
        nearest(x, theta, dist);
        mdlab::Matrix p = mdlab::Matrix::from_shape({mdlab::rows(x), d_});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> g(m_);
            for (std::size_t i = b; i < e; ++i) {
                eval(theta[i], g.data(), nullptr, nullptr);
                q_.embed_row(g.data(), mdlab::row(p, i));
            }
        });
        return p;
    }

    mdlab::Vector distance(const mdlab::Matrix& x) const override {
        std::vector<double> theta, dist;
        nearest(x, theta, dist);
        mdlab::Vector d = mdlab::Vector::from_shape({mdlab::rows(x)});
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) d(i) = dist[i];
        return d;
    }

    // theta in [0, 2 pi) of the nearest point.
    mdlab::Matrix intrinsic_coords(const mdlab::Matrix& x) const override {
        std::vector<double> theta, dist;
        nearest(x, theta, dist);
        mdlab::Matrix t = mdlab::Matrix::from_shape({mdlab::rows(x), 1});
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) t(i, 0) = theta[i];
        return t;
    }

    // theta_i = 2 pi i / n, weights p(u_i) / sum_j p(u_j): the periodic trapezoidal rule for
    // int_0^1 f(Q gamma(2 pi u)) p(u) du (mu_data is the push-forward of p, not an arc-length law).
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        if (resolution == 0) throw mdlab::InputError("curve: quadrature needs resolution >= 1", "resolution");
        mdlab::Quadrature q;
        q.nodes = mdlab::Matrix::from_shape({resolution, d_});
        q.weights = mdlab::Vector::from_shape({resolution});
        std::vector<double> g(m_);
        double total = 0.0;
        for (std::size_t i = 0; i < resolution; ++i) {
            eval(theta_of(i, resolution), g.data(), nullptr, nullptr);
            q_.embed_row(g.data(), mdlab::row(q.nodes, i));
            q.weights(i) = density_.pdf(static_cast<double>(i) / static_cast<double>(resolution));
            total += q.weights(i);
        }
        for (std::size_t i = 0; i < resolution; ++i) q.weights(i) /= total;
        return q;
    }

    // Q gamma'(theta) / |gamma'(theta)| at the nearest point.
    void tangent_bases(const mdlab::Matrix& points, mdlab::TangentBases& out) const override {
        std::vector<double> theta, dist;
        nearest(points, theta, dist);
        const std::size_t n = mdlab::rows(points);
        out = mdlab::TangentBases::from_shape({n, d_, 1});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> g(m_), d1(m_), x(d_);
            for (std::size_t i = b; i < e; ++i) {
                eval(theta[i], g.data(), d1.data(), nullptr);
                const double l = norm(d1.data());
                for (double& v : d1) v /= l;
                q_.embed_row(d1.data(), x.data());
                for (std::size_t a = 0; a < d_; ++a) out(i, a, 0) = x[a];
            }
        });
    }

private:
    static double theta_of(std::size_t i, std::size_t n) {
        return two_pi * static_cast<double>(i) / static_cast<double>(n);
    }
    double norm(const double* v) const {
        double s = 0.0;
        for (std::size_t k = 0; k < m_; ++k) s += v[k] * v[k];
        return std::sqrt(s);
    }

    // gamma, gamma' and gamma'' at theta (any of the outputs may be null).
    void eval(double theta, double* g, double* d1, double* d2) const {
        if (g) std::fill(g, g + m_, 0.0);
        if (d1) std::fill(d1, d1 + m_, 0.0);
        if (d2) std::fill(d2, d2 + m_, 0.0);
        for (std::size_t j = 0; j < j_; ++j) {
            const double f = static_cast<double>(j + 1);
            const double c = std::cos(f * theta), s = std::sin(f * theta);
            const double* a = a_.data() + j * m_;
            const double* b = b_.data() + j * m_;
            for (std::size_t k = 0; k < m_; ++k) {
                const double even = a[k] * c + b[k] * s, odd = b[k] * c - a[k] * s;
                if (g) g[k] += even;
                if (d1) d1[k] += f * odd;
                if (d2) d2[k] -= f * f * even;
            }
        }
    }

    // Minimises phi(theta) = |gamma(theta) - z|^2 / 2 on [lo, hi] starting at t0: safeguarded
    // Newton on phi' = (gamma - z).gamma' (phi'' = |gamma'|^2 + (gamma - z).gamma'') when phi'
    // changes sign on the bracket, otherwise golden-section search then Newton polishing.
    // Returns theta; `best` receives |gamma(theta) - z|^2.
    double refine(const double* z, double lo, double hi, double t0, double& best) const {
        std::vector<double> g(m_), d1(m_), d2(m_);
        auto derivs = [&](double t, double& p1, double& p2) {
            eval(t, g.data(), d1.data(), d2.data());
            p1 = 0.0, p2 = 0.0;
            for (std::size_t k = 0; k < m_; ++k) {
                const double r = g[k] - z[k];
                p1 += r * d1[k];
                p2 += d1[k] * d1[k] + r * d2[k];
            }
        };
        auto phi = [&](double t) {
            eval(t, g.data(), nullptr, nullptr);
            double s = 0.0;
            for (std::size_t k = 0; k < m_; ++k) s += (g[k] - z[k]) * (g[k] - z[k]);
            return s;
        };
        double glo, ghi, unused;
        derivs(lo, glo, unused);
        derivs(hi, ghi, unused);
        double t = t0;
        if (glo <= 0.0 && ghi >= 0.0) {
            for (int it = 0; it < 100; ++it) {
                double p1, p2;
                derivs(t, p1, p2);
                if (p1 == 0.0) break;
                if (p1 < 0.0)
                    lo = t;
                else
                    hi = t;
                double tn = (p2 > 0.0) ? t - p1 / p2 : 0.5 * (lo + hi);
                if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
                const bool done = std::abs(tn - t) < 1e-15 * (1.0 + std::abs(t)) || hi - lo < 1e-15 * (1.0 + std::abs(t));
                t = tn;
                if (done) break;
            }
        } else {
            const double ratio = 0.5 * (std::sqrt(5.0) - 1.0);
            double a = lo, b = hi;
            double c = b - ratio * (b - a), d = a + ratio * (b - a);
            double fc = phi(c), fd = phi(d);
            for (int it = 0; it < 80 && b - a > 1e-12; ++it) {
                if (fc < fd) {
                    b = d, d = c, fd = fc;
                    c = b - ratio * (b - a);
                    fc = phi(c);
                } else {
                    a = c, c = d, fc = fd;
                    d = a + ratio * (b - a);
                    fd = phi(d);
                }
            }
            t = fc < fd ? c : d;
            double ft = phi(t);
            for (int it = 0; it < 5; ++it) {  // Newton polish, kept only when it helps
                double p1, p2;
                derivs(t, p1, p2);
                if (!(p2 > 0.0)) break;
                const double tn = t - p1 / p2;
                if (!(tn >= lo && tn <= hi)) break;
                const double fn = phi(tn);
                if (!(fn <= ft)) break;
                t = tn, ft = fn;
            }
            for (double end : {lo, hi}) {
                const double fe = phi(end);
                if (fe < ft) t = end, ft = fe;
            }
        }
        best = phi(t);
        return t;
    }

    // For each row x: theta of the nearest point and the distance to the curve. Dense search on
    // the grid of n points (spacing h); a true minimiser theta* is within h/2 of a grid point,
    // so |gamma(theta_grid) - z| <= d* + L h / 2: every discrete local minimum of the grid within
    // that margin of the best one is refined, and the best refined point wins.
    void nearest(const mdlab::Matrix& x, std::vector<double>& theta, std::vector<double>& dist) const {
        require_prepared();
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("curve: points have " + std::to_string(mdlab::cols(x)) +
                                        " columns, expected ambient_dim = " + std::to_string(d_),
                                    "points");
        const std::size_t n = mdlab::rows(x), gn = grid_n_;
        const double h = two_pi / static_cast<double>(gn), margin = 0.5 * speed_max_ * h;
        theta.assign(n, 0.0);
        dist.assign(n, 0.0);
        mdlab::for_chunks(n, 64, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> z(m_), f(gn);
            for (std::size_t i = b; i < e; ++i) {
                const double* xi = mdlab::row(x, i);
                q_.coords_row(xi, z.data());
                double fmin = std::numeric_limits<double>::infinity();
                for (std::size_t k = 0; k < gn; ++k) {
                    const double* gk = grid_.data() + k * m_;
                    double s = 0.0;
                    for (std::size_t c = 0; c < m_; ++c) s += (gk[c] - z[c]) * (gk[c] - z[c]);
                    f[k] = s;
                    fmin = std::min(fmin, s);
                }
                const double bound = (std::sqrt(fmin) + margin) * (std::sqrt(fmin) + margin);
                double best = std::numeric_limits<double>::infinity(), best_t = 0.0;
                for (std::size_t k = 0; k < gn; ++k) {
                    const double fp = f[(k + gn - 1) % gn], fn = f[(k + 1) % gn];
                    if (f[k] > bound || f[k] > fp || f[k] > fn) continue;
                    const double tk = theta_of(k, gn);
                    double fr;
                    const double t = refine(z.data(), tk - h, tk + h, tk, fr);
                    if (fr < best) best = fr, best_t = t;
                }
                double t = std::fmod(best_t, two_pi);
                if (t < 0.0) t += two_pi;
                if (!(t < two_pi)) t = 0.0;
                theta[i] = t;
                dist[i] = std::sqrt(q_.normal_norm2_row(xi, z.data()) + best);
            }
        });
    }

    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("curve: prepare() must be called before use");
    }

    std::size_t d_, m_, j_;
    double beta_, radius_;
    mdlab::CoordinateDensity density_;
    mdlab::Isometry q_;
    std::vector<double> a_, b_;    // scaled coefficient vectors, J x m each
    std::size_t grid_n_ = 0;
    std::vector<double> grid_;     // gamma at theta_k = 2 pi k / grid_n_, grid_n_ x m
    double speed_max_ = 0.0;       // upper bound of |gamma'|
};

}  // namespace

MDLAB_PLUGINS(Curve)
