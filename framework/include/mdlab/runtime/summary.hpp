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

// The summary laid out as the report and the terminal show it: per node a table whose rows are
// the groups (the non-seed axes' values) and whose columns are the node's values.
struct SummaryTable {
    std::string node;
    std::vector<std::string> plugins;       // every plugin the node ran as (alternatives: several)
    std::vector<std::string> axes, values;  // column names
    struct Row {
        std::vector<std::string> axes;  // the group's axis values
        std::size_t n = 0;              // the most seeds any value of the row has
        std::vector<SampleStats> stats;  // by value; n = 0 and NaN where the group lacks the value
    };
    std::vector<Row> rows;
};
std::vector<SummaryTable> summary_tables(const RunRecord& run, const std::vector<SummaryRow>& rows);

// "mean <plus_minus> half-width of the 95% interval": the half-width to two significant digits
// and the mean to the same decimal place (53 ± 13, 0.0033 ± 0.0072); the mean alone ({:.4g})
// when there is no interval; empty when there is no mean.
std::string mean_and_half_width(const SampleStats& s, const std::string& plus_minus);

// The summary for the terminal: one aligned table per metric plugin, one row per node and
// configuration (group of cells that differ only in the seed) with mean +- half-width per value
// and n (only when some configuration has several seeds); empty when there are no metric values.
std::string summary_text(const RunRecord& run, const std::vector<SummaryRow>& rows);

// A number as the CSV files write it: shortest round-trip form, empty for NaN.
std::string csv_number(double v);

}  // namespace mdlab::runtime
