// The dimension of the points each node works with in one cell: the first dimension marked on
// the node (ParamRole::dimension) or found upstream of it, input by input; 1 when none is (a
// lower bound). Computed along the topological order, once per node: no recursion, and a
// diamond is not walked once per path.
#include "mdlab/runtime/param_binding.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

std::vector<std::size_t> point_dims(const ValidatedPipeline& vp, const Cell& cell) {
    std::vector<std::size_t> dim(vp.nodes.size(), 1);
    for (std::size_t i : vp.order) {
        const Node& node = vp.node(cell, i);
        if (node.plugin)
            if (auto d = role_size(node.plugin->spec, cell.params[i], ParamRole::dimension)) {
                dim[i] = *d;
                continue;
            }
        for (const auto& in : node.inputs)
            if (dim[in.second] > 1) {
                dim[i] = dim[in.second];
                break;
            }
    }
    return dim;
}

}  // namespace mdlab::runtime

namespace mdlab::runtime {

std::optional<NodePoints> node_points(const ValidatedPipeline& vp, const Cell& cell, std::size_t i,
                                      const std::vector<std::size_t>& dims) {
    const Node& node = vp.node(cell, i);
    if (!node.plugin || (node.plugin->spec.kind != Kind::data && node.plugin->spec.kind != Kind::sampler))
        return std::nullopt;
    const auto n = role_size(node.plugin->spec, cell.params[i], ParamRole::sample_count);
    if (!n) return std::nullopt;
    return NodePoints{*n, dims.at(i)};
}

}  // namespace mdlab::runtime
