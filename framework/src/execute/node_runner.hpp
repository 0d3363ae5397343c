// Runs one node: creates its component and calls the method its kind defines.
#pragma once
#include <memory>
#include <string>

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

// Creates the plugin's component as the interface its kind defines (the bench creates its
// components through this too).
template <class T>
std::shared_ptr<T> create_as(const PluginRecord& plugin, const Params& params, const Registry& registry) {
    auto made = std::dynamic_pointer_cast<T>(registry.create(plugin, params));
    if (!made)
        throw Error("plugin '" + plugin.spec.name + "' declares kind " + std::string(to_string(plugin.spec.kind)) +
                    " but its object does not implement that interface");
    return made;
}

NodeResult run_node(const PluginRecord& plugin, const Params& params, const Inputs& inputs, Context& ctx,
                    const Registry& registry);

}  // namespace mdlab::runtime
