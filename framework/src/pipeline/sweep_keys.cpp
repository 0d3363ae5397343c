// The sweep's keys. In: the sweep as read and the plugins of every node and alternative. Out:
// problems reported: a key twice, a seed that is not a non-negative integer, a key naming no
// node, or a parameter that some plugin the node can run lacks, and values that do not bind.
#include <set>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// The plugins a sweep key's node runs with: its alternatives, or the node as declared.
std::vector<const PluginRecord*> plugins_of(const ValidatedPipeline& vp, std::size_t i) {
    std::vector<const PluginRecord*> out;
    if (vp.alternatives[i].empty()) out.push_back(vp.nodes[i].plugin);
    for (const auto& alt : vp.alternatives[i]) out.push_back(alt.plugin);
    return out;
}

void check_seeds(ValidationState& state, const SweepKey& k) {
    for (std::size_t i = 0; i < k.values.size(); ++i)
        if (!(k.values[i].is_int64() && k.values[i].as_int64() >= 0) && !k.values[i].is_uint64())
            state.error(k.pointer + "/" + std::to_string(i), false, {}, "seed", "a seed must be a non-negative integer");
}

void check_param_key(ValidationState& state, const ValidatedPipeline& vp, const SweepKey& k) {
    auto it = state.ids.find(k.node);
    if (it == state.ids.end()) {
        state.error(k.pointer, true, k.node, k.param, "sweep names node '" + k.node + "', which does not exist",
                    suggest(k.node, state.node_ids(), "node ids"));
        return;
    }
    for (const PluginRecord* rec : plugins_of(vp, it->second)) {
        const ParamSpec* spec = rec ? rec->spec.find_param(k.param) : nullptr;
        if (!spec) {
            state.error(k.pointer, true, k.node, k.param,
                        "unknown parameter of plugin '" + (rec ? rec->spec.name : "?") + "'" +
                            (vp.alternatives[it->second].empty()
                                 ? ""
                                 : " (a swept parameter must belong to every alternative of the node)"),
                        suggest(k.param, rec ? param_keys(rec->spec) : std::vector<std::string>{}, "valid parameters"));
            continue;
        }
        for (std::size_t i = 0; i < k.values.size(); ++i) {
            Bound b = bind_param(*spec, k.values[i]);
            if (!b.value) state.error(k.pointer + "/" + std::to_string(i), false, k.node, k.param, b.error, spec->doc);
        }
    }
}

}  // namespace

void check_sweep_keys(ValidationState& state, const ValidatedPipeline& vp) {
    std::set<std::string> keys;
    for (const auto& a : state.pipeline.sweep)
        for (const SweepKey& k : a.keys) {
            if (!keys.insert(k.key).second) state.error(k.pointer, true, k.node, k.key, "this sweep key appears twice");
            if (a.type == SweepAxis::Type::alternatives) continue;  // checked by the reader and check_alternatives()
            if (k.node.empty()) check_seeds(state, k);
            else check_param_key(state, vp, k);
        }
}

}  // namespace mdlab::runtime
