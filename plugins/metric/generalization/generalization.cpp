// generalization: the share of generated samples that are both on the data manifold and new
// (SCIENCE.md §4): sample y counts when
//   near:  dist(y, M) < delta                      (manifold->distance, the exact projection)
//   novel: not memorised, i.e. d1 >= ratio * d2 and d1 > 0,
// d1, d2 the distances to its nearest and second-nearest training point (the memorization
// metric's ratio test, the same default ratio 1/3). Reported: fraction (near and novel),
// near_fraction, novel_fraction, and the same three figures for a fresh sample of mu_data of as
// many points (stream "fresh", as memorization): the scores of a perfect generaliser. The
// baseline novel_fraction is well below 1 on low-dimensional manifolds (about 2/3 on a circle),
// and its near_fraction is below 1 when mu_data carries normal noise, so judge against it. The
// baseline sample of mu_data may be given instead of drawn (input `reference`, all its rows).
// delta is an absolute distance in the ambient units (the built-in manifolds have unit scale,
// e.g. radius 1).
#include <cmath>
#include <string>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>

namespace {

// fraction (near and novel), near_fraction, novel_fraction of the points y.
mdlab::Values figures(const mdlab::Matrix& y, const mdlab::Matrix& data, const mdlab::Manifold& manifold, double delta,
                double ratio) {
    const std::size_t m = mdlab::rows(y);
    const mdlab::Vector dist = manifold.distance(y);
    const auto nn = mdlab::kernels::nearest(y, data, 2);
    std::size_t both = 0, near = 0, novel = 0;
    for (std::size_t i = 0; i < m; ++i) {
        const double d1 = nn.distance(i, 0), d2 = nn.distance(i, 1);
        const bool is_near = dist(i) < delta;
        const bool is_novel = !(d1 == 0.0 || d1 < ratio * d2);
        near += is_near;
        novel += is_novel;
        both += is_near && is_novel;
    }
    const double dm = static_cast<double>(m);
    return {{"fraction", static_cast<double>(both) / dm},
            {"near_fraction", static_cast<double>(near) / dm},
            {"novel_fraction", static_cast<double>(novel) / dm}};
}

class Generalization : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("generalization", "1.1.0",
                                 "fraction of samples within delta of the manifold and not memorised (ratio test), "
                                 "beside the fresh-sample baseline of a perfect generaliser")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("data", mdlab::ValueKind::points, "training set X (N x D, N >= 2)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: distance to M and the fresh baseline sample of mu_data (unless `reference` is "
                   "given)")
            .input("reference", mdlab::ValueKind::points,
                   "a given sample of mu_data for the baseline figures instead of a fresh draw (any number of points)",
                   false)
            .param(mdlab::real("delta", 0.05,
                               "a sample is near M when its distance to M is below delta (absolute, ambient units)")
                       .greater_than(0.0))
            .param(mdlab::real("ratio", 1.0 / 3.0, "a sample is memorised when d1 / d2 < ratio (as memorization)")
                       .greater_than(0.0)
                       .less_than(1.0));
    }

    explicit Generalization(const mdlab::Params& p) : delta_(p.real("delta")), ratio_(p.real("ratio")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto data = inputs.points("data");
        const auto manifold = inputs.manifold("manifold");
        const mdlab::Matrix& y = *samples;
        const mdlab::Matrix& x = *data;
        const std::size_t d = manifold->ambient_dim();
        mdlab::require_points("generalization", y, d, "samples", 0);
        mdlab::require_points("generalization", x, d, "data", 0);
        const std::size_t m = mdlab::rows(y);
        if (m == 0) throw mdlab::InputError("generalization: 'samples' is empty (0 rows)", "samples");
        if (mdlab::rows(x) < 2)
            throw mdlab::InputError("generalization: 'data' has " + std::to_string(mdlab::rows(x)) +
                                        " rows; the ratio test needs each sample's two nearest training points",
                                    "data");

        mdlab::Values v = mdlab::with_given_or_fresh_baseline(
            inputs, "generalization", d, y, ctx, {"generalization", "fresh"},
            [&](const mdlab::Matrix& points) { return figures(points, x, *manifold, delta_, ratio_); });
        ctx.progress(1.0);
        v.emplace_back("n_samples", static_cast<double>(m));
        return v;
    }

private:
    double delta_, ratio_;
};

}  // namespace

MDLAB_PLUGINS(Generalization)
