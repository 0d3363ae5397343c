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
};

// One sweep axis: "node.param" (or "seed") and its values.
struct SweepAxis {
    std::string key;
    std::string node, param;  // node empty for "seed"
    std::vector<boost::json::value> values;
    std::string pointer;
};

struct Pipeline {
    JsonDocument document;
    std::filesystem::path file;
    std::string name, description;
    std::uint64_t seed = 0;
    std::vector<NodeDecl> nodes;
    std::vector<SweepAxis> sweep;
};

// A --set node.key=value from the command line.
struct Override {
    std::string text;  // as typed
    std::string node, key;
    boost::json::value value;
};

// Reads the file's structure (fields, types, ids); plugin-level checks come in validate().
Pipeline read_pipeline(const std::filesystem::path& file);
Pipeline read_pipeline_text(std::string text, const std::string& name, const std::filesystem::path& base_dir = {});
// Parses "node.key=value"; throws BadInput naming the argument.
Override parse_override(const std::string& text);

// One sweep cell: its seed, its assignments, and every node's parameters.
struct Cell {
    std::size_t index = 0;
    std::uint64_t seed = 0;
    std::vector<std::pair<std::string, boost::json::value>> assignments;  // sweep key -> value
    std::vector<Params> params;                                           // by node index
};

struct Node {
    std::string id;
    const PluginRecord* plugin = nullptr;
    std::vector<std::pair<std::string, std::size_t>> inputs;  // port -> node index
};

struct ValidatedPipeline {
    Pipeline pipeline;
    std::vector<Node> nodes;         // same order as in the file
    std::vector<std::size_t> order;  // a topological order of node indices
    std::vector<Cell> cells;
    std::size_t node_index(const std::string& id) const;
};

// Checks everything against the registry and expands the sweep. Collects every problem and
// throws BadInput listing them all.
ValidatedPipeline validate(Pipeline pipeline, const std::vector<Override>& overrides, const Registry& registry);

}  // namespace mdlab::runtime
