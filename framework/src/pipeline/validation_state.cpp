// The state the validation stages share (see validation_state.hpp).
#include "validation_state.hpp"

namespace mdlab::runtime {

ValidationState::ValidationState(Pipeline& p, const std::vector<Override>& o, const Registry& r)
    : pipeline(p), overrides(o), registry(r) {
    for (std::size_t i = 0; i < p.nodes.size(); ++i) ids[p.nodes[i].id] = i;
    start.nodes.resize(p.nodes.size());
    start.alternatives.resize(p.nodes.size());
    variant_decls.assign(p.nodes.size(), nullptr);
}

void ValidationState::error(const std::string& pointer, bool at_key, std::string node, std::string key,
                            std::string message, std::string hint) {
    const JsonDocument& doc = pipeline.document;
    const SourcePos pos = at_key ? doc.key_position(pointer) : doc.position(pointer);
    errors.add(Diagnostic{doc.name(), pos.line, pos.column, pointer, std::move(node), std::move(key),
                          std::move(message), std::move(hint)});
}

std::vector<std::string> ValidationState::node_ids() const {
    std::vector<std::string> out;
    for (const auto& n : pipeline.nodes) out.push_back(n.id);
    return out;
}

const NodeDecl& ValidationState::decl(const Cell& cell, std::size_t i) const {
    return variant_decls[i] ? (*variant_decls[i])[cell.variant[i]] : pipeline.nodes[i];
}

std::string value_kind_phrase(ValueKind k) {
    switch (k) {
    case ValueKind::manifold: return "a manifold";
    case ValueKind::points: return "points (a sample step or a sampler)";
    case ValueKind::process: return "a forward process";
    case ValueKind::estimator: return "a score estimator";
    case ValueKind::none: return "nothing";
    }
    return "?";
}

}  // namespace mdlab::runtime
