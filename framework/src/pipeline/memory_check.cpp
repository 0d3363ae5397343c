// Sizes against the machine's memory, before anything is allocated. In: the expanded cells and
// the plugins' specs. Out: a problem reported (once per node) for each data or sampler node whose
// n x D doubles cannot fit (a sampler holds about three such arrays: its state, the score, the
// noise). n is the parameter the spec marks as the sample count; D the first dimension marked
// on the node or upstream of it (ParamRole): no parameter is looked up by its name.
#include <set>

#include <unistd.h>

#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// The dimension of the points node i works with: the first dimension marked on it or found
// upstream of it (1 when none is: a lower bound).
std::size_t upstream_dim(const ValidatedPipeline& vp, const Cell& cell, std::size_t i, int depth = 0) {
    const Node& node = vp.node(cell, i);
    if (node.plugin)
        if (auto d = role_size(node.plugin->spec, cell.params[i], ParamRole::dimension)) return *d;
    if (depth > 64) return 1;
    for (const auto& in : node.inputs)
        if (std::size_t d = upstream_dim(vp, cell, in.second, depth + 1); d > 1) return d;
    return 1;
}

std::string byte_text(double bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, ++u;
    return fmt::format("{:.3g} {}", bytes, units[u]);
}

}  // namespace

void check_memory(ValidationState& state, const ValidatedPipeline& vp) {
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    std::set<std::string> reported;
    for (const Cell& cell : vp.cells)
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const Node& node = vp.node(cell, i);
            if (!node.plugin || (node.plugin->spec.kind != Kind::data && node.plugin->spec.kind != Kind::sampler)) continue;
            const auto size = role_size(node.plugin->spec, cell.params[i], ParamRole::sample_count);
            if (!size) continue;
            const std::string& key = node.plugin->spec.find_param(ParamRole::sample_count)->key;
            const std::size_t n = *size, d = upstream_dim(vp, cell, i);
            const double copies = node.plugin->spec.kind == Kind::sampler ? 3.0 : 1.0;
            const double bytes = static_cast<double>(n) * static_cast<double>(d) * 8.0 * copies;
            if (!(memory > 0.0) || bytes <= memory || !reported.insert(node.id).second) continue;
            const NodeDecl& decl = state.decl(cell, i);
            state.error(decl.param_pointer(key), false,
                        node.id, key,
                        fmt::format("{} = {} points in R^{} need at least {} ({} x {} x 8 bytes{}), more than this "
                                    "machine's {} of memory",
                                    key, n, d, byte_text(bytes), n, d, copies > 1.0 ? " x 3 arrays a sampler holds" : "",
                                    byte_text(memory)),
                        cell.assignments.empty() ? "reduce " + key
                                                 : "reduce " + key + " (in sweep cell " + std::to_string(cell.index) + ")");
        }
}

}  // namespace mdlab::runtime
