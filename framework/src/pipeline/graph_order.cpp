// The order nodes run in. In: the connections of every node and of every alternative. Out: one
// topological order valid for every cell; a cycle is reported with its path, and thrown. The
// depth-first search keeps its own stack (no recursion), so a chain of any length is fine.
#include <algorithm>

#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// Node i's sources: its own inputs, then every alternative's (one order serves every cell).
std::vector<std::vector<std::size_t>> sources_of(const ValidatedPipeline& vp) {
    std::vector<std::vector<std::size_t>> out(vp.nodes.size());
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        for (const auto& in : vp.nodes[i].inputs) out[i].push_back(in.second);
        for (const auto& alt : vp.alternatives[i])
            for (const auto& in : alt.inputs) out[i].push_back(in.second);
    }
    return out;
}

// "a -> b -> ... -> a", its middle left out when the cycle is long.
std::string cycle_text(const ValidatedPipeline& vp, const std::vector<std::size_t>& cycle) {
    constexpr std::size_t shown = 4;  // nodes shown at each end of a long cycle
    std::string path;
    for (std::size_t k = 0; k < cycle.size(); ++k) {
        if (cycle.size() > 2 * shown + 1 && k == shown) {
            path += "... (" + std::to_string(cycle.size() - 2 * shown) + " more nodes) -> ";
            k = cycle.size() - shown - 1;
            continue;
        }
        path += vp.nodes[cycle[k]].id + " -> ";
    }
    return path + vp.nodes[cycle.front()].id + " (" + std::to_string(cycle.size()) + " nodes)";
}

}  // namespace

std::vector<std::size_t> topological_order(ValidationState& state, const ValidatedPipeline& vp) {
    const auto sources = sources_of(vp);
    std::vector<int> visit_state(vp.nodes.size(), 0);  // 0 new, 1 on the stack, 2 done
    std::vector<std::size_t> order;
    std::vector<std::pair<std::size_t, std::size_t>> stack;  // node, next source to visit
    for (std::size_t root = 0; root < vp.nodes.size(); ++root) {
        if (visit_state[root]) continue;
        visit_state[root] = 1;
        stack.emplace_back(root, 0);
        while (!stack.empty()) {
            auto& [i, next] = stack.back();
            if (next == sources[i].size()) {  // every source placed: i follows them
                visit_state[i] = 2;
                order.push_back(i);
                stack.pop_back();
                continue;
            }
            const std::size_t s = sources[i][next++];
            if (visit_state[s] == 2) continue;
            if (visit_state[s] == 1) {
                std::vector<std::size_t> cycle;
                auto from = std::find_if(stack.begin(), stack.end(), [s](const auto& f) { return f.first == s; });
                for (auto it = from; it != stack.end(); ++it) cycle.push_back(it->first);
                state.error(state.pipeline.nodes[s].pointer + "/inputs", false, vp.nodes[s].id, "inputs",
                            "the inputs form a cycle: " + cycle_text(vp, cycle),
                            "a node cannot depend on its own output; remove one of these inputs");
                state.errors.throw_if_any();
            }
            visit_state[s] = 1;
            stack.emplace_back(s, 0);
        }
    }
    state.errors.throw_if_any();
    return order;
}

}  // namespace mdlab::runtime
