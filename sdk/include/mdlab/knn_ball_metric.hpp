// The plumbing shared by the metrics built on k-nearest-neighbour balls of a sample of mu_data
// (precision_recall, density_coverage; the balls are mdlab/kernels/knn_balls.hpp): their `k` and
// `reference_size` parameters, the reference sample (given, or drawn from the manifold: as many
// points as the samples by default, since the figures depend on both sizes), the reference's
// k-NN radii, and the fresh-sample baseline (a fresh draw of as many points as the samples,
// scored against the same reference and radii) when the manifold is connected.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "mdlab/kernels/knn_balls.hpp"
#include "mdlab/kernels/nearest.hpp"
#include "mdlab/params.hpp"
#include "mdlab/reference_sample.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

// The spec of such a metric: its ports (`samples`, optional `manifold` and `reference`) and its
// parameters `k` (default `default_k`) and `reference_size`.
inline PluginSpec knn_ball_metric_spec(const std::string& name, const std::string& version, const std::string& summary,
                                       const std::string& samples_doc, std::int64_t default_k, const std::string& k_doc) {
    return PluginSpec(name, version, summary)
        .input("samples", ValueKind::points, samples_doc)
        .input("manifold", ValueKind::manifold,
               "the data manifold; draws the reference sample (unless `reference` is given) and the baseline", false)
        .input("reference", ValueKind::points,
               "a given reference sample X of mu_data (N x D, N >= k + 1) instead of a fresh draw; without `manifold` "
               "no baseline is reported",
               false)
        .param(integer("k", default_k, k_doc).at_least(1).at_most(static_cast<double>(kernels::max_neighbours)))
        .param(integer("reference_size", 0,
                       "size of the reference sample drawn from the manifold (0: as many as the samples; the figures "
                       "are biased differently when the sizes differ)")
                   .at_least(0));
}

// figures(samples, reference, radii) -> Values, for the samples and (with a manifold) for a fresh
// sample of as many points, with the baseline's figures after the samples'; then n_samples and
// n_reference. `min_samples`: the fewest samples the figures accept (k + 1 when they need the
// samples' own k-NN radii).
template <class Figures>
Values knn_ball_metric(const Inputs& inputs, Context& ctx, const std::string& metric, std::size_t k,
                       std::size_t reference_size, std::size_t min_samples, Figures&& figures) {
    const auto samples = inputs.points("samples");
    const ReferenceSample reference(inputs, metric);
    reference.refuse_for_given("reference_size", reference_size != 0);
    const Matrix& y = *samples;
    reference.require_samples(y, min_samples,
                              "the metric needs at least " + std::to_string(min_samples) + " with k = " +
                                  std::to_string(k));
    const std::size_t drawn = reference_size == 0 ? rows(y) : reference_size;
    if (!reference.given() && drawn < k + 1)
        throw InputError(metric + ": reference_size = " + std::to_string(drawn) + "; the k-NN radii with k = " +
                             std::to_string(k) + " need at least k + 1 = " + std::to_string(k + 1) + " reference points",
                         "reference_size");
    const Matrix ref = reference.points(drawn, ctx, k + 1);
    const Vector radii = kernels::knn_radii(ref, k);
    ctx.progress(0.2);
    const FreshBaseline how{metric, "baseline", BaselineOrder::after, 0.6};
    Values v = reference.with_baseline(y, ctx, how, [&](const Matrix& p) { return figures(p, ref, radii); });
    v.emplace_back("n_samples", static_cast<double>(rows(y)));
    v.emplace_back("n_reference", static_cast<double>(rows(ref)));
    return v;
}

}  // namespace mdlab
