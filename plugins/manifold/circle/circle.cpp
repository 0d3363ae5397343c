// The circle of radius r in a random 2-plane of R^D (or the (x_1, x_2) plane: embedding =
// coordinate), with a density on the angle (uniform, von Mises or irregular, see
// mdlab/densities.hpp) and optional Gaussian noise in the normal space.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/densities.hpp>
#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

class Circle : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("circle", "1.2.0",
                               "circle of radius r in a random isometric 2-plane of R^D, with a density on the angle");
        spec.param(mdlab::real("radius", 1.0, "radius r of the circle").greater_than(0.0))
            .param(mdlab::choice("embedding", "random", {"random", "coordinate"},
                                 "the circle's plane: a random isometric 2-plane, or the (x_1, x_2) coordinate plane "
                                 "(angle 0 on the x_1 axis)"))
            .param(mdlab::integer("ambient_dim", 2, "ambient dimension D").at_least(2))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::normal_noise_param());
        mdlab::CoordinateDensity::declare(spec, "angle");
        return spec;
    }

    explicit Circle(const mdlab::Params& p)
        : r_(p.real("radius")), d_(static_cast<std::size_t>(p.integer("ambient_dim"))),
          coordinate_(p.string("embedding") == "coordinate"), density_(p) {
        set_normal_noise(p.real("noise"));
    }

    // Q (D x 2, orthonormal columns) from the node's "embedding" stream: depends only on the
    // pipeline seed and the node id; or the first two coordinate axes.
    void prepare(mdlab::Context& ctx) override {
        if (coordinate_) {
            q_ = mdlab::Isometry::coordinate(d_, 2);
            return;
        }
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, 2, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 1; }

    // x = Q r (cos theta, sin theta), theta = 2 pi u, u drawn from the coordinate density
    // (for the uniform density u = rng.uniform(), one draw per point).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        for (std::size_t i = 0; i < count; ++i) {
            const double theta = two_pi * density_.sample(rng);
            const double z[2] = {r_ * std::cos(theta), r_ * std::sin(theta)};
            q_.embed_row(z, out + i * d_);
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

    // The angle atan2(z_2, z_1) in [0, 2 pi) of z = Q^T x (the angle of the nearest point).
    mdlab::Matrix intrinsic_coords(const mdlab::Matrix& x) const override {
        require_prepared();
        const mdlab::Matrix z = q_.coords(x);
        mdlab::Matrix a = mdlab::Matrix::from_shape({mdlab::rows(x), 1});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) a(i, 0) = mdlab::angle_0_2pi(z(i, 1), z(i, 0));
        });
        return a;
    }

    // `resolution` equispaced angles theta_i = 2 pi i / n with weights p(u_i) / sum_j p(u_j):
    // the periodic trapezoidal rule for E f = int_0^1 f(x(2 pi u)) p(u) du, spectrally accurate
    // for smooth f and p (second order at the kinks of the irregular density).
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        if (resolution == 0) throw mdlab::InputError("circle: quadrature needs resolution >= 1", "resolution");
        mdlab::Quadrature q;
        q.nodes = mdlab::Matrix::from_shape({resolution, d_});
        q.weights = mdlab::Vector::from_shape({resolution});
        double total = 0.0;
        for (std::size_t i = 0; i < resolution; ++i) {
            const double u = static_cast<double>(i) / static_cast<double>(resolution);
            const double theta = two_pi * u;
            const double z[2] = {r_ * std::cos(theta), r_ * std::sin(theta)};
            q_.embed_row(z, mdlab::row(q.nodes, i));
            q.weights(i) = density_.pdf(u);
            total += q.weights(i);
        }
        for (std::size_t i = 0; i < resolution; ++i) q.weights(i) /= total;
        return q;
    }

    // T = Q (-sin theta, cos theta) with theta the angle of the nearest point (theta = 0 at the
    // centre, where every point of the circle is nearest).
    void tangent_bases(const mdlab::Matrix& points, mdlab::TangentBases& out) const override {
        require_prepared();
        if (mdlab::cols(points) != d_)
            throw mdlab::InputError("circle: tangent_bases: points have " + std::to_string(mdlab::cols(points)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_), "points");
        const std::size_t n = mdlab::rows(points);
        out = mdlab::TangentBases::from_shape({n, d_, 1});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[2], t[2];
            std::vector<double> x(d_);
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(points, i), z);
                const double nz = std::hypot(z[0], z[1]);
                if (nz > 0.0) {
                    t[0] = -z[1] / nz;
                    t[1] = z[0] / nz;
                } else {
                    t[0] = 0.0;
                    t[1] = 1.0;
                }
                q_.embed_row(t, x.data());
                for (std::size_t a = 0; a < d_; ++a) out(i, a, 0) = x[a];
            }
        });
    }

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("circle: prepare() must be called before use");
    }

    double r_;
    std::size_t d_;
    bool coordinate_;
    mdlab::CoordinateDensity density_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Circle)
