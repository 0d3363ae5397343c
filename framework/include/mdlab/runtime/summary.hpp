// The summary over seeds: metric values grouped by every sweep axis except the seed, with
// mean, standard error and a 95% Student-t confidence interval per group, node and value.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/run_record.hpp"

namespace mdlab::runtime {

// Mean, standard error (sample sd / sqrt(n)) and 95% interval of the finite values of a sample.
// se and the interval are NaN when n < 2; everything is NaN when n = 0.
struct SampleStats {
    std::size_t n = 0;
    double mean, se, ci_low, ci_high;
};
SampleStats sample_stats(const std::vector<double>& values);

struct SummaryRow {
    std::vector<std::pair<std::string, std::string>> axes;  // every non-seed axis: key -> value as text
    std::string node, plugin, value;
    SampleStats stats;
    std::vector<std::pair<std::string, double>> cost;  // the group's mean of each cost column (nfe, wall_s)
};

// The axes a summary groups by: every axis except the seed, in axes order.
std::vector<std::string> non_seed_axes(const RunRecord& run);
// A sweep value as text, as results.csv writes it; empty when the cell has no such axis.
std::string axis_text(const RunCell& cell, const std::string& key);

// Groups in order of first appearance, then metric nodes in pipeline order, then value names
// in order of first appearance. Only metric nodes enter (sampler nodes, in a run without
// metrics); failed nodes contribute no values. Each row carries its group's cost.
std::vector<SummaryRow> summarize(const RunRecord& run);

// axes..., node, plugin, value, n, mean, se, ci_low, ci_high, then the cost columns of
// results.csv (means over the group). Numbers in shortest round-trip form, empty when undefined,
// so the file is byte-identical for any thread count but for its wall-time (*wall_s) columns.
std::string summary_csv(const RunRecord& run, const std::vector<SummaryRow>& rows);

// A number as the CSV files write it: shortest round-trip form, empty for NaN.
std::string csv_number(double v);

}  // namespace mdlab::runtime
