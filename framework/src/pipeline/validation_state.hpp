// What the validation stages share while they check one pipeline: the pipeline and the registry
// it is checked against, node indices by id, the parameters cells start from, and every problem
// found so far (reported together at the end of a stage).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../sweep/start_params.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

struct ValidationState {
    ValidationState(Pipeline& p, const std::vector<Override>& o, const Registry& r);

    Pipeline& pipeline;
    const std::vector<Override>& overrides;
    const Registry& registry;
    std::map<std::string, std::size_t> ids;  // node index by id
    StartParams start;
    std::vector<const std::vector<NodeDecl>*> variant_decls;  // by node index; null without alternatives
    DiagnosticList errors;
    std::map<std::string, std::pair<std::size_t, std::size_t>> file_shapes;  // input file -> rows, columns (input_files.cpp)

    // A problem at `pointer` in the pipeline file, placed at its key (at_key) or at its value.
    void error(const std::string& pointer, bool at_key, std::string node, std::string key, std::string message,
               std::string hint = {});
    std::vector<std::string> node_ids() const;
    // Node i as written for `cell`: its alternative's declaration there, or the node itself.
    const NodeDecl& decl(const Cell& cell, std::size_t i) const;
};

// "a manifold", "points (a sample step or a sampler)", ...: what a port expects or a node gives.
std::string value_kind_phrase(ValueKind k);

}  // namespace mdlab::runtime
