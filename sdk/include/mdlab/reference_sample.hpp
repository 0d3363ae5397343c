// For metrics that compare generated samples with a sample of mu_data: that sample is given (the
// optional `reference` input, points) or drawn from the optional `manifold` input; at least one
// of the two is connected. A given reference replaces the draw; the fresh-sample baseline needs
// the manifold, and without it the metric reports its figures alone. Included by metrics only.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "mdlab/components.hpp"
#include "mdlab/fresh_baseline.hpp"
#include "mdlab/point_checks.hpp"

namespace mdlab {

// Refuses a metric node with neither a `manifold` nor a `reference` input connected.
inline void require_manifold_or_reference(const Inputs& inputs, const std::string& metric) {
    if (!inputs.has("manifold") && !inputs.has("reference"))
        throw InputError(metric + ": needs the manifold (to draw a sample of mu_data) or a given sample of mu_data "
                                  "(input 'reference')",
                         "manifold");
}

class ReferenceSample {
public:
    // `metric`: the plugin's name, for messages.
    ReferenceSample(const Inputs& inputs, std::string metric) : metric_(std::move(metric)) {
        require_manifold_or_reference(inputs, metric_);
        if (inputs.has("manifold")) manifold_ = inputs.manifold("manifold");
        if (inputs.has("reference")) given_ = inputs.points("reference");
    }

    // The manifold, or null when only a reference is given.
    const Manifold* manifold() const { return manifold_.get(); }
    bool given() const { return given_ != nullptr; }
    // D: the manifold's ambient dimension, else the given reference's number of columns.
    std::size_t dim() const { return manifold_ ? manifold_->ambient_dim() : cols(*given_); }

    // The samples' checks of require_points; without the manifold their dimension must be the
    // given reference's, and the message says so.
    void require_samples(const Matrix& y, std::size_t min_rows = 1, const std::string& why = "") const {
        if (!manifold_ && cols(y) != dim())
            throw InputError(metric_ + ": 'samples' is " + shape_text(y) + " but the given 'reference' is " +
                                 shape_text(*given_) + " (the dimensions differ)",
                             "samples");
        require_points(metric_, y, dim(), "samples", min_rows, why);
    }

    // The given reference (checked: D columns, at least `min_rows` rows, finite), or `n` points
    // drawn from the manifold with the node's stream `stream`.
    Matrix points(std::size_t n, Context& ctx, std::size_t min_rows = 1, const std::string& stream = "reference") const {
        if (!given_) return manifold_->sample(n, ctx.stream(stream));
        require_points(metric_, *given_, dim(), "reference", min_rows,
                       "the metric needs at least " + std::to_string(min_rows));
        return *given_;
    }

    // Refuses a parameter that sizes a drawn reference when the reference is given (it has its
    // own size): `set` says whether the parameter differs from its default.
    void refuse_for_given(const std::string& key, bool set) const {
        if (given_ && set)
            throw InputError(metric_ + ": " + key + " sizes a drawn reference; a given reference sets its own size",
                             key);
    }

    // The samples' figures beside the fresh-sample baseline (`how`) when there is a manifold;
    // the samples' figures alone otherwise.
    template <class Figures>
    Values with_baseline(const Matrix& samples, Context& ctx, const FreshBaseline& how, Figures&& figures) const {
        if (manifold_) return with_fresh_baseline(samples, *manifold_, ctx, how, std::forward<Figures>(figures));
        if constexpr (std::is_invocable_v<Figures&, const Matrix&, bool>)
            return figures(samples, false);
        else
            return figures(samples);
    }

private:
    std::string metric_;
    std::shared_ptr<const Manifold> manifold_;
    std::shared_ptr<const Matrix> given_;
};

// For metrics whose only use of mu_data's sample is the baseline (memorization, generalization):
// figures(samples) beside figures(the baseline sample), that sample being the given `reference`
// input when connected (all its rows, checked to live in R^d), else a fresh draw of as many points
// as the samples from the `manifold` input (how.stream); one of the two must be connected.
template <class Figures>
Values with_given_or_fresh_baseline(const Inputs& inputs, const std::string& metric, std::size_t d,
                                    const Matrix& samples, Context& ctx, const FreshBaseline& how, Figures&& figures) {
    if (inputs.has("reference")) {
        const auto given = inputs.points("reference");
        require_points(metric, *given, d, "reference");
        return with_baseline_sample(samples, *given, ctx, how, std::forward<Figures>(figures));
    }
    require_manifold_or_reference(inputs, metric);
    return with_fresh_baseline(samples, *inputs.manifold("manifold"), ctx, how, std::forward<Figures>(figures));
}

}  // namespace mdlab
