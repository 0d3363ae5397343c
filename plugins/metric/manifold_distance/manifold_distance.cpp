// manifold_distance: how far generated samples lie from the data manifold (SCIENCE.md §4,
// manifold fidelity): dist(y, M) = |y - proj_M(y)| through the manifold's exact projection,
// summarised by mean, median, 95th percentile and max.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>
#include <mdlab/stats.hpp>

namespace {

class ManifoldDistance : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("manifold_distance", "1.0.0",
                                 "distance of each sample to the data manifold: mean, median, 95th percentile, max")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold, "the data manifold M in R^D");
    }

    explicit ManifoldDistance(const mdlab::Params&) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto manifold = inputs.manifold("manifold");
        const mdlab::Matrix& y = *samples;
        if (mdlab::cols(y) != manifold->ambient_dim())
            throw mdlab::Error("manifold_distance: samples are " + std::to_string(mdlab::rows(y)) + " x " +
                               std::to_string(mdlab::cols(y)) + " but the manifold lives in R^" +
                               std::to_string(manifold->ambient_dim()));
        if (mdlab::rows(y) == 0) throw mdlab::Error("manifold_distance: samples is empty (0 rows)");
        for (std::size_t k = 0; k < y.size(); ++k)
            if (!std::isfinite(y.data()[k]))
                throw mdlab::Error("manifold_distance: row " + std::to_string(k / mdlab::cols(y)) +
                                   " of 'samples' is not finite");

        const mdlab::Vector d = manifold->distance(y);
        ctx.progress(1.0);
        return {{"mean", mdlab::stats::mean(d)},
                {"median", mdlab::stats::median(d)},
                {"p95", mdlab::stats::quantile(d, 0.95)},
                {"max", mdlab::stats::max(d)}};
    }
};

}  // namespace

MDLAB_PLUGINS(ManifoldDistance)
