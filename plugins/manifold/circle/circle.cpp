// The circle of radius r in a random 2-plane of R^D, with the uniform density on the angle.
#include <cmath>
#include <cstddef>
#include <string>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

class Circle : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("circle", "1.0.0",
                                 "circle of radius r in a random isometric 2-plane of R^D, uniform in the angle")
            .param(mdlab::real("radius", 1.0, "radius r of the circle").greater_than(0.0))
            .param(mdlab::integer("ambient_dim", 2, "ambient dimension D").at_least(2));
    }

    explicit Circle(const mdlab::Params& p)
        : r_(p.real("radius")), d_(static_cast<std::size_t>(p.integer("ambient_dim"))) {}

    // Q (D x 2, orthonormal columns) from the node's "embedding" stream: depends only on the
    // pipeline seed and the node id.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, 2, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 1; }

    // x = Q r (cos theta, sin theta), theta ~ U[0, 2 pi).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        for (std::size_t i = 0; i < count; ++i) {
            const double theta = two_pi * rng.uniform();
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

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("circle: prepare() must be called before use");
    }

    double r_;
    std::size_t d_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Circle)
