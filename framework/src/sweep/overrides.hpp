// --set overrides. In: the overrides, the nodes as validated (their plugins and alternatives) and
// the parameters cells start from. Out: those parameters with every override bound and applied,
// the pipeline's node declarations showing the value, and a diagnostic for each bad override,
// including one on a swept key (a --set never silently loses to the sweep).
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "start_params.hpp"

namespace mdlab::runtime {

// Whether an override sets `key` of node `node` (a required parameter may come from one).
bool is_overridden(const std::vector<Override>& overrides, const std::string& node, const std::string& key);

// Applies each override to the node as declared and to each of its alternatives that has the
// key; the node's declaration in `decls` records the value. An unknown node or key, or a value
// that does not bind, is reported to `errors` instead.
void apply_overrides(const std::vector<Override>& overrides, const ValidatedPipeline& vp, StartParams& start,
                     std::vector<NodeDecl>& decls, DiagnosticList& errors);

// Reports each override whose node.key is a key of the sweep (a grid axis or a zip group's key):
// the sweep would replace the value in every cell, so the override is refused, naming the axis,
// its values and where the pipeline declares it.
void check_swept_overrides(const std::vector<Override>& overrides, const Pipeline& pipeline, DiagnosticList& errors);

}  // namespace mdlab::runtime
