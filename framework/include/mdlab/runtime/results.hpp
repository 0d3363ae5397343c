// A run's results: one row per sweep cell and metric node, written as CSV and JSON (the
// terminal shows their summary over seeds: summary.hpp).
#pragma once
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

struct ResultRow {
    std::size_t cell = 0;
    std::vector<std::pair<std::string, boost::json::value>> assignments;  // the cell's sweep values
    std::uint64_t seed = 0;
    std::string node, plugin;
    std::string inputs;  // "port=node;..." so a row says which samples it measured
    NodeOutcome outcome;
};

// Metric nodes of every cell that ran, in cell order then file order.
std::vector<ResultRow> metric_rows(const ValidatedPipeline& vp, const RunOutcome& outcome);

// Fixed columns, then the sweep keys, then the union of value names in order of first
// appearance. Numbers are written in shortest round-trip form; no timings, so that the file
// is byte-identical across thread counts.
std::string results_csv(const ValidatedPipeline& vp, const std::vector<ResultRow>& rows);

// Everything: per cell, every node's status, values, statistics and wall time; and the rows.
boost::json::object results_json(const ValidatedPipeline& vp, const RunOutcome& outcome);

// The pipeline as it ran: parameters completed with defaults and --set values, the plugin
// versions and files, the mdlab version.
boost::json::object resolved_pipeline(const ValidatedPipeline& vp);

// A sweep value as text: strings unquoted, numbers in shortest round-trip form.
std::string plain_text(const boost::json::value& v);

}  // namespace mdlab::runtime
