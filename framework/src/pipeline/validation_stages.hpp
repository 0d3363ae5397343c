// The stages of validate(), in the order it runs them (validator.cpp). Each reports its problems
// to state.errors; validate() throws them together between stages, so a later stage may rely on
// what an earlier one checked.
#pragma once
#include <vector>

#include "validation_state.hpp"

namespace mdlab::runtime {

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
// trial_plugins.cpp. Every plugin constructed once per distinct parameter set, before anything runs.
void construct_trial_plugins(ValidationState& state, const ValidatedPipeline& vp);
// process_times.cpp. Times given to a node (ParamRole::process_time) within (0, T] of its processes.
void check_process_times(ValidationState& state, const ValidatedPipeline& vp);

}  // namespace mdlab::runtime
