// Input ports. In: each node's (and alternative's) "inputs" as written, and the plugins found
// for every node. Out: the connections (port -> node index) in the validated pipeline; unknown
// ports, unknown source nodes, sources giving the wrong kind of value and unconnected required
// ports reported, with the nodes that would fit.
#include <set>

#include "mdlab/runtime/suggest.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// The nodes giving `k`, the valid sources of a port expecting it.
std::vector<std::string> producers(ValueKind k, const ValidatedPipeline& vp) {
    std::vector<std::string> out;
    for (const auto& n : vp.nodes)
        if (n.plugin && output_of(n.plugin->spec.kind) == k) out.push_back(n.id);
    return out;
}

void connect(ValidationState& state, const NodeDecl& n, const PluginRecord& rec, const ValidatedPipeline& vp,
             Node& target) {
    std::vector<std::string> ports;
    for (const auto& s : rec.spec.inputs) ports.push_back(s.name);
    std::set<std::string> connected;
    for (const auto& [port, source] : n.inputs) {
        const std::string ptr = n.pointer + "/inputs/" + pointer_escape(port);
        const PortSpec* spec = rec.spec.find_input(port);
        if (!spec) {
            state.error(ptr, true, n.id, port, "plugin '" + rec.spec.name + "' has no input '" + port + "'",
                        suggest(port, ports, "its inputs"));
            continue;
        }
        connected.insert(port);
        auto it = state.ids.find(source);
        if (it == state.ids.end()) {
            state.error(ptr, false, n.id, port, "input names node '" + source + "', which does not exist",
                        suggest(source, producers(spec->kind, vp), "nodes giving " + value_kind_phrase(spec->kind)));
            continue;
        }
        const PluginRecord* src = vp.nodes[it->second].plugin;
        if (src && output_of(src->spec.kind) != spec->kind) {
            state.error(ptr, false, n.id, port,
                        "input '" + port + "' expects " + value_kind_phrase(spec->kind) + ", but node '" + source + "' (" +
                            src->spec.name + ", a " + std::string(to_string(src->spec.kind)) + ") gives " +
                            value_kind_phrase(output_of(src->spec.kind)),
                        suggest(source, producers(spec->kind, vp), "nodes giving " + value_kind_phrase(spec->kind)));
            continue;
        }
        target.inputs.emplace_back(port, it->second);
    }
    for (const auto& s : rec.spec.inputs)
        if (s.required && !connected.count(s.name))
            state.error(n.pointer, false, n.id, s.name,
                        "missing input '" + s.name + "' (" + value_kind_phrase(s.kind) + ": " + s.doc + ")",
                        "add \"inputs\": {\"" + s.name + "\": \"<node id>\"}; " +
                            suggest("", producers(s.kind, vp), "nodes giving " + value_kind_phrase(s.kind)));
}

}  // namespace

void check_inputs(ValidationState& state, ValidatedPipeline& vp) {
    const Pipeline& p = state.pipeline;
    for (std::size_t i = 0; i < p.nodes.size(); ++i)
        if (vp.nodes[i].plugin) connect(state, p.nodes[i], *vp.nodes[i].plugin, vp, vp.nodes[i]);
    for (const auto& a : p.sweep)
        if (a.type == SweepAxis::Type::alternatives) {
            const std::size_t i = state.ids.at(a.keys.front().node);
            for (std::size_t v = 0; v < a.variants.size(); ++v)
                if (Node& alt = vp.alternatives[i][v]; alt.plugin) connect(state, a.variants[v], *alt.plugin, vp, alt);
        }
}

}  // namespace mdlab::runtime
