// For metrics that judge generated samples against mu_data: the same figures for a fresh draw of
// mu_data of as many points as the samples, reported as baseline_<figure>. A finite sample
// scores above 0 on most of these figures even when it comes from mu_data itself; the baseline
// is that score, what a perfect generator of this sample size reaches. Included by metrics only.
#pragma once
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include <tbb/parallel_invoke.h>

#include "mdlab/array.hpp"
#include "mdlab/components.hpp"
#include "mdlab/context.hpp"
#include "mdlab/error.hpp"

namespace mdlab {

// A fresh draw of mu_data of n points from the node's stream `stream`. The distance metrics
// draw from "baseline"; memorization, generalization and coverage from "fresh" (their names
// are kept: a stream's name seeds it, so renaming one would change the results).
inline Matrix fresh_sample(const Manifold& manifold, std::size_t n, Context& ctx,
                           const std::string& stream = "baseline") {
    return manifold.sample(n, ctx.stream(stream));
}

// The samples' figures and the baseline's, the latter named baseline_<name>. after: all the
// baseline figures follow all the samples' (w1, w2, baseline_w1, baseline_w2); paired: each
// follows its own (tv, baseline_tv, outside, baseline_outside). The order is the order of the
// columns of results.csv.
enum class BaselineOrder { after, paired };

inline Values beside_baseline(const Values& own, const Values& baseline, BaselineOrder order = BaselineOrder::after) {
    if (own.size() != baseline.size())
        throw Error("beside_baseline: " + std::to_string(own.size()) + " figures of the samples but " +
                    std::to_string(baseline.size()) + " of the baseline sample");
    Values out;
    out.reserve(2 * own.size());
    if (order == BaselineOrder::paired) {
        for (std::size_t i = 0; i < own.size(); ++i) {
            out.push_back(own[i]);
            out.emplace_back("baseline_" + baseline[i].first, baseline[i].second);
        }
    } else {
        out = own;
        for (const auto& [name, value] : baseline) out.emplace_back("baseline_" + name, value);
    }
    return out;
}

struct FreshBaseline {
    std::string metric;                       // the metric's name, for the cancellation message
    std::string stream = "baseline";          // the fresh sample's stream
    BaselineOrder order = BaselineOrder::after;
    double progress = 0.5;                    // reported once the samples' figures are done
    bool at_once = false;                     // both figures at the same time (tbb::parallel_invoke)
};

// figures(samples) beside figures(baseline), the baseline being a sample of mu_data (a fresh draw,
// or one the user gave). `figures` takes the points, and optionally a second argument, true for
// the baseline sample (for its messages); it must treat both alike, so that the baseline is the
// samples' own yardstick. With how.at_once the two figures are computed concurrently (worth it
// when each is one long serial solve): `figures` must then be safe to call from two threads, and
// progress is reported once both are done.
template <class Figures>
Values with_baseline_sample(const Matrix& samples, const Matrix& baseline_sample, Context& ctx,
                            const FreshBaseline& how, Figures&& figures) {
    const auto apply = [&](const Matrix& points, bool baseline) -> Values {
        if constexpr (std::is_invocable_v<Figures&, const Matrix&, bool>)
            return figures(points, baseline);
        else
            return figures(points);
    };
    Values own, baseline;
    if (how.at_once) {
        tbb::parallel_invoke([&] { own = apply(samples, false); }, [&] { baseline = apply(baseline_sample, true); });
        ctx.progress(how.progress);
    } else {
        own = apply(samples, false);
        if (ctx.cancelled()) throw Error(how.metric + ": cancelled");
        ctx.progress(how.progress);
        baseline = apply(baseline_sample, true);
    }
    return beside_baseline(own, baseline, how.order);
}

// figures(samples) beside figures(a fresh sample of as many points as the samples), as
// with_baseline_sample. A metric that treats the samples first (projects them, keeps the first
// rows) passes the treated points: the baseline has as many points as those.
template <class Figures>
Values with_fresh_baseline(const Matrix& samples, const Manifold& manifold, Context& ctx, const FreshBaseline& how,
                           Figures&& figures) {
    const Matrix fresh = fresh_sample(manifold, rows(samples), ctx, how.stream);
    return with_baseline_sample(samples, fresh, ctx, how, std::forward<Figures>(figures));
}

}  // namespace mdlab
