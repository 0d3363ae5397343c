#include "mdlab/runtime/results.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "mdlab/runtime/csv_text.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::runtime {

namespace {

const std::vector<std::string> fixed_columns{"cell", "seed", "node", "plugin", "inputs", "status"};

}  // namespace

std::string plain_text(const boost::json::value& v) {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_double()) return fmt::format("{}", v.as_double());
    return boost::json::serialize(v);
}

namespace {

// Non-finite values as the strings "nan", "inf", "-inf": JSON has no numbers for them.
boost::json::object values_object(const Values& values) {
    boost::json::object o;
    for (const auto& [k, v] : values) {
        if (std::isfinite(v)) o[k] = v;
        else o[k] = fmt::format("{}", v);
    }
    return o;
}

}  // namespace

namespace {

// The kind of node results.csv has rows for: metrics, or samplers in a pipeline without metrics.
Kind row_kind(const ValidatedPipeline& vp) {
    for (const auto& variants : vp.alternatives)
        for (const Node& n : variants)
            if (n.plugin->spec.kind == Kind::metric) return Kind::metric;
    for (const Node& n : vp.nodes)
        if (n.plugin->spec.kind == Kind::metric) return Kind::metric;
    return Kind::sampler;
}

std::string number_text(const std::optional<double>& v) { return v ? fmt::format("{}", *v) : std::string(); }

}  // namespace

std::vector<ResultRow> result_rows(const ValidatedPipeline& vp, const RunOutcome& outcome) {
    const Kind kind = row_kind(vp);
    std::vector<ResultRow> rows;
    for (const CellOutcome& c : outcome.cells) {
        const Cell& cell = vp.cells[c.index];
        const Cost cost = cell_cost(vp, outcome, c);
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const Node& n = vp.node(cell, i);
            if (n.plugin->spec.kind != kind) continue;
            ResultRow r;
            r.cell = c.index;
            r.assignments = cell.assignments;
            r.seed = cell.seed;
            r.node = n.id;
            r.plugin = n.plugin->spec.name;
            for (const auto& [port, src] : n.inputs)
                r.inputs += (r.inputs.empty() ? "" : ";") + port + "=" + vp.nodes[src].id;
            r.outcome = c.nodes[i];
            r.cost = cost;
            rows.push_back(std::move(r));
        }
    }
    return rows;
}

std::string results_csv(const ValidatedPipeline& vp, const std::vector<ResultRow>& rows) {
    std::vector<std::string> value_keys, cost_keys;
    for (const auto& r : rows) {
        for (const auto& kv : r.outcome.values)
            if (std::find(value_keys.begin(), value_keys.end(), kv.first) == value_keys.end())
                value_keys.push_back(kv.first);
        for (const auto& kv : r.cost)
            if (std::find(cost_keys.begin(), cost_keys.end(), kv.first) == cost_keys.end()) cost_keys.push_back(kv.first);
    }
    std::vector<std::string> header{"cell"};
    for (const SweepKey* k : vp.pipeline.sweep_keys())
        if (k->key != "seed") header.push_back(k->key);
    header.insert(header.end(), fixed_columns.begin() + 1, fixed_columns.end());
    for (const auto& k : value_keys)
        header.push_back(std::find(header.begin(), header.end(), k) == header.end() ? k : "value." + k);
    header.insert(header.end(), cost_keys.begin(), cost_keys.end());
    header.push_back("error");

    std::string out;
    out += csv_line(header);
    for (const auto& r : rows) {
        std::vector<std::string> f{std::to_string(r.cell)};
        for (const auto& [key, value] : r.assignments)
            if (key != "seed") f.push_back(plain_text(value));
        f.insert(f.end(), {std::to_string(r.seed), r.node, r.plugin, r.inputs, std::string(to_string(r.outcome.status))});
        for (const auto& k : value_keys) {
            auto it = std::find_if(r.outcome.values.begin(), r.outcome.values.end(),
                                   [&](const auto& kv) { return kv.first == k; });
            f.push_back(it == r.outcome.values.end() ? std::string() : fmt::format("{}", it->second));
        }
        for (const auto& k : cost_keys) {
            auto it = std::find_if(r.cost.begin(), r.cost.end(), [&](const auto& kv) { return kv.first == k; });
            f.push_back(it == r.cost.end() ? std::string() : number_text(it->second));
        }
        f.push_back(r.outcome.error);
        out += csv_line(f);
    }
    return out;
}

