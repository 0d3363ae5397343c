// The identity of a run folder's pipeline, its digest, and how two identities differ
// (see run_identity.hpp).
#include "run_identity.hpp"

#include <set>

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <mdlab/rng.hpp>

#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/variant_differences.hpp"

namespace json = boost::json;

namespace mdlab::runtime {

namespace {

json::object node_identity(const ValidatedPipeline& vp, const Node& n, const Params* params) {
    json::object inputs, values;
    for (const auto& [port, src] : n.inputs) inputs[port] = vp.nodes[src].id;
    if (params)
        for (const auto& [key, value] : params->all()) values[key] = to_json(value);
    return {{"plugin", n.plugin->spec.name}, {"inputs", std::move(inputs)}, {"params", std::move(values)}};
}

std::set<std::string> swept_keys(const json::object& identity) {
    std::set<std::string> out;
    if (const auto* swept = identity.if_contains("swept"); swept && swept->is_array())
        for (const auto& key : swept->as_array())
            if (key.is_string()) out.emplace(key.as_string());
    return out;
}

const json::object& object_at(const json::object& o, const char* key) {
    static const json::object none;
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? v->as_object() : none;
}

std::string shown(const json::value* v) { return v ? json_text(*v) : "unset"; }

// Entries of `was` and `now` under the same key that differ (or exist in one only), as
// "<what> '<key>' is <now> here, <was> in the folder's run"; keys for which `skip` holds are not compared.
template <class Skip>
void compare_entries(const std::string& what, const json::object& was, const json::object& now, Skip skip,
                     std::vector<std::string>& out) {
    std::set<std::string> keys;
    for (const auto& entry : was) keys.emplace(entry.key());
    for (const auto& entry : now) keys.emplace(entry.key());
    for (const auto& key : keys) {
        if (skip(key)) continue;
        const json::value *w = was.if_contains(key), *n = now.if_contains(key);
        if (w && n && *w == *n) continue;
        out.push_back(fmt::format("{} '{}' is {} here, {} in the folder's run", what, key, shown(n), shown(w)));
    }
}

// One node (or one variant of a node with alternatives): plugin, inputs, parameters outside the sweep.
void compare_node(const std::string& what, const std::string& id, const json::object& was, const json::object& now,
                  const std::set<std::string>& swept, std::vector<std::string>& out) {
    const json::value *plugin_was = was.if_contains("plugin"), *plugin_now = now.if_contains("plugin");
    if (!plugin_was || !plugin_now || *plugin_was != *plugin_now) {
        out.push_back(fmt::format("{}: plugin {} here, {} in the folder's run", what, shown(plugin_now), shown(plugin_was)));
        return;  // another plugin's parameters are not comparable
    }
    compare_entries(what + ": input", object_at(was, "inputs"), object_at(now, "inputs"),
                    [](const std::string&) { return false; }, out);
    compare_entries(what + ": parameter", object_at(was, "params"), object_at(now, "params"),
                    [&](const std::string& key) { return swept.count(id + "." + key) > 0; }, out);
}

}  // namespace

json::object run_identity(const ValidatedPipeline& vp) {
    json::array swept;
    for (const SweepKey* key : vp.pipeline.sweep_keys()) swept.emplace_back(key->key);
    json::object nodes;
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        if (vp.alternatives[i].empty()) {
            nodes[vp.nodes[i].id] = node_identity(vp, vp.nodes[i], first_params(vp, i, 0));
            continue;
        }
        json::object variants;
        for (std::size_t v = 0; v < vp.alternatives[i].size(); ++v) {
            const Node& variant = vp.alternatives[i][v];
            variants[variant.label] = node_identity(vp, variant, first_params(vp, i, v));
        }
        nodes[vp.nodes[i].id] = json::object{{"alternatives", std::move(variants)}};
    }
    const json::object identity{{"seed", vp.pipeline.seed}, {"swept", std::move(swept)}, {"nodes", std::move(nodes)}};
    // As the marker file will hold it (2.0 reads back as 2), so that it compares equal to itself.
    return json::parse(json_text(identity)).as_object();
}

std::string identity_digest(const json::object& identity) {
    const std::set<std::string> swept = swept_keys(identity);
    json::object fixed = identity;
    fixed.erase("swept");
    if (swept.count("seed")) fixed.erase("seed");
    auto drop_swept = [&](const std::string& id, json::value& node) {
        json::object kept;
        for (const auto& [key, value] : object_at(node.as_object(), "params"))
            if (!swept.count(id + "." + std::string(key))) kept[key] = value;
        node.as_object()["params"] = std::move(kept);
    };
    for (auto& [id, node] : fixed["nodes"].as_object()) {
        if (auto* variants = node.as_object().if_contains("alternatives"))
            for (auto& variant : variants->as_object()) drop_swept(std::string(id), variant.value());
        else
            drop_swept(std::string(id), node);
    }
    return fmt::format("{:016x}", stable_hash(json_text(fixed)));
}

std::vector<std::string> identity_differences(const json::object& was, const json::object& now) {
    std::set<std::string> swept = swept_keys(was);
    swept.merge(swept_keys(now));
    std::vector<std::string> out;
    if (!swept.count("seed")) {
        const json::value *w = was.if_contains("seed"), *n = now.if_contains("seed");
        if (!w || !n || *w != *n) out.push_back(fmt::format("seed is {} here, {} in the folder's run", shown(n), shown(w)));
    }
    const json::object &nodes_was = object_at(was, "nodes"), &nodes_now = object_at(now, "nodes");
    for (const auto& entry : nodes_now)
        if (!nodes_was.contains(entry.key())) out.push_back(fmt::format("node '{}' is new", std::string(entry.key())));
    for (const auto& entry : nodes_was) {
        const std::string id(entry.key());
        const json::value* here = nodes_now.if_contains(id);
        if (!here) {
            out.push_back(fmt::format("node '{}' is not in this pipeline", id));
            continue;
        }
        if (!entry.value().is_object() || !here->is_object()) {
            out.push_back(fmt::format("node '{}' is not comparable", id));
            continue;
        }
        const json::object &w = entry.value().as_object(), &n = here->as_object();
        if (w.contains("alternatives") != n.contains("alternatives")) {
            out.push_back(fmt::format("node '{}' has alternatives {}", id, n.contains("alternatives") ? "here only" : "in the folder's run only"));
            continue;
        }
        if (!w.contains("alternatives")) {
            compare_node("node '" + id + "'", id, w, n, swept, out);
            continue;
        }
        // Alternatives added or removed are the sweep's business; those in both must agree.
        const json::object &variants_was = object_at(w, "alternatives"), &variants_now = object_at(n, "alternatives");
        for (const auto& variant : variants_was)
            if (const auto* now_variant = variants_now.if_contains(variant.key());
                now_variant && now_variant->is_object() && variant.value().is_object())
                compare_node(fmt::format("node '{}' ('{}')", id, std::string(variant.key())), id,
                             variant.value().as_object(), now_variant->as_object(), swept, out);
    }
    return out;
}

}  // namespace mdlab::runtime
