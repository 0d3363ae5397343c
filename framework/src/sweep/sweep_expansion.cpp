// The sweep expanded into cells (see sweep_expansion.hpp).
#include "sweep_expansion.hpp"

#include <limits>

#include <mdlab/error.hpp>

#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

namespace {

constexpr std::size_t seed_key = std::numeric_limits<std::size_t>::max();

// The index of the node each key of each axis sets (seed_key for "seed"), looked up once.
std::vector<std::vector<std::size_t>> key_nodes(const std::vector<SweepAxis>& axes, const ValidatedPipeline& vp) {
    std::vector<std::vector<std::size_t>> out;
    for (const SweepAxis& a : axes) {
        out.emplace_back();
        for (const SweepKey& key : a.keys) out.back().push_back(key.node.empty() ? seed_key : vp.node_index(key.node));
    }
    return out;
}

std::uint64_t seed_value(const boost::json::value& v) {
    return v.is_uint64() ? v.as_uint64() : static_cast<std::uint64_t>(v.as_int64());
}

}  // namespace

std::optional<std::size_t> sweep_cell_count(const std::vector<SweepAxis>& axes) {
    std::size_t total = 1;
    for (const auto& a : axes) {
        total *= a.size();
        if (total > max_sweep_cells) return std::nullopt;
    }
    return total;
}

std::vector<Cell> expand_sweep(const std::vector<SweepAxis>& axes, std::uint64_t seed, const ValidatedPipeline& vp,
                               const StartParams& start) {
    const auto total = sweep_cell_count(axes);
    if (!total) throw Error("the sweep has more than a million cells");
    const auto nodes_of = key_nodes(axes, vp);
    std::vector<Cell> cells(*total);
    std::vector<std::size_t> pick(axes.size());  // by axis: the index of its value in this cell
    for (std::size_t c = 0; c < *total; ++c) {
        Cell& cell = cells[c];
        cell.index = c;
        cell.seed = seed;
        cell.params = start.nodes;
        cell.variant.assign(vp.nodes.size(), 0);
        std::size_t rest = c;  // the last axis varies fastest
        for (std::size_t k = axes.size(); k-- > 0;) {
            pick[k] = rest % axes[k].size();
            rest /= axes[k].size();
        }
        // Alternatives first: a swept parameter binds against the plugin the node runs in this cell.
        for (std::size_t k = 0; k < axes.size(); ++k)
            if (axes[k].type == SweepAxis::Type::alternatives) {
                const std::size_t i = nodes_of[k].front();
                cell.variant[i] = pick[k];
                cell.params[i] = start.alternatives[i][pick[k]];
            }
        for (std::size_t k = 0; k < axes.size(); ++k)
            for (std::size_t j = 0; j < axes[k].keys.size(); ++j) {
                const SweepKey& key = axes[k].keys[j];
                const boost::json::value& v = key.values[pick[k]];
                cell.assignments.emplace_back(key.key, v);
                if (axes[k].type == SweepAxis::Type::alternatives) continue;
                const std::size_t i = nodes_of[k][j];
                if (i == seed_key) {
                    cell.seed = seed_value(v);
                    continue;
                }
                cell.params[i].set(key.param, *bind_param(*vp.node(cell, i).plugin->spec.find_param(key.param), v).value);
            }
    }
    return cells;
}

}  // namespace mdlab::runtime
