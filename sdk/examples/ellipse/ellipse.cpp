// Example manifold plugin: the ellipse (u/a)^2 + (v/b)^2 = 1 in a random isometric 2-plane of R^D
// (or the (x_1, x_2) plane), x = Q (a cos theta, b sin theta), with theta uniform on [0, 2 pi):
// mu_data is the push-forward of the uniform law of theta, not the uniform law of arc length
// (it is denser near the ends of the major axis).
// Implemented: sampling, the exact nearest point (nearest_on_ellipse.hpp; the distance is
// Manifold's default |x - project(x)|), theta as the intrinsic coordinate, a quadrature rule
// (the oracle score integrates over it) and tangent spaces (the `noise` option draws along the
// normals with them). Left out: noised_score, the closed-form score of alpha x0 + sigma eps: it
// is an integral over the ellipse with no closed form, so the oracle uses the quadrature.
#include <cmath>
#include <cstddef>
#include <string>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "nearest_on_ellipse.hpp"

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

class Ellipse : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("ellipse", "1.0.0",
                                 "ellipse with semi-axes a >= b in a random isometric 2-plane of R^D, theta uniform")
            .param(mdlab::real("a", 2.0, "semi-major axis a (along the plane's first direction)").greater_than(0.0))
            .param(mdlab::real("b", 1.0, "semi-minor axis b (at most a)").greater_than(0.0))
            .param(mdlab::integer("ambient_dim", 2, "ambient dimension D").at_least(2))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::choice("embedding", "random", {"random", "coordinate"},
                                 "the ellipse's plane: a random isometric 2-plane, or the (x_1, x_2) coordinate plane"))
            .param(mdlab::normal_noise_param());
    }

    explicit Ellipse(const mdlab::Params& p)
        : a_(p.real("a")), b_(p.real("b")), d_(p.count("ambient_dim")),
          coordinate_(p.string("embedding") == "coordinate") {
        // A check that involves two parameters belongs in the constructor: validate reports it.
        if (b_ > a_)
            throw mdlab::InputError("ellipse: b = " + std::to_string(b_) + " exceeds a = " + std::to_string(a_) +
                                        " (a is the semi-major axis: swap them)",
                                    "b");
        set_normal_noise(p.real("noise"));
    }

    // Q (D x 2) from the node's own "embedding" stream: the same plane for the same seed and node id.
    void prepare(mdlab::Context& ctx) override {
        if (coordinate_) {
            q_ = mdlab::Isometry::coordinate(d_, 2);
        } else {
            mdlab::Rng rng = ctx.stream("embedding").chunk(0);
            q_ = mdlab::Isometry::random(d_, 2, rng);
        }
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 1; }

    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        for (std::size_t i = 0; i < count; ++i) embed_angle(two_pi * rng.uniform(), out + i * d_);
    }

    mdlab::Matrix project(const mdlab::Matrix& x) const override {
        mdlab::Matrix p = mdlab::Matrix::from_shape({mdlab::rows(x), d_});
        for_nearest(x, [&](std::size_t i, ellipse::PlanePoint n) {
            const double z[2] = {n.u, n.v};
            q_.embed_row(z, mdlab::row(p, i));
        });
        return p;
    }

    // theta in [0, 2 pi) of the nearest point.
    mdlab::Matrix intrinsic_coords(const mdlab::Matrix& x) const override {
        mdlab::Matrix theta = mdlab::Matrix::from_shape({mdlab::rows(x), 1});
        for_nearest(x, [&](std::size_t i, ellipse::PlanePoint n) {
            theta(i, 0) = mdlab::angle_0_2pi(n.v / b_, n.u / a_);  // (u, v) = (a cos theta, b sin theta)
        });
        return theta;
    }

    // theta_i = 2 pi i / R with weights 1 / R: the periodic trapezoidal rule for the uniform law of
    // theta, spectrally accurate for smooth integrands.
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        if (resolution == 0) throw mdlab::InputError("ellipse: quadrature needs resolution >= 1", "resolution");
        mdlab::Quadrature q{mdlab::Matrix::from_shape({resolution, d_}), mdlab::Vector::from_shape({resolution})};
        for (std::size_t i = 0; i < resolution; ++i) {
            embed_angle(two_pi * static_cast<double>(i) / static_cast<double>(resolution), mdlab::row(q.nodes, i));
            q.weights(i) = 1.0 / static_cast<double>(resolution);
        }
        return q;
    }

    // The unit tangent at the nearest point (u, v): perpendicular to the normal (u / a^2, v / b^2),
    // so along (-a^2 v, b^2 u), embedded by Q.
    void tangent_bases(const mdlab::Matrix& points, mdlab::TangentBases& out) const override {
        out = mdlab::TangentBases::from_shape({mdlab::rows(points), d_, 1});
        for_nearest(points, [&](std::size_t i, ellipse::PlanePoint n) {
            const double t[2] = {-a_ * a_ * n.v, b_ * b_ * n.u}, len = std::hypot(t[0], t[1]);
            const double unit[2] = {t[0] / len, t[1] / len};
            q_.embed_row(unit, &out(i, 0, 0));  // out(i, ., 0) is contiguous: the basis has k = 1 column
        });
    }

private:
    // The embedding, once prepare() has drawn it.
    const mdlab::Isometry& plane() const {
        if (q_.empty()) throw mdlab::Error("ellipse: prepare() must be called before use");
        return q_;
    }

    void embed_angle(double theta, double* out) const {
        const double z[2] = {a_ * std::cos(theta), b_ * std::sin(theta)};
        plane().embed_row(z, out);
    }

    // Calls f(i, nearest point in plane coordinates) for every row of x, in parallel over fixed
    // chunks of rows (each row is independent: the result does not depend on the thread count).
    template <class F>
    void for_nearest(const mdlab::Matrix& x, F f) const {
        const mdlab::Isometry& q = plane();
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("ellipse: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                double z[2];
                q.coords_row(mdlab::row(x, i), z);  // the nearest point of the plane, then of the ellipse in it
                f(i, ellipse::nearest(a_, b_, z[0], z[1]));
            }
        });
    }

    double a_, b_;
    std::size_t d_;
    bool coordinate_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Ellipse)