namespace {

// The sweep's columns, axis by axis, for readers of results.json (the report).
boost::json::array axes_json(const Pipeline& p) {
    boost::json::array axes;
    for (std::size_t a = 0; a < p.sweep.size(); ++a)
        for (const SweepKey& k : p.sweep[a].keys) {
            boost::json::object o{{"key", k.key},
                                  {"type", k.key == "seed" ? std::string("seed") : std::string(to_string(p.sweep[a].type))},
                                  {"values", boost::json::array(k.values.begin(), k.values.end())},
                                  {"axis", a}};
            if (p.sweep[a].type == SweepAxis::Type::zip) o["group"] = a;
            axes.push_back(std::move(o));
        }
    return axes;
}

boost::json::array rates_json(const Pipeline& p) {
    boost::json::array rates;
    for (const RateDecl& r : p.rates) {
        boost::json::object ref;
        for (const auto& [name, exponent] : r.reference) ref[name] = exponent;
        rates.push_back(boost::json::object{{"metric", r.metric}, {"over", r.over}, {"reference", std::move(ref)}});
    }
    return rates;
}

template <class Decl>
boost::json::array declarations_json(const std::vector<Decl>& list) {
    boost::json::array out;
    for (const Decl& d : list) out.push_back(to_json(d));
    return out;
}

// The declared correlations, equivalence tests and plots, under their pipeline keys.
void comparisons_json(const Pipeline& p, boost::json::object& root) {
    if (!p.correlations.empty()) root["correlations"] = declarations_json(p.correlations);
    if (!p.equivalence.empty()) root["equivalence"] = declarations_json(p.equivalence);
    if (!p.plots.empty()) root["plots"] = declarations_json(p.plots);
}

// Where the points of node `id` in a cell are: the cell that computed them.
bool writes_points(Kind k) { return k == Kind::data || k == Kind::sampler; }
std::string points_file(std::size_t cell, const std::string& id) { return (cell_folder(cell) / (id + ".npy")).generic_string(); }

}  // namespace

boost::json::object results_json(const ValidatedPipeline& vp, const RunOutcome& outcome) {
    boost::json::object root;
    root["pipeline"] = vp.pipeline.name;
    if (!vp.pipeline.description.empty()) root["description"] = vp.pipeline.description;
    root["status"] = outcome.cancelled ? "cancelled" : outcome.ok() ? "ok" : "failed";
    root["axes"] = axes_json(vp.pipeline);
    if (!vp.pipeline.rates.empty()) root["rates"] = rates_json(vp.pipeline);
    comparisons_json(vp.pipeline, root);
    boost::json::array cells;
    for (const CellOutcome& c : outcome.cells) {
        const Cell& cell = vp.cells[c.index];
        boost::json::object jc;
        jc["cell"] = c.index;
        jc["seed"] = cell.seed;
        boost::json::object assignments;
        for (const auto& [k, v] : cell.assignments) assignments[k] = v;
        jc["sweep"] = std::move(assignments);
        if (!std::isnan(c.seconds)) jc["seconds"] = c.seconds;
        boost::json::object cost;
        for (const auto& [k, v] : cell_cost(vp, outcome, c))
            if (v) cost[k] = *v;
        jc["cost"] = std::move(cost);
        boost::json::object nodes;
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const NodeOutcome& n = c.nodes[i];
            const Node& node = vp.node(cell, i);
            boost::json::object jn;
            jn["plugin"] = node.plugin->spec.name;
            jn["kind"] = std::string(to_string(node.plugin->spec.kind));
            if (!node.label.empty()) jn["label"] = node.label;
            boost::json::object inputs;
            for (const auto& [port, src] : node.inputs) inputs[port] = vp.nodes[src].id;
            jn["inputs"] = std::move(inputs);
            jn["status"] = std::string(to_string(n.status));
            if (!n.error.empty()) jn["error"] = n.error;
            if (!n.values.empty()) jn["values"] = values_object(n.values);
            jn["seconds"] = n.seconds;
            jn["reused"] = n.reused;
            if (c.resumed) jn["resumed"] = true;
            if (n.status == NodeStatus::ok && writes_points(node.plugin->spec.kind))
                jn["points"] = points_file(n.origin_cell, node.id);
            nodes[vp.nodes[i].id] = std::move(jn);
        }
        jc["nodes"] = std::move(nodes);
        cells.push_back(std::move(jc));
    }
    root["cells"] = std::move(cells);
    boost::json::array rows;
    for (const ResultRow& r : result_rows(vp, outcome)) {
        boost::json::object jr;
        jr["cell"] = r.cell;
        boost::json::object assignments;
        for (const auto& [k, v] : r.assignments) assignments[k] = v;
        jr["sweep"] = std::move(assignments);
        jr["seed"] = r.seed;
        jr["node"] = r.node;
        jr["plugin"] = r.plugin;
        jr["inputs"] = r.inputs;
        jr["status"] = std::string(to_string(r.outcome.status));
        jr["values"] = values_object(r.outcome.values);
        if (!r.outcome.error.empty()) jr["error"] = r.outcome.error;
        rows.push_back(std::move(jr));
    }
    root["rows"] = std::move(rows);
    return root;
}

