// Nodes and their alternatives against the registry. In: the nodes (and alternatives, with the
// node's shared params merged in by the reader) as written. Out: each one's plugin record in the
// validated pipeline and its parameters, bound and with defaults, in state.start; unknown plugins
// and parameters, bad values, missing required parameters and shared params a variant's plugin
// lacks (unless the node marks them shared_where_present: then the variant leaves them out)
// reported.
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"
#include "../sweep/overrides.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

const PluginRecord* find_plugin(ValidationState& state, const NodeDecl& n) {
    if (n.plugin.empty()) return nullptr;
    const PluginRecord* rec = state.registry.find(n.plugin);
    if (!rec)
        state.error(n.pointer + "/plugin", false, n.id, "plugin", "unknown plugin '" + n.plugin + "'",
                    suggest(n.plugin, state.registry.names(), "available plugins") + " (see `mdlab plugins`)");
    return rec;
}

// " (inherited by alternative 'L' of node 'N')" for a variant's shared param, else nothing.
std::string inherited_note(const NodeDecl& n, const std::string& label, const std::string& key) {
    return n.inherits(key) ? " (inherited by alternative '" + label + "' of node '" + n.id + "')" : "";
}

void bind_params(ValidationState& state, const NodeDecl& n, const PluginRecord& rec, Params& out,
                 const std::string& label = {}) {
    for (const auto& spec : rec.spec.params)
        if (spec.default_value) out.set(spec.key, *spec.default_value);
    for (const auto& kv : n.params) {
        const std::string key(kv.key());
        const std::string ptr = n.param_pointer(key);
        const ParamSpec* spec = rec.spec.find_param(key);
        if (!spec) {
            state.error(ptr, true, n.id, key, "unknown parameter of plugin '" + rec.spec.name + "'",
                        suggest(key, param_keys(rec.spec), "valid parameters") + " (see `mdlab describe " + rec.spec.name +
                            "`)");
            continue;
        }
        Bound b = bind_param(*spec, kv.value());
        if (!b.value) state.error(ptr, false, n.id, key, b.error + inherited_note(n, label, key), spec->doc);
        else out.set(key, *b.value);
    }
    for (const auto& spec : rec.spec.params)
        if (spec.is_required() && !n.params.contains(spec.key) && !is_overridden(state.overrides, n.id, spec.key))
            state.error(n.pointer, false, n.id, spec.key, "missing required parameter (" + expected_form(spec) + ")",
                        spec.doc);
}

// A variant's shared params (inherited from its node) that its plugin does not have: left out when
// the node marks them shared_where_present, else each is an error at the node's key.
void drop_or_report_missing_shared(ValidationState& state, NodeDecl& d, const PluginRecord& rec, const std::string& label) {
    for (const std::string& key : std::vector<std::string>(d.inherited)) {
        if (rec.spec.find_param(key)) continue;
        const bool marked = std::find(d.shared_where_present.begin(), d.shared_where_present.end(), key) !=
                            d.shared_where_present.end();
        if (!marked)
            state.error(d.param_pointer(key), true, d.id, key,
                        "alternative '" + label + "' of node '" + d.id + "' inherits the node's parameter '" + key +
                            "', which its plugin '" + rec.spec.name + "' does not have",
                        suggest(key, param_keys(rec.spec), "valid parameters of '" + rec.spec.name + "'") +
                            "; give the key to the variants that take it, or list it in the node's "
                            "\"shared_where_present\" for variants without it to leave it out");
        d.params.erase(key);  // reported once, here, not again as an unknown parameter
        d.inherited.erase(std::remove(d.inherited.begin(), d.inherited.end(), key), d.inherited.end());
    }
}

}  // namespace

void check_nodes(ValidationState& state, ValidatedPipeline& vp) {
    const auto& nodes = state.pipeline.nodes;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        vp.nodes[i].id = nodes[i].id;
        vp.nodes[i].plugin = find_plugin(state, nodes[i]);
        if (vp.nodes[i].plugin) bind_params(state, nodes[i], *vp.nodes[i].plugin, state.start.nodes[i]);
    }
}

void check_alternatives(ValidationState& state, ValidatedPipeline& vp) {
    for (auto& a : state.pipeline.sweep) {
        if (a.type != SweepAxis::Type::alternatives) continue;
        const std::size_t i = state.ids.at(a.keys.front().node);
        const PluginRecord* declared = vp.nodes[i].plugin;
        state.variant_decls[i] = &a.variants;
        for (std::size_t v = 0; v < a.variants.size(); ++v) {
            NodeDecl& d = a.variants[v];
            Node n;
            n.id = d.id;
            n.label = std::string(a.keys.front().values[v].as_string());
            n.plugin = find_plugin(state, d);
            state.start.alternatives[i].emplace_back();
            if (n.plugin) {
                drop_or_report_missing_shared(state, d, *n.plugin, n.label);
                bind_params(state, d, *n.plugin, state.start.alternatives[i].back(), n.label);
            }
            if (n.plugin && declared && output_of(n.plugin->spec.kind) != output_of(declared->spec.kind))
                state.error(d.pointer + "/plugin", false, d.id, "plugin",
                            "alternative '" + n.label + "' of node '" + d.id + "' is a " +
                                std::string(to_string(n.plugin->spec.kind)) + " giving " +
                                value_kind_phrase(output_of(n.plugin->spec.kind)) + ", but the node gives " +
                                value_kind_phrase(output_of(declared->spec.kind)),
                            "every alternative must produce what the nodes downstream expect");
            vp.alternatives[i].push_back(std::move(n));
        }
    }
}

}  // namespace mdlab::runtime
