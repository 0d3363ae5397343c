// Sizes against the machine's memory, before anything is allocated. In: the expanded cells and
// the plugins' specs. Out: a problem reported (once per node) for each data or sampler node whose
// n x D doubles cannot fit (a sampler holds about three such arrays: its state, the score, the
// noise), and once for the first cell whose nodes cannot fit together (a cell keeps every node's
// output until it ends). n is the parameter the spec marks as the sample count; D the first
// dimension marked on the node or upstream of it (ParamRole): no parameter is looked up by its name.
#include <set>

#include <unistd.h>

#include <fmt/format.h>

#include "validation_stages.hpp"

namespace mdlab::runtime {

void check_memory(ValidationState& state, const ValidatedPipeline& vp) {
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    if (!(memory > 0.0)) return;
    std::set<std::string> reported;
    bool cell_reported = false;
    for (const Cell& cell : vp.cells) {
        const std::vector<std::size_t> dims = point_dims(vp, cell);
        double cell_bytes = 0.0;
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const auto points = node_points(vp, cell, i, dims);
            if (!points) continue;
            const Node& node = vp.node(cell, i);
            const std::string& key = node.plugin->spec.find_param(ParamRole::sample_count)->key;
            const double copies = node.plugin->spec.kind == Kind::sampler ? 3.0 : 1.0;
            const double bytes = points->bytes() * copies;
            cell_bytes += bytes;
            if (bytes <= memory || !reported.insert(node.id).second) continue;
            const NodeDecl& decl = state.decl(cell, i);
            state.error(decl.param_pointer(key), false,
                        node.id, key,
                        fmt::format("{} = {} points in R^{} need at least {} ({} x {} x 8 bytes{}), more than this "
                                    "machine's {} of memory",
                                    key, points->n, points->d, byte_text(bytes), points->n, points->d,
                                    copies > 1.0 ? " x 3 arrays a sampler holds" : "", byte_text(memory)),
                        cell.assignments.empty() ? "reduce " + key
                                                 : "reduce " + key + " (in sweep cell " + std::to_string(cell.index) + ")");
        }
        if (cell_bytes <= memory || !reported.empty() || cell_reported) continue;
        cell_reported = true;
        state.error("/nodes", true, {}, "nodes",
                    fmt::format("the points of {} together need at least {}, more than this machine's {} of memory "
                                "(a cell keeps every node's output until it ends)",
                                cell.assignments.empty() ? std::string("the cell") : "sweep cell " + std::to_string(cell.index),
                                byte_text(cell_bytes), byte_text(memory)),
                    "reduce the sample counts of the data and sampler nodes");
    }
}

}  // namespace mdlab::runtime
