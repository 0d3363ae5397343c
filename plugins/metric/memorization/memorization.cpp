// memorization: how many generated samples are copies of training points (SCIENCE.md §4).
//
// For each sample y, d1 and d2 are the distances to its nearest and second-nearest training
// point; y is memorised when d1 / d2 < ratio (an exact copy, d1 = 0, always counts). Reported
// with the same figures for a fresh draw of mu_data of the same size: the baseline of a perfect
// generaliser, which is far from zero on low-dimensional manifolds. That baseline sample of
// mu_data is drawn from the manifold, or given (input `reference`, all its rows).
#include <cmath>
#include <string>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>
#include <mdlab/stats.hpp>

namespace {

void require_finite(const mdlab::Matrix& m, const std::string& port) {
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k]))
            throw mdlab::Error("memorization: row " + std::to_string(k / mdlab::cols(m)) + " of '" + port +
                               "' is not finite");
}

// fraction: the share of points with d1 < ratio * d2 (or d1 = 0); mean_d1: the mean d1 / scale.
mdlab::Values figures(const mdlab::Matrix& points, const mdlab::Matrix& data, double ratio, double scale) {
    const auto nn = mdlab::kernels::nearest(points, data, 2);
    const std::size_t m = mdlab::rows(points);
    std::size_t memorised = 0;
    mdlab::Vector d1 = mdlab::Vector::from_shape({m});
    for (std::size_t i = 0; i < m; ++i) {
        const double a = nn.distance(i, 0), b = nn.distance(i, 1);
        d1(i) = a;
        if (a == 0.0 || a < ratio * b) ++memorised;
    }
    return {{"fraction", static_cast<double>(memorised) / static_cast<double>(m)},
            {"mean_d1", mdlab::stats::mean(d1) / scale}};
}

class Memorization : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("memorization", "1.1.0",
                                 "fraction of samples that copy a training point (nearest / second-nearest "
                                 "distance ratio test), beside the fresh-sample baseline of a perfect generaliser")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("data", mdlab::ValueKind::points, "training set X (N x D, N >= 3)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: draws the fresh baseline sample of mu_data (unless `reference` is given) and "
                   "projects the samples (project = true)",
                   false)
            .input("reference", mdlab::ValueKind::points,
                   "a given sample of mu_data for the baseline figures instead of a fresh draw (any number of points)",
                   false)
            .param(mdlab::real("ratio", 1.0 / 3.0, "a sample is memorised when d1 / d2 < ratio")
                       .greater_than(0.0)
                       .less_than(1.0))
            .param(mdlab::boolean("project", false,
                                  "project the samples onto the manifold first, so that a sample off M by more than "
                                  "the training spacing is judged by where it lies along M (the ratio test in R^D "
                                  "under-counts such samples); mean_d1 is then measured from the projected samples too"));
    }

    explicit Memorization(const mdlab::Params& p) : ratio_(p.real("ratio")), project_(p.boolean("project")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto data = inputs.points("data");
        mdlab::require_manifold_or_reference(inputs, "memorization");
        const auto manifold = inputs.has("manifold") ? inputs.manifold("manifold") : nullptr;
        const mdlab::Matrix& y = *samples;
        const mdlab::Matrix& x = *data;

        if (mdlab::cols(y) != mdlab::cols(x))
            throw mdlab::Error("memorization: samples are " + mdlab::shape_text(y) + " but data is " + mdlab::shape_text(x) +
                               " (the dimensions differ)");
        if (project_ && !manifold)
            throw mdlab::InputError("memorization: project = true needs the manifold (input 'manifold')", "project");
        if (manifold && manifold->ambient_dim() != mdlab::cols(x))
            throw mdlab::Error("memorization: data is " + mdlab::shape_text(x) + " but the manifold lives in R^" +
                               std::to_string(manifold->ambient_dim()));
        const std::size_t n = mdlab::rows(x), m = mdlab::rows(y);
        if (n < 3)
            throw mdlab::Error("memorization needs at least 3 training points, got " + std::to_string(n) +
                               ": the ratio test uses each sample's two nearest training points, and the "
                               "median nearest-neighbour distance within the training set needs more than one pair");
        if (m == 0) throw mdlab::Error("memorization: samples is empty (0 rows)");
        require_finite(y, "samples");
        require_finite(x, "data");

        // Scale: the median distance from a training point to its nearest other training point.
        const double scale = mdlab::stats::median(mdlab::kernels::neighbour_distance(mdlab::kernels::nearest_within(x, 1), 0));
        if (!(scale > 0.0))
            throw mdlab::Error("memorization: the median nearest-neighbour distance within the training set is 0 "
                               "(at least half of its " + std::to_string(n) +
                               " points have an exact duplicate), so mean_d1 cannot be normalised");
        if (ctx.cancelled()) throw mdlab::Error("memorization: cancelled");
        ctx.progress(0.1);

        // Off-manifold offsets add to d1 and d2 alike and push the ratio towards 1; projected,
        // the samples are compared with the training points along M, as the baseline is.
        mdlab::Values v = mdlab::with_given_or_fresh_baseline(
            inputs, "memorization", mdlab::cols(x), project_ ? manifold->project(y) : y, ctx, {"memorization", "fresh"},
            [&](const mdlab::Matrix& points) { return figures(points, x, ratio_, scale); });
        ctx.progress(1.0);
        v.emplace_back("n_samples", static_cast<double>(m));
        return v;
    }

private:
    double ratio_;
    bool project_;
};

}  // namespace

MDLAB_PLUGINS(Memorization)
