// The stages of validate(), in the order it runs them (validator.cpp). Each reports its problems
// to state.errors; validate() throws them together between stages, so a later stage may rely on
// what an earlier one checked.
#pragma once
#include <optional>
#include <vector>

#include "validation_state.hpp"

namespace mdlab::runtime {

// size_limits.cpp. Limits that keep validation bounded; each refusal names its limit.
inline constexpr std::size_t max_pipeline_nodes = 100000;
inline constexpr std::size_t max_node_cells = 20000000;  // cells x nodes: each a parameter set held in memory
inline constexpr std::size_t max_record_bytes = std::size_t{16} << 20;  // one cell's configuration record
// The node count within max_pipeline_nodes (before anything else is checked).
void check_node_count(ValidationState& state);
// The cells x nodes of the sweep within max_node_cells and, as parameter sets, half the machine's
// memory (before the sweep is expanded).
void check_expanded_size(ValidationState& state, const ValidatedPipeline& vp, std::size_t cells);
// A cell's configuration record within max_record_bytes.
void check_record_size(ValidationState& state, const ValidatedPipeline& vp);
// "1.5 GiB"
std::string byte_text(double bytes);

// id_limits.cpp. Node ids short enough to name files in the run folder.
void check_id_limits(ValidationState& state);
// node_declarations.cpp. Each node's plugin and its parameters bound to start.nodes.
void check_nodes(ValidationState& state, ValidatedPipeline& vp);
// node_declarations.cpp. Each alternative's plugin (giving what its node gives) and parameters.
void check_alternatives(ValidationState& state, ValidatedPipeline& vp);
// node_inputs.cpp. Each node's (and alternative's) input ports connected to nodes giving their kind.
void check_inputs(ValidationState& state, ValidatedPipeline& vp);
// graph_order.cpp. A topological order serving every cell; a cycle is reported and thrown.
std::vector<std::size_t> topological_order(ValidationState& state, const ValidatedPipeline& vp);
// sweep_keys.cpp. Each sweep key names a node and a parameter of every plugin it can run; values bind.
void check_sweep_keys(ValidationState& state, const ValidatedPipeline& vp);
// declared_analyses.cpp. Rates, correlations, equivalence tests and plots name metrics and sweep keys.
void check_rates(ValidationState& state, const ValidatedPipeline& vp);
void check_comparisons(ValidationState& state, const ValidatedPipeline& vp);
void check_plots(ValidationState& state, const ValidatedPipeline& vp);
// path_params.cpp. Path parameters made absolute (from the pipeline's folder); missing files reported.
void resolve_paths(ValidationState& state, const ValidatedPipeline& vp, std::vector<Cell>& cells);
// memory_check.cpp. Data and sampler nodes whose points cannot fit in the machine's memory.
void check_memory(ValidationState& state, const ValidatedPipeline& vp);
// input_files.cpp. Files plugins read only when cells run (samplers' initial points, the points
// step's file) read and checked now; their shapes kept in state.file_shapes.
void check_input_files(ValidationState& state, const ValidatedPipeline& vp);
// trial_plugins.cpp. Every plugin constructed once per distinct parameter set, before anything runs.
void construct_trial_plugins(ValidationState& state, const ValidatedPipeline& vp);
// process_times.cpp. Times given to a node (ParamRole::process_time) within (0, T] of its processes.
void check_process_times(ValidationState& state, const ValidatedPipeline& vp);

// point_dims.cpp. By node index: the dimension D of the points the node works with in `cell` (the
// first ParamRole::dimension on it or upstream of it; 1 when none is). Needs vp.order.
std::vector<std::size_t> point_dims(const ValidatedPipeline& vp, const Cell& cell);
// point_dims.cpp. The n x D points a data or sampler node gives in `cell` (n its ParamRole::sample_count,
// D from point_dims); nullopt for other nodes or without a sample count.
struct NodePoints {
    std::size_t n = 0, d = 1;
    double bytes() const { return static_cast<double>(n) * static_cast<double>(d) * 8.0; }
};
std::optional<NodePoints> node_points(const ValidatedPipeline& vp, const Cell& cell, std::size_t i,
                                      const std::vector<std::size_t>& dims);

}  // namespace mdlab::runtime
