// What a cell cost: its samplers' score evaluations and the wall time of its nodes and of itself.
#include <algorithm>
#include <cmath>

#include "mdlab/runtime/results.hpp"

namespace mdlab::runtime {

namespace {

std::optional<double> value_named(const NodeOutcome& n, const std::string& name) {
    if (n.status != NodeStatus::ok) return std::nullopt;
    for (const auto& [k, v] : n.values)
        if (k == name) return v;
    return std::nullopt;
}

// Node i's seconds where it was computed: this cell, or the earlier cell it was shared from.
std::optional<double> node_seconds(const RunOutcome& outcome, const CellOutcome& c, std::size_t i) {
    const NodeOutcome& n = c.nodes[i];
    if (n.status != NodeStatus::ok) return std::nullopt;
    if (!n.reused) return n.seconds;
    const auto origin = std::find_if(outcome.cells.begin(), outcome.cells.end(),
                                     [&](const CellOutcome& o) { return o.index == n.origin_cell; });
    if (origin == outcome.cells.end() || origin->nodes[i].reused) return std::nullopt;
    return origin->nodes[i].seconds;
}

}  // namespace

Cost cell_cost(const ValidatedPipeline& vp, const RunOutcome& outcome, const CellOutcome& c) {
    const Cell& cell = vp.cells[c.index];
    Cost cost;
    for (std::size_t i = 0; i < vp.nodes.size(); ++i)
        if (vp.node(cell, i).plugin->spec.kind == Kind::sampler)
            cost.emplace_back(vp.nodes[i].id + ".nfe", value_named(c.nodes[i], "nfe"));
    for (std::size_t i = 0; i < vp.nodes.size(); ++i)
        cost.emplace_back(vp.nodes[i].id + ".wall_s", node_seconds(outcome, c, i));
    cost.emplace_back("cell.wall_s", std::isnan(c.seconds) ? std::nullopt : std::optional<double>(c.seconds));
    return cost;
}

}  // namespace mdlab::runtime
