// The swiss roll surface s (t cos t, h, t sin t), t in [t0, t1], h in [0, height] (the form of
// scikit-learn's make_swiss_roll), in a random isometric 3-subspace of R^D. The data law is a
// density in the parameters (t, h), as in scikit-learn, not the area measure of the surface.
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

using mdlab::Matrix;
using mdlab::Vector;

constexpr double pi = 3.141592653589793238462643383279502884;
// Spacing of the coarse search grid over t. Basins of the squared distance along the spiral are
// about pi wide (one per turn), so every local minimum is bracketed by grid points.
constexpr double search_step = pi / 128.0;

class SwissRoll : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("swiss_roll", "1.0.0",
                               "2-D swiss roll surface s (t cos t, h, t sin t) in a random isometric 3-subspace of R^D");
        spec.param(mdlab::integer("ambient_dim", 3, "ambient dimension D").at_least(3))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::real("t0", 1.5 * pi, "start of the roll parameter t (radians; the spiral's radius is t)").at_least(0.0))
            .param(mdlab::real("t1", 4.5 * pi, "end of the roll parameter t (must exceed t0)").greater_than(0.0))
            .param(mdlab::real("height", 21.0, "the height h runs over [0, height] (same units as t)").greater_than(0.0))
            .param(mdlab::boolean("normalise", true,
                                  "scale the roll by s = 1/t1 so its outer radius is 1 (false: s = 1, scikit-learn's raw coordinates)"));
        mdlab::CoordinateDensity::declare(spec, "roll parameter t");  // on u = (t - t0)/(t1 - t0)
        spec.param(mdlab::normal_noise_param());
        return spec;
    }

    explicit SwissRoll(const mdlab::Params& p)
        : d_(p.count("ambient_dim")),
          t0_(p.real("t0")),
          t1_(p.real("t1")),
          height_(p.real("height")),
          s_(p.boolean("normalise") ? 1.0 / p.real("t1") : 1.0),
          density_(p) {
        if (!(t1_ > t0_))
            throw mdlab::InputError("swiss_roll: t1 = " + std::to_string(t1_) + " must be larger than t0 = " +
                                        std::to_string(t0_),
                                    "t1");
        set_normal_noise(p.real("noise"));
        // The search grid over [t0, t1] and the spiral's points (t cos t, t sin t) on it.
        cells_ = static_cast<std::size_t>(std::ceil((t1_ - t0_) / search_step));
        grid_t_.resize(cells_ + 1);
        grid_c_.resize(cells_ + 1);
        grid_s_.resize(cells_ + 1);
        for (std::size_t i = 0; i <= cells_; ++i) {
            const double t = i == cells_ ? t1_ : t0_ + (t1_ - t0_) * static_cast<double>(i) / static_cast<double>(cells_);
            grid_t_[i] = t;
            grid_c_[i] = t * std::cos(t);
            grid_s_[i] = t * std::sin(t);
        }
    }

    // Q (D x 3, orthonormal columns) from the node's "embedding" stream, chunk 0.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, 3, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 2; }

    // t = t0 + u (t1 - t0) with u from the coordinate density, then h ~ U[0, height].
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        for (std::size_t i = 0; i < count; ++i) {
            const double t = t0_ + density_.sample(rng) * (t1_ - t0_);
            const double h = height_ * rng.uniform();
            embed(t, h, out + i * d_);
        }
    }

    Matrix project(const Matrix& x) const override {
        require_prepared();
        check(x);
        Matrix p = Matrix::from_shape({mdlab::rows(x), d_});
        for_rows(x, [&](std::size_t i, const double*, double t, double h) { embed(t, h, mdlab::row(p, i)); });
        return p;
    }

    // sqrt(|x - Q Q^T x|^2 + |Q^T x - c(t*, h*)|^2), both parts summed from differences (no
    // cancellation for points close to the roll).
    Vector distance(const Matrix& x) const override {
        require_prepared();
        check(x);
        Vector d = Vector::from_shape({mdlab::rows(x)});
        for_rows(x, [&](std::size_t i, const double* z, double t, double h) {
            double c[3];
            curve(t, h, c);
            double s2 = q_.normal_norm2_row(mdlab::row(x, i), z);
            for (int j = 0; j < 3; ++j) s2 += (z[j] - c[j]) * (z[j] - c[j]);
            d(i) = std::sqrt(s2);
        });
        return d;
    }

    // (t, h) of the nearest point of the roll, in parameter units.
    Matrix intrinsic_coords(const Matrix& x) const override {
        require_prepared();
        check(x);
        Matrix a = Matrix::from_shape({mdlab::rows(x), 2});
        for_rows(x, [&](std::size_t i, const double*, double t, double h) {
            a(i, 0) = t;
            a(i, 1) = h;
        });
        return a;
    }

    // Tensor midpoint grid: resolution values of u = (t - t0)/(t1 - t0) at (i + 1/2)/resolution
    // weighted by the coordinate density (normalised over the grid), times resolution uniform
    // heights (j + 1/2) height/resolution. The weights are those of the parameter-space law.
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        const std::size_t n = std::max<std::size_t>(resolution, 1);
        std::vector<double> wt(n);
        double total = 0.0;
        for (std::size_t i = 0; i < n; ++i) total += wt[i] = density_.pdf((static_cast<double>(i) + 0.5) / static_cast<double>(n));
        mdlab::Quadrature q;
        q.nodes = Matrix::from_shape({n * n, d_});
        q.weights = Vector::from_shape({n * n});
        mdlab::for_chunks(n, 16, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const double t = t0_ + (t1_ - t0_) * (static_cast<double>(i) + 0.5) / static_cast<double>(n);
                for (std::size_t j = 0; j < n; ++j) {
                    const double h = height_ * (static_cast<double>(j) + 0.5) / static_cast<double>(n);
                    embed(t, h, mdlab::row(q.nodes, i * n + j));
                    q.weights(i * n + j) = wt[i] / total / static_cast<double>(n);
                }
            }
        });
        return q;
    }

    // At the nearest point (t, h): the normalised partial derivatives of the parametrisation,
    // Q (cos t - t sin t, 0, sin t + t cos t) / sqrt(1 + t^2) and Q (0, 1, 0). They are orthogonal.
    void tangent_bases(const Matrix& points, mdlab::TangentBases& out) const override {
        require_prepared();
        check(points);
        out = mdlab::TangentBases::from_shape({mdlab::rows(points), d_, 2});
        const Matrix& q = q_.matrix();
        for_rows(points, [&](std::size_t i, const double*, double t, double) {
            const double c = std::cos(t), s = std::sin(t), n = std::sqrt(1.0 + t * t);
            const double a0 = (c - t * s) / n, a2 = (s + t * c) / n;
            for (std::size_t a = 0; a < d_; ++a) {
                out(i, a, 0) = q(a, 0) * a0 + q(a, 2) * a2;
                out(i, a, 1) = q(a, 1);
            }
        });
    }

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("swiss_roll: prepare() must be called before use");
    }
    void check(const Matrix& x) const {
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("swiss_roll: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
    }

    // The point of the roll in the 3-subspace coordinates: s (t cos t, h, t sin t).
    void curve(double t, double h, double* c) const {
        c[0] = s_ * t * std::cos(t);
        c[1] = s_ * h;
        c[2] = s_ * t * std::sin(t);
    }
    void embed(double t, double h, double* x) const {
        double c[3];
        curve(t, h, c);
        q_.embed_row(c, x);
    }

    // Calls f(i, z, t, h) for every row with z = Q^T x_i and (t, h) its nearest parameters, in
    // parallel over fixed chunks (each row computed independently: thread-count independent).
    template <class F>
    void for_rows(const Matrix& x, F&& f) const {
        mdlab::for_chunks(mdlab::rows(x), 256, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> scratch(cells_ + 1);
            double z[3];
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(x, i), z);
                const double h = std::clamp(z[1] / s_, 0.0, height_);
                const double t = nearest_t(z[0] / s_, z[2] / s_, scratch);
                f(i, static_cast<const double*>(z), t, h);
            }
        });
    }

    // The t in [t0, t1] minimising f(t) = |w - gamma(t)|^2, gamma(t) = (t cos t, t sin t) (the
    // separable problem: the surface is the spiral times an interval, so h* = clamp(z_h / s)).
    // Every discrete local minimum of f on the search grid brackets a local minimum of f; each is
    // refined by safeguarded Newton on f'(t)/2 = r . gamma'(t), r = gamma(t) - w, and the best
    // candidate (refined roots and grid points, including the ends t0 and t1) wins.
    double nearest_t(double w1, double w2, std::vector<double>& f) const {
        const std::size_t n = cells_;
        for (std::size_t i = 0; i <= n; ++i) {
            const double r1 = grid_c_[i] - w1, r2 = grid_s_[i] - w2;
            f[i] = r1 * r1 + r2 * r2;
        }
        double best_t = grid_t_[0], best_f = f[0];
        for (std::size_t i = 0; i <= n; ++i) {
            const bool left = i == 0 || f[i] <= f[i - 1];
            const bool right = i == n || f[i] <= f[i + 1];
            if (!(left && right)) continue;
            if (f[i] < best_f) best_f = f[i], best_t = grid_t_[i];
            const double gi = slope(grid_t_[i], w1, w2);
            for (int side = -1; side <= 1; side += 2) {
                if ((side < 0 && i == 0) || (side > 0 && i == n)) continue;
                const double a = side < 0 ? grid_t_[i - 1] : grid_t_[i];
                const double b = side < 0 ? grid_t_[i] : grid_t_[i + 1];
                const double ga = side < 0 ? slope(a, w1, w2) : gi;
                const double gb = side < 0 ? gi : slope(b, w1, w2);
                if (!(ga < 0.0 && gb > 0.0)) continue;
                const double t = root(a, b, w1, w2);
                const double ft = squared(t, w1, w2);
                if (ft < best_f) best_f = ft, best_t = t;
            }
        }
        return best_t;
    }

    static double squared(double t, double w1, double w2) {
        const double r1 = t * std::cos(t) - w1, r2 = t * std::sin(t) - w2;
        return r1 * r1 + r2 * r2;
    }
    // f'(t) / 2 = r . gamma'(t), gamma'(t) = (cos t - t sin t, sin t + t cos t).
    static double slope(double t, double w1, double w2) {
        const double c = std::cos(t), s = std::sin(t);
        return (t * c - w1) * (c - t * s) + (t * s - w2) * (s + t * c);
    }
    // The root of f'/2 in [a, b] where it goes from negative to positive: Newton steps, replaced
    // by bisection whenever they leave the bracket (f''/2 = |gamma'|^2 + r . gamma'').
    static double root(double a, double b, double w1, double w2) {
        double t = 0.5 * (a + b);
        for (int iter = 0; iter < 100; ++iter) {
            const double c = std::cos(t), s = std::sin(t);
            const double r1 = t * c - w1, r2 = t * s - w2;
            const double g = r1 * (c - t * s) + r2 * (s + t * c);
            if (g == 0.0) return t;
            if (g < 0.0) a = t;
            else b = t;
            const double gp = 1.0 + t * t + r1 * (-2.0 * s - t * c) + r2 * (2.0 * c - t * s);
            double next = t - g / gp;
            if (!(gp > 0.0) || !(next > a && next < b)) next = 0.5 * (a + b);
            const double step = std::abs(next - t);
            t = next;
            if (step <= 2.0 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(t))) break;
        }
        return t;
    }

    std::size_t d_;
    double t0_, t1_, height_, s_;
    mdlab::CoordinateDensity density_;
    std::size_t cells_ = 0;
    std::vector<double> grid_t_, grid_c_, grid_s_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(SwissRoll)
