// manifold_distance: how far generated samples lie from the data manifold (SCIENCE.md §4,
// manifold fidelity): dist(y, M) = |y - proj_M(y)| through the manifold's exact projection,
// summarised by mean, median, 95th percentile and max. Given points R may stand in for M (input
// `reference`, as the dataset manifold does for a data file): dist(y, R) = the distance from y
// to its nearest row of R.
#include <cmath>
#include <string>

#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/stats.hpp>

namespace {

class ManifoldDistance : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("manifold_distance", "1.1.0",
                                 "distance of each sample to the data manifold (or to the nearest of given reference "
                                 "points): mean, median, 95th percentile, max")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold, "the data manifold M in R^D (or give `reference`)", false)
            .input("reference", mdlab::ValueKind::points,
                   "given points R (N x D) standing in for M: a sample's distance is to its nearest row of R "
                   "(instead of `manifold`)",
                   false);
    }

    explicit ManifoldDistance(const mdlab::Params&) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const bool given = inputs.has("reference");
        if (given == inputs.has("manifold"))
            throw mdlab::InputError(std::string("manifold_distance: ") +
                                        (given ? "give the manifold or reference points, not both"
                                               : "needs the manifold or reference points (input 'reference')"),
                                    given ? "reference" : "manifold");
        const mdlab::Matrix& y = *samples;
        const mdlab::Vector d = given ? distance_to_points(y, *inputs.points("reference")) : distance_to(y, inputs);
        ctx.progress(1.0);
        return {{"mean", mdlab::stats::mean(d)},
                {"median", mdlab::stats::median(d)},
                {"p95", mdlab::stats::quantile(d, 0.95)},
                {"max", mdlab::stats::max(d)}};
    }

private:
    static mdlab::Vector distance_to(const mdlab::Matrix& y, const mdlab::Inputs& inputs) {
        const auto manifold = inputs.manifold("manifold");
        if (mdlab::cols(y) != manifold->ambient_dim())
            throw mdlab::Error("manifold_distance: samples are " + std::to_string(mdlab::rows(y)) + " x " +
                               std::to_string(mdlab::cols(y)) + " but the manifold lives in R^" +
                               std::to_string(manifold->ambient_dim()));
        if (mdlab::rows(y) == 0) throw mdlab::Error("manifold_distance: samples is empty (0 rows)");
        for (std::size_t k = 0; k < y.size(); ++k)
            if (!std::isfinite(y.data()[k]))
                throw mdlab::Error("manifold_distance: row " + std::to_string(k / mdlab::cols(y)) +
                                   " of 'samples' is not finite");
        return manifold->distance(y);
    }

    static mdlab::Vector distance_to_points(const mdlab::Matrix& y, const mdlab::Matrix& r) {
        mdlab::require_points("manifold_distance", r, mdlab::cols(r), "reference");
        if (mdlab::cols(y) != mdlab::cols(r))
            throw mdlab::InputError("manifold_distance: 'samples' is " + mdlab::shape_text(y) + " but 'reference' is " +
                                        mdlab::shape_text(r) + " (the dimensions differ)",
                                    "samples");
        mdlab::require_points("manifold_distance", y, mdlab::cols(r), "samples");
        return mdlab::kernels::neighbour_distance(mdlab::kernels::nearest(y, r, 1), 0);
    }
};

}  // namespace

MDLAB_PLUGINS(ManifoldDistance)
