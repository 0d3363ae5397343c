// validate(): a pipeline as read, checked against the plugin registry and expanded into sweep
// cells. In: the pipeline, the --set overrides and the registry. Out: the validated pipeline
// (plugins, connections, run order, cells), or BadInput listing every problem of the first stage
// that found any. The stages live in their own files (validation_stages.hpp).
#include "../sweep/overrides.hpp"
#include "../sweep/sweep_expansion.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

std::size_t ValidatedPipeline::node_index(const std::string& id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].id == id) return i;
    throw Error("no node '" + id + "'");
}

ValidatedPipeline validate(Pipeline pipeline, const std::vector<Override>& overrides, const Registry& registry) {
    ValidationState state(pipeline, overrides, registry);
    check_node_count(state);
    state.errors.throw_if_any();
    ValidatedPipeline out;
    out.nodes.resize(pipeline.nodes.size());
    out.alternatives.resize(pipeline.nodes.size());
    // The nodes, their alternatives, the overrides on both, then the connections between them.
    check_id_limits(state);
    check_nodes(state, out);
    check_alternatives(state, out);
    apply_overrides(overrides, out, state.start, pipeline.nodes, state.errors);
    check_swept_overrides(overrides, pipeline, state.errors);
    check_inputs(state, out);
    state.errors.throw_if_any();
    out.order = topological_order(state, out);
    check_sweep_keys(state, out);
    check_rates(state, out);
    check_comparisons(state, out);
    check_plots(state, out);
    state.errors.throw_if_any();
    const auto cells = sweep_cell_count(pipeline.sweep);
    if (!cells)
        state.error("/sweep", false, {}, {},
                    "the sweep has more than " + std::to_string(max_sweep_cells) + " cells, the limit",
                    "sweep fewer values, or split the sweep into several pipelines");
    else
        check_expanded_size(state, out, *cells);
    state.errors.throw_if_any();
    out.cells = expand_sweep(pipeline.sweep, pipeline.seed, out, state.start);
    resolve_paths(state, out, out.cells);
    state.errors.throw_if_any();  // a missing file is reported once, not again by the plugin
    check_input_files(state, out);
    check_record_size(state, out);
    state.errors.throw_if_any();
    check_memory(state, out);
    state.errors.throw_if_any();
    construct_trial_plugins(state, out);
    state.errors.throw_if_any();
    check_process_times(state, out);
    state.errors.throw_if_any();
    out.pipeline = std::move(pipeline);
    return out;
}

}  // namespace mdlab::runtime
