// The round sphere S^k of radius r in a random isometric (k+1)-subspace of R^D, with the
// uniform (surface) density.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

class Sphere : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("sphere", "1.0.0",
                                 "sphere S^k of radius r in a random isometric (k+1)-subspace of R^D, uniform density")
            .param(mdlab::integer("k", 2, "intrinsic dimension k of S^k").at_least(1))
            .param(mdlab::integer("ambient_dim", 3, "ambient dimension D (at least k + 1)").at_least(2))
            .param(mdlab::real("radius", 1.0, "radius r of the sphere").greater_than(0.0));
    }

    explicit Sphere(const mdlab::Params& p)
        : k_(static_cast<std::size_t>(p.integer("k"))),
          d_(static_cast<std::size_t>(p.integer("ambient_dim"))),
          r_(p.real("radius")) {
        if (d_ < k_ + 1)
            throw mdlab::InputError("sphere: ambient_dim = " + std::to_string(d_) + " is too small for S^" +
                                        std::to_string(k_) + ", which needs ambient_dim >= k + 1 = " +
                                        std::to_string(k_ + 1),
                                    "ambient_dim");
    }

    // Q (D x (k+1), orthonormal columns) from the node's "embedding" stream: depends only on
    // the pipeline seed and the node id.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, k_ + 1, rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return k_; }

    // x = Q r g / |g| with g ~ N(0, I_{k+1}): uniform on the sphere by rotation invariance.
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        std::vector<double> g(k_ + 1);
        for (std::size_t i = 0; i < count; ++i) {
            double n = 0.0;
            do {  // |g| = 0 has probability zero; redraw rather than divide by it
                for (double& v : g) v = rng.normal();
                n = mdlab::Isometry::norm(g);
            } while (!(n > 0.0));
            for (double& v : g) v *= r_ / n;
            q_.embed_row(g.data(), out + i * d_);
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

private:
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("sphere: prepare() must be called before use");
    }

    std::size_t k_, d_;
    double r_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Sphere)
