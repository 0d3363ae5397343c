// Pipelines: the JSON description, and the validated, ready-to-run form.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <mdlab/params.hpp>

#include "mdlab/runtime/family_decls.hpp"
#include "mdlab/runtime/json_document.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

// A node as written in the file.
struct NodeDecl {
    std::string id;
    std::string plugin;
    boost::json::object params;
    std::vector<std::pair<std::string, std::string>> inputs;  // port -> node id, in file order
    std::string pointer;                                       // JSON pointer of the node, /nodes/<i>
    // A node with alternatives: the keys of `params` (its shared params) that a variant whose
    // plugin lacks them leaves out instead of being an error ("shared_where_present").
    std::vector<std::string> shared_where_present;
    // A variant: the keys of `params` it inherits from its node's shared params (not its own), and
    // that node's pointer, where they are written. Empty for a node as declared.
    std::vector<std::string> inherited;
    std::string node_pointer;
    bool inherits(const std::string& key) const;
    // The JSON pointer where params[key] is written: the variant's own params, its node's shared
    // ones, or (a key not written at all) the declaration itself.
    std::string param_pointer(const std::string& key) const;
};

// One column of the sweep: "node.param", "seed", or (alternatives) a node id whose values are
// the variants' labels.
struct SweepKey {
    std::string key;
    std::string node, param;  // node empty for "seed"; param empty for alternatives
    std::vector<boost::json::value> values;
    std::string pointer;
};

// One axis of the sweep: a grid key, a zip group (keys that vary together) or a node's
// alternatives. Cells are the product of the axes; the last axis varies fastest.
struct SweepAxis {
    enum class Type { grid, zip, alternatives };
    Type type = Type::grid;
    std::vector<SweepKey> keys;     // grid: one; zip: several of equal length; alternatives: one
    std::vector<NodeDecl> variants;  // alternatives: the node as each variant declares it
    std::string pointer;
    std::size_t size() const { return keys.front().values.size(); }
};
std::string_view to_string(SweepAxis::Type t);

// A declared rate fit: slope of log(metric) against log(over).
struct RateDecl {
    std::string metric, over;  // "<metric node>.<value>", a sweep key
    std::vector<std::pair<std::string, double>> reference;  // named reference exponents
    std::string pointer;
};

// What `--smoke` changes: parameter overrides and replacement value lists for sweep keys.
struct SmokeDecl {
    std::vector<std::pair<std::string, boost::json::value>> set;    // "node.key" -> value
    std::vector<std::pair<std::string, boost::json::value>> sweep;  // sweep key -> values (array)
    bool declared = false;
};

struct Pipeline {
    JsonDocument document;
    std::filesystem::path file;
    std::string name, description;
    std::uint64_t seed = 0;
    std::vector<NodeDecl> nodes;
    std::vector<SweepAxis> sweep;
    std::vector<RateDecl> rates;
    std::vector<CorrelationDecl> correlations;
    std::vector<EquivalenceDecl> equivalence;
    std::vector<PlotDecl> plots;
    SmokeDecl smoke;
    // Every column of the sweep, axis by axis.
    std::vector<const SweepKey*> sweep_keys() const;
};

// A --set node.key=value from the command line.
struct Override {
    std::string text;  // as typed
    std::string node, key;
    boost::json::value value;
    std::string origin;  // where it came from, for messages; empty: "--set <text>"
};

// Reads the file's structure (fields, types, ids); plugin-level checks come in validate().
Pipeline read_pipeline(const std::filesystem::path& file);
Pipeline read_pipeline_text(std::string text, const std::string& name, const std::filesystem::path& base_dir = {});
// Parses "node.key=value"; throws BadInput naming the argument.
Override parse_override(const std::string& text);
// Applies the pipeline's "smoke" section: its sweep lists replace the swept values, its "set"
// entries are returned as overrides (to go before the command line's). Throws BadInput when the
// pipeline declares no smoke section or names keys it does not have.
std::vector<Override> apply_smoke(Pipeline& pipeline);

// One sweep cell: its seed, its assignments, and every node's parameters.
struct Cell {
    std::size_t index = 0;
    std::uint64_t seed = 0;
    std::vector<std::pair<std::string, boost::json::value>> assignments;  // sweep key -> value
    std::vector<Params> params;                                           // by node index
    std::vector<std::size_t> variant;  // by node index: which alternative (0 for nodes without)
};

struct Node {
    std::string id;
    const PluginRecord* plugin = nullptr;
    std::vector<std::pair<std::string, std::size_t>> inputs;  // port -> node index
    std::string label;  // an alternative's label; empty for a declared node
};

struct ValidatedPipeline {
    Pipeline pipeline;
    std::vector<Node> nodes;                      // as declared, same order as in the file
    std::vector<std::vector<Node>> alternatives;  // by node index: its variants (empty: none)
    std::vector<std::size_t> order;               // a topological order valid for every cell
    std::vector<Cell> cells;
    std::size_t node_index(const std::string& id) const;
    // Node i as it runs in `cell` (its alternative there, if it has alternatives).
    const Node& node(const Cell& cell, std::size_t i) const {
        return alternatives[i].empty() ? nodes[i] : alternatives[i][cell.variant[i]];
    }
};

// Checks everything against the registry and expands the sweep. Collects every problem and
// throws BadInput listing them all.
ValidatedPipeline validate(Pipeline pipeline, const std::vector<Override>& overrides, const Registry& registry);

}  // namespace mdlab::runtime
