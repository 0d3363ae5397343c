// Runs one node: creates its component and calls the method its kind defines.
#pragma once
#include <mdlab/components.hpp>
#include <mdlab/context.hpp>
#include <mdlab/params.hpp>

#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

struct NodeResult {
    NodeValue value;  // what flows to downstream nodes (nothing for a metric)
    Values values;    // a metric's values or a sampler's statistics
    std::size_t origin_cell = 0;  // the cell that computed it
};

NodeResult run_node(const PluginRecord& plugin, const Params& params, const Inputs& inputs, Context& ctx,
                    const Registry& registry);

}  // namespace mdlab::runtime
