// Rate fits: the slope of log(metric) against log(parameter) over a swept size parameter
// (N, steps, bandwidth), by ordinary least squares, with a 95% Student-t interval.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/run_record.hpp"

namespace mdlab::runtime {

// OLS fit v = intercept + slope * u. se is the slope's standard error; the interval uses
// t_{0.975, n-2}. Needs n >= 3 points and two distinct u values (otherwise all NaN but n).
struct LineFit {
    std::size_t n = 0;
    double slope, se, ci_low, ci_high, intercept, r2;
};
LineFit fit_line(const std::vector<double>& u, const std::vector<double>& v);

// One fit: a metric value against a sweep key, within one group of cells that agree on every
// other non-seed axis (a zip group counts as one axis). Every seed's point enters.
struct RateFit {
    std::string node, value, over;
    std::vector<std::pair<std::string, std::string>> group;  // the other axes: key -> value text
    std::vector<std::pair<std::string, double>> reference;   // declared reference exponents
    std::string status;  // ok | unknown_axis | not_numeric | unknown_metric | non_positive | too_few_points
    std::string reason;  // why there is no fit, or which points were left out
    std::vector<double> x, y;  // the points fitted (or, when not fitted, the points found)
    LineFit fit;               // of log y on log x; set when status is ok

    std::string metric() const { return node + "." + value; }
    bool ok() const { return status == "ok"; }
};

// The declared rates (the pipeline's "rates"), one entry per group (a single entry with the
// status when the metric or the axis is not in the run). Nothing is fitted that was not
// declared: a power law drawn through every metric misleads more than it shows.
std::vector<RateFit> fit_rates(const RunRecord& run);

// metric, over, the non-seed axes (empty for `over` and its zip partners), source (always
// "declared"; the column is kept for readers of earlier files), status, n, slope, se, ci_low, ci_high, intercept, r2, reference
// ("name=exponent;..."), reason.
std::string rates_csv(const RunRecord& run, const std::vector<RateFit>& fits);

// The fit's group as "key=value, ...".
std::string group_text(const RateFit& fit);

// A few lines for the terminal, then a blank line; empty when there are no fits.
std::string rates_text(const std::vector<RateFit>& fits);

}  // namespace mdlab::runtime
