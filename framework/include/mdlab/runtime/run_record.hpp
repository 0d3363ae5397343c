// A finished run folder read back: the sweep axes, every cell's nodes with their values and
// point files, and the declared rate fits. Reads results.json and pipeline.json of the
// current format and of the earlier one (no "axes", "kind", "inputs", "points", "rates" in
// results.json: those are then derived from the cells and pipeline.json).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "mdlab/runtime/family_decls.hpp"

namespace mdlab::runtime {

struct RunAxis {
    std::string key;   // "node.param", "seed", or a node id (alternatives)
    std::string type;  // grid | zip | alternatives | seed
    int group = -1;    // zip group: keys with the same group vary together
    std::vector<boost::json::value> values;
};

struct RunNode {
    std::string id, plugin;
    std::string kind;  // manifold | process | estimator | sampler | metric | data; empty when unknown
    std::vector<std::pair<std::string, std::string>> inputs;  // port -> node id
    std::string status, error;
    std::vector<std::pair<std::string, double>> values;  // NaN where the file holds no number
    std::filesystem::path points;                        // the node's .npy file; empty when none
};

struct RunCell {
    std::size_t index = 0;
    std::uint64_t seed = 0;
    std::vector<std::pair<std::string, boost::json::value>> sweep;  // axis key -> value, axes order
    std::vector<RunNode> nodes;                                     // pipeline order
    std::vector<std::pair<std::string, double>> cost;  // results.csv's cost columns (nfe, wall_s), NaN where empty

    const boost::json::value* axis_value(const std::string& key) const;  // null when not swept
    const RunNode* node(const std::string& id) const;                    // null when absent
};

// A declared fit: "<node>.<value>" against the sweep key `over`, with reference exponents.
struct RunRate {
    std::string node, value, over;
    std::vector<std::pair<std::string, double>> reference;
    std::string metric() const { return node + "." + value; }
};

struct RunRecord {
    std::filesystem::path dir;
    std::string name, description, status;
    std::vector<RunAxis> axes;
    std::vector<RunRate> rates;
    std::vector<CorrelationDecl> correlations;
    std::vector<EquivalenceDecl> equivalence;
    std::vector<PlotDecl> plots;
    std::vector<RunCell> cells;

    const RunAxis* axis(const std::string& key) const;  // null when not an axis
    // `key` and the keys of its zip group: they vary together, so they are one axis.
    std::vector<std::string> axis_keys(const std::string& key) const;
};

// Reads DIR/results.json and DIR/pipeline.json. Throws BadInput naming the file and the
// problem when DIR is not a run folder or a file is malformed.
RunRecord load_run(const std::filesystem::path& dir);

// True for a number stored as a JSON integer or double.
bool is_number(const boost::json::value& v);
double number_of(const boost::json::value& v);  // NaN when not a number

}  // namespace mdlab::runtime
