// The comparison view of a run: each metric value against a swept axis, one line per
// alternative (per combination of the alternatives axes; one line without alternatives), the
// mean and 95% Student-t interval over seeds at every axis value, and the value's fresh-sample
// baseline (baseline_<value>, as the metrics report it) as a reference. Built from the summary
// rows, so a plot and its table show exactly what summary.csv holds.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/run_record.hpp"
#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

struct ComparisonPoint {
    std::string x_text;  // the axis value as results.csv writes it
    double x = 0.0;      // the number (numeric axis) or the position among the axis values
    SampleStats stats;
};

struct ComparisonLine {
    std::string label;                    // "euler_maruyama", "M=circle, score=tangent", or "" for the one line
    std::vector<ComparisonPoint> points;  // in axis order; values the line lacks are absent
};

struct ComparisonPlot {
    std::string node, value;             // y: node.value
    std::string x;                       // the swept key on the x axis
    std::vector<std::string> x_partners;  // keys zipped with x (they vary with it)
    std::vector<std::string> x_values;    // every value of x, in axis order, as text
    std::vector<double> x_positions;      // and where it sits on the axis (ComparisonPoint::x)
    bool x_numeric = false;               // every x value is a number (else: categories, evenly spaced)
    bool x_log = false, y_log = false;
    std::vector<std::string> line_keys;                        // the keys whose values tell the lines apart
    std::vector<std::pair<std::string, std::string>> facet;   // the other non-seed axes, fixed in this plot
    std::vector<ComparisonLine> lines;
    // The fresh-sample reference at each x: mean of the lines' baseline means, interval from the
    // lowest ci_low to the highest ci_high (the lines' baselines coincide when they draw alike).
    std::string baseline_value;  // "baseline_<value>"; empty when the node reports none
    std::vector<ComparisonPoint> baseline;
    bool declared = false;  // from the pipeline's "plots"

    std::string metric() const { return node + "." + value; }
};

// A metric value left out of the default plots because it is the same number in every cell.
struct ConstantValue {
    std::string node, value;
    double number = 0.0;
};

struct ComparisonView {
    std::vector<ComparisonPlot> plots;      // declared ones first, then the default ones
    std::vector<ConstantValue> constants;   // not plotted by default
    std::vector<std::string> missing;       // declared y values no node reported ("node.value")
};

// Declared plots (run.plots), then one default plot per metric value (and per cost column that
// repeats run to run, such as a sampler's nfe; not the wall times) (baseline_* values that
// have their own value are drawn as its reference instead), per x axis (each non-seed,
// non-alternatives axis; a zip group once, by its first key) and per combination of the other
// non-seed, non-line axes, ordered by facet first (every value and axis in its first facet,
// then in its second, ...). Scales: "auto" is log for an axis of positive, log-spaced numbers
// (x) or for means spanning two decades or more (y).
ComparisonView comparison_view(const RunRecord& run, const std::vector<SummaryRow>& summary);

// The plot as inline SVG: <svg data-plot="comparison" data-lines=N data-x-scale data-y-scale
// data-baseline>, per line a path.band (when it has intervals), a path.line and circle.mean
// dots, each path with data-line="label"; the baseline as path.baseline-band and path.baseline.
std::string comparison_svg(const ComparisonPlot& plot);

// Positive numbers closer to evenly spaced in log than in linear, spanning at least a factor 4
// (three or more values: 50, 100, 200, 400 or 5, 10, 20, 50, 100), or a factor 100 (two values).
bool log_spaced(std::vector<double> values);

}  // namespace mdlab::runtime
