// The order nodes run in. In: the connections of every node and of every alternative. Out: one
// topological order valid for every cell; a cycle is reported with its path, and thrown.
#include <algorithm>
#include <functional>

#include "validation_stages.hpp"

namespace mdlab::runtime {

std::vector<std::size_t> topological_order(ValidationState& state, const ValidatedPipeline& vp) {
    std::vector<int> visit_state(vp.nodes.size(), 0);  // 0 new, 1 on stack, 2 done
    std::vector<std::size_t> order, stack;
    bool cyclic = false;
    std::function<void(std::size_t)> visit = [&](std::size_t i) {
        if (cyclic || visit_state[i] == 2) return;
        if (visit_state[i] == 1) {
            std::string path;
            auto from = std::find(stack.begin(), stack.end(), i);
            for (auto it = from; it != stack.end(); ++it) path += vp.nodes[*it].id + " -> ";
            path += vp.nodes[i].id;
            state.error(state.pipeline.nodes[i].pointer + "/inputs", false, vp.nodes[i].id, "inputs",
                        "the inputs form a cycle: " + path,
                        "a node cannot depend on its own output; remove one of these inputs");
            cyclic = true;
            return;
        }
        visit_state[i] = 1;
        stack.push_back(i);
        for (const auto& in : vp.nodes[i].inputs) visit(in.second);
        for (const auto& alt : vp.alternatives[i])  // one order serves every cell
            for (const auto& in : alt.inputs) visit(in.second);
        stack.pop_back();
        visit_state[i] = 2;
        order.push_back(i);
    };
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) visit(i);
    state.errors.throw_if_any();
    return order;
}

}  // namespace mdlab::runtime
