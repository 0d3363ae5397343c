// What determines each node's output in a cell, as text: its signature. The configuration of a
// cell (the record a resumed run matches, cells/<i>/cell.json) is its nodes' signatures, one a
// line. A node's signature names its own id, plugin, version, seed and parameters, and each
// upstream node by id and the digest of that node's signature: never by its text, so a record
// grows linearly with the graph (nesting the text grew it quadratically along a chain and
// exponentially through diamonds).
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

// By node index; needs vp.order. Equal signatures give equal outputs.
std::vector<std::string> node_signatures(const ValidatedPipeline& vp, const Cell& cell);
// The signatures, each followed by a newline.
std::string cell_configuration(const ValidatedPipeline& vp, const Cell& cell);

}  // namespace mdlab::runtime
