// A run's results: one row per sweep cell and metric node (or sampler node, when there are no
// metrics) with the cell's cost, written as CSV and JSON (the terminal shows their summary over
// seeds: summary.hpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

// A cell's cost, one entry per column, in column order: `<sampler>.nfe` (its score evaluations)
// for every sampler node, `<node>.wall_s` for every node, then `cell.wall_s`. Empty where there is
// no figure (a node that failed or was skipped, a sampler that reports no nfe). The wall-time
// columns, and only they, differ between two runs of a pipeline: their names end in "wall_s".
using Cost = std::vector<std::pair<std::string, std::optional<double>>>;

struct ResultRow {
    std::size_t cell = 0;
    std::vector<std::pair<std::string, boost::json::value>> assignments;  // the cell's sweep values
    std::uint64_t seed = 0;
    std::string node, plugin;
    std::string inputs;  // "port=node;..." so a row says which samples it measured
    NodeOutcome outcome;
    Cost cost;  // the cell's, alike on every row of the cell
};

// The cost of cell `c`. A node's wall time is the seconds it took where it was computed: a
// value shared from an earlier cell (NodeOutcome::reused) shows that cell's time, so that a
// sampler's time does not depend on what ran before it; `cell.wall_s` is the cell's own.
Cost cell_cost(const ValidatedPipeline& vp, const RunOutcome& outcome, const CellOutcome& c);

// Per cell that ran (in order), its metric nodes in file order; a pipeline without metric nodes
// has its sampler nodes' rows instead (their values: nfe, steps, ...).
std::vector<ResultRow> result_rows(const ValidatedPipeline& vp, const RunOutcome& outcome);

// Fixed columns, then the sweep keys, then the union of value names in order of first
// appearance, the cost columns and the error. Numbers are written in shortest round-trip form.
// Every column but the wall times is byte-identical across thread counts, ranks and resumes
// (a resumed cell keeps the wall times its record holds).
std::string results_csv(const ValidatedPipeline& vp, const std::vector<ResultRow>& rows);

// Everything: per cell, its wall time and cost, every node's status, values, statistics and wall
// time; and the rows.
boost::json::object results_json(const ValidatedPipeline& vp, const RunOutcome& outcome);

// The pipeline as it ran: parameters completed with defaults and --set values, the plugin
// versions and files, the mdlab version.
boost::json::object resolved_pipeline(const ValidatedPipeline& vp);

// A sweep value as text: strings unquoted, numbers in shortest round-trip form.
std::string plain_text(const boost::json::value& v);

}  // namespace mdlab::runtime