namespace {

// A node's variants as they ran: plugin, version, library, inputs and (from the first cell that
// uses each) parameters.
boost::json::array alternatives_json(const ValidatedPipeline& vp, std::size_t i) {
    boost::json::array out;
    for (std::size_t v = 0; v < vp.alternatives[i].size(); ++v) {
        const Node& n = vp.alternatives[i][v];
        boost::json::object jn{{"label", n.label},
                               {"plugin", n.plugin->spec.name},
                               {"version", n.plugin->spec.version},
                               {"library", n.plugin->builtin() ? std::string("(framework)") : n.plugin->file.string()}};
        boost::json::object params;
        for (const Cell& c : vp.cells)
            if (c.variant[i] == v) {
                for (const auto& [k, value] : c.params[i].all()) params[k] = to_json(value);
                break;
            }
        jn["params"] = std::move(params);
        boost::json::object inputs;
        for (const auto& [port, src] : n.inputs) inputs[port] = vp.nodes[src].id;
        jn["inputs"] = std::move(inputs);
        out.push_back(std::move(jn));
    }
    return out;
}

}  // namespace

boost::json::object resolved_pipeline(const ValidatedPipeline& vp) {
    const Pipeline& p = vp.pipeline;
    boost::json::object root;
    root["name"] = p.name;
    if (!p.description.empty()) root["description"] = p.description;
    root["seed"] = p.seed;
    root["source"] = p.file.string();
#ifdef MDLAB_VERSION
    root["mdlab_version"] = MDLAB_VERSION;
#endif
    boost::json::array nodes;
    const Cell* base = vp.cells.empty() ? nullptr : &vp.cells.front();
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        const Node& n = vp.nodes[i];
        boost::json::object jn;
        jn["id"] = n.id;
        jn["plugin"] = n.plugin->spec.name;
        jn["version"] = n.plugin->spec.version;
        jn["library"] = n.plugin->builtin() ? std::string("(framework)") : n.plugin->file.string();
        boost::json::object params;
        if (base)
            for (const auto& [k, v] : base->params[i].all()) params[k] = to_json(v);
        jn["params"] = std::move(params);
        boost::json::object inputs;
        for (const auto& [port, src] : n.inputs) inputs[port] = vp.nodes[src].id;
        jn["inputs"] = std::move(inputs);
        if (!vp.alternatives[i].empty()) jn["alternatives"] = alternatives_json(vp, i);
        nodes.push_back(std::move(jn));
    }
    root["nodes"] = std::move(nodes);
    if (!p.sweep.empty()) {
        // As written: the document's own "sweep" (with a --smoke run's values in "axes").
        if (const auto* o = p.document.root().if_object(); o && o->contains("sweep")) root["sweep"] = o->at("sweep");
        root["axes"] = axes_json(p);
        root["note"] = "node params show the first sweep cell; the sweep replaces the swept keys and alternatives per cell";
    }
    if (!p.rates.empty()) root["rates"] = rates_json(p);
    comparisons_json(p, root);
    return root;
}

}  // namespace mdlab::runtime
