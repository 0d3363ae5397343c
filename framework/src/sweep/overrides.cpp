// --set overrides applied to the parameters every cell starts from (see overrides.hpp).
#include "overrides.hpp"

#include <utility>

#include <boost/json/serialize.hpp>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

bool is_overridden(const std::vector<Override>& overrides, const std::string& node, const std::string& key) {
    for (const auto& o : overrides)
        if (o.node == node && o.key == key) return true;
    return false;
}

void apply_overrides(const std::vector<Override>& overrides, const ValidatedPipeline& vp, StartParams& start,
                     std::vector<NodeDecl>& decls, DiagnosticList& errors) {
    std::vector<std::string> ids;
    for (const auto& n : vp.nodes) ids.push_back(n.id);
    for (const auto& o : overrides) {
        Diagnostic d;
        d.file = o.origin.empty() ? "--set " + o.text : o.origin;
        d.node = o.node;
        d.key = o.key;
        std::size_t i = 0;
        while (i < ids.size() && ids[i] != o.node) ++i;
        if (i == ids.size()) {
            d.message = "no node with this id";
            d.hint = suggest(o.node, ids, "node ids");
            errors.add(d);
            continue;
        }
        // The node as declared and each of its alternatives that has the parameter.
        std::vector<std::pair<const PluginRecord*, Params*>> targets{{vp.nodes[i].plugin, &start.nodes[i]}};
        for (std::size_t v = 0; v < vp.alternatives[i].size(); ++v)
            targets.emplace_back(vp.alternatives[i][v].plugin, &start.alternatives[i][v]);
        bool applied = false, bad_value = false;
        for (const auto& [rec, params] : targets) {
            if (!rec) continue;
            const ParamSpec* spec = rec->spec.find_param(o.key);
            if (!spec) continue;
            Bound b = bind_param(*spec, o.value);
            if (!b.value) {
                d.message = b.error + (rec == vp.nodes[i].plugin ? "" : " (plugin '" + rec->spec.name + "')");
                d.hint = spec->doc;
                errors.add(d);
                bad_value = true;
                break;
            }
            params->set(o.key, *b.value);
            applied = true;
        }
        if (bad_value || !vp.nodes[i].plugin) continue;
        if (!applied) {
            d.message = "unknown parameter of plugin '" + vp.nodes[i].plugin->spec.name + "'";
            d.hint = suggest(o.key, param_keys(vp.nodes[i].plugin->spec), "valid parameters");
            errors.add(d);
            continue;
        }
        decls[i].params[o.key] = o.value;  // the resolved pipeline shows it
    }
}

namespace {

// "10, 20, 40": an axis's values as written.
std::string value_list(const std::vector<boost::json::value>& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : ", ") + boost::json::serialize(v);
    return out;
}

// "file:line:col (/sweep/grid/gen.steps)": where the pipeline declares a sweep key.
std::string declared_at(const Pipeline& pipeline, const SweepKey& key) {
    const SourcePos pos = pipeline.document.key_position(key.pointer);
    std::string at = pipeline.document.name();
    if (pos.line) at += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    return at + " (" + key.pointer + ")";
}

}  // namespace

void check_swept_overrides(const std::vector<Override>& overrides, const Pipeline& pipeline, DiagnosticList& errors) {
    for (const auto& o : overrides)
        for (const SweepAxis& axis : pipeline.sweep) {
            if (axis.type == SweepAxis::Type::alternatives) continue;  // its values are labels, not a parameter
            for (const SweepKey& key : axis.keys) {
                if (key.node != o.node || key.param != o.key) continue;
                Diagnostic d;
                d.file = o.origin.empty() ? "--set " + o.text : o.origin;
                d.node = o.node;
                d.key = o.key;
                d.message = "'" + key.key + "' is swept (" +
                            (axis.keys.size() > 1 ? "a key of a zip group" : std::string("a sweep axis")) +
                            " with values " + value_list(key.values) + "), so the sweep would replace this value " +
                            "in every cell; a --set cannot change a swept key";
                d.hint = "change the axis's values where the pipeline declares it, " + declared_at(pipeline, key) +
                         ", or list the values to run in the pipeline's smoke section (\"sweep\") and use --smoke";
                errors.add(d);
            }
        }
}

}  // namespace mdlab::runtime
