// What differs between a node's alternatives (see variant_differences.hpp).
#include "mdlab/runtime/variant_differences.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

const Params* first_params(const ValidatedPipeline& vp, std::size_t node, std::size_t variant) {
    for (const Cell& c : vp.cells)
        if (c.variant[node] == variant) return &c.params[node];
    return nullptr;
}

namespace {

std::string inputs_text(const ValidatedPipeline& vp, const Node& n) {
    std::string out;
    for (const auto& [port, src] : n.inputs) out += (out.empty() ? "" : ";") + port + "=" + vp.nodes[src].id;
    return out;
}

std::string value_text(const Params* p, const std::string& key) {
    if (!p || !p->has(key)) return "-";
    return to_text(p->all().find(key)->second);
}

VariantDifferences differences_of(const ValidatedPipeline& vp, std::size_t i) {
    VariantDifferences d;
    d.node = vp.nodes[i].id;
    std::vector<const Params*> params;
    std::set<std::string> keys;
    for (std::size_t v = 0; v < vp.alternatives[i].size(); ++v) {
        const Node& n = vp.alternatives[i][v];
        d.labels.push_back(n.label);
        d.plugins.push_back(n.plugin ? n.plugin->spec.name : "?");
        d.inputs.push_back(inputs_text(vp, n));
        params.push_back(first_params(vp, i, v));
        if (params.back())
            for (const auto& kv : params.back()->all()) keys.insert(kv.first);
    }
    if (std::all_of(d.inputs.begin(), d.inputs.end(), [&](const std::string& s) { return s == d.inputs.front(); }))
        d.inputs.clear();
    d.values.resize(params.size());
    for (const std::string& key : keys) {
        std::vector<std::string> column;
        for (const Params* p : params) column.push_back(value_text(p, key));
        if (std::all_of(column.begin(), column.end(), [&](const std::string& s) { return s == column.front(); })) continue;
        d.keys.push_back(key);
        for (std::size_t v = 0; v < column.size(); ++v) d.values[v].push_back(column[v]);
    }
    return d;
}

}  // namespace

std::vector<VariantDifferences> variant_differences(const ValidatedPipeline& vp) {
    std::vector<VariantDifferences> out;
    for (std::size_t i = 0; i < vp.nodes.size(); ++i)
        if (!vp.alternatives[i].empty()) out.push_back(differences_of(vp, i));
    return out;
}

std::string variant_differences_text(const std::vector<VariantDifferences>& differences) {
    std::string out;
    for (const VariantDifferences& d : differences) {
        out += "alternatives of node '" + d.node + "': ";
        if (d.labels.size() == 1) out += "a single variant, nothing to compare\n";
        else if (d.keys.empty()) out += "no resolved parameter differs between its " + std::to_string(d.labels.size()) + " variants\n";
        else out += "the resolved parameters that differ (-: the plugin has no such parameter)\n";
        // Columns: variant, plugin, inputs (when they differ), then one per differing parameter.
        std::vector<std::vector<std::string>> columns{{"variant"}, {"plugin"}};
        columns[0].insert(columns[0].end(), d.labels.begin(), d.labels.end());
        columns[1].insert(columns[1].end(), d.plugins.begin(), d.plugins.end());
        if (!d.inputs.empty()) {
            columns.push_back({"inputs"});
            columns.back().insert(columns.back().end(), d.inputs.begin(), d.inputs.end());
        }
        for (std::size_t k = 0; k < d.keys.size(); ++k) {
            columns.push_back({d.keys[k]});
            for (const auto& row : d.values) columns.back().push_back(row[k]);
        }
        std::vector<std::size_t> widths;
        for (const auto& column : columns)
            widths.push_back(std::max_element(column.begin(), column.end(), [](const auto& a, const auto& b) {
                                 return a.size() < b.size();
                             })->size());
        for (std::size_t r = 0; r <= d.labels.size(); ++r) {
            std::string line;
            for (std::size_t c = 0; c < columns.size(); ++c) line += fmt::format("  {:<{}}", columns[c][r], widths[c]);
            out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
        }
    }
    return out;
}

}  // namespace mdlab::runtime
