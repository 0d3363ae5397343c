// Trial construction. In: the expanded cells. Out: every plugin component constructed once per
// distinct parameter set and dropped, so that checks a plugin makes across its parameters fail
// before anything runs; its InputError is reported at the parameter it names.
#include <set>

#include <boost/json/serialize.hpp>

#include "mdlab/runtime/param_binding.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

void construct_trial_plugins(ValidationState& state, const ValidatedPipeline& vp) {
    std::set<std::string> done;
    for (const auto& cell : vp.cells)
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const PluginRecord* rec = vp.node(cell, i).plugin;
            if (!rec || rec->builtin()) continue;
            std::string sig = vp.nodes[i].id + "#" + rec->spec.name;
            for (const auto& [k, v] : cell.params[i].all()) sig += "|" + k + "=" + boost::json::serialize(to_json(v));
            if (!done.insert(sig).second) continue;
            try {
                state.registry.create(*rec, cell.params[i]);
            } catch (const InputError& e) {
                const NodeDecl& d = state.decl(cell, i);
                state.error(d.param_pointer(e.key()), false, vp.nodes[i].id, e.key(), e.what(),
                            cell.assignments.empty() ? std::string() : "in sweep cell " + std::to_string(cell.index));
            } catch (const std::exception& e) {
                state.error(state.decl(cell, i).pointer, false, vp.nodes[i].id, {},
                            std::string("plugin '") + rec->spec.name + "' failed to construct: " + e.what());
            }
        }
}

}  // namespace mdlab::runtime
