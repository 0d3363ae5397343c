// Limits that keep validation itself bounded, checked before the work they bound: the number of
// nodes, the memory the sweep's cells x nodes take once expanded, and the size of one cell's
// configuration record. Each refusal names the limit and how to stay within it.
#include <unistd.h>

#include <fmt/format.h>

#include "../sweep/cell_configuration.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// Bytes a Params holds: the map, and per entry a tree node (key, value) plus the heap text of
// long strings and lists. An estimate of the allocator's view, not an exact count.
double params_bytes(const Params& p) {
    double bytes = 48.0;
    for (const auto& [k, v] : p.all()) {
        bytes += 128.0 + (k.size() > 15 ? static_cast<double>(k.size()) : 0.0);
        if (auto* s = std::get_if<std::string>(&v)) bytes += s->size() > 15 ? static_cast<double>(s->size()) : 0.0;
        if (auto* l = std::get_if<std::vector<double>>(&v)) bytes += 8.0 * static_cast<double>(l->size());
    }
    return bytes;
}

double machine_memory() {
    return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

void check_node_count(ValidationState& state) {
    if (state.pipeline.nodes.size() <= max_pipeline_nodes) return;
    state.error("/nodes", true, {}, "nodes",
                fmt::format("the pipeline has {} nodes, more than the limit of {}", state.pipeline.nodes.size(),
                            max_pipeline_nodes),
                "split it into several pipelines");
}

void check_expanded_size(ValidationState& state, const ValidatedPipeline& vp, std::size_t cells) {
    double per_cell = 256.0;  // the cell itself: index, seed, assignments, variants
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        double most = params_bytes(state.start.nodes[i]);
        if (i < state.start.alternatives.size())
            for (const Params& alt : state.start.alternatives[i]) most = std::max(most, params_bytes(alt));
        per_cell += most;
    }
    const double node_cells = static_cast<double>(cells) * static_cast<double>(vp.nodes.size());
    const double bytes = per_cell * static_cast<double>(cells), memory = machine_memory();
    if (node_cells > static_cast<double>(max_node_cells))
        state.error("/sweep", false, {}, {},
                    fmt::format("the sweep's {} cells x {} nodes make {:.0f} node settings, more than the limit of {}",
                                cells, vp.nodes.size(), node_cells, max_node_cells),
                    "sweep fewer values, or split the sweep into several pipelines");
    else if (memory > 0.0 && bytes > memory / 2.0)
        state.error("/sweep", false, {}, {},
                    fmt::format("the sweep's {} cells x {} nodes need about {} of memory to expand, more than half "
                                "this machine's {}",
                                cells, vp.nodes.size(), byte_text(bytes), byte_text(memory)),
                    "sweep fewer values, or split the sweep into several pipelines");
}

void check_record_size(ValidationState& state, const ValidatedPipeline& vp) {
    // Cells differ only in their swept values: the first cell's record stands for the others'.
    if (vp.cells.empty()) return;
    const std::size_t size = cell_configuration(vp, vp.cells.front()).size();
    if (size <= max_record_bytes) return;
    state.error("/nodes", true, {}, "nodes",
                fmt::format("a cell's configuration record (cells/<i>/cell.json) would take {}, more than the limit "
                            "of {}",
                            byte_text(static_cast<double>(size)), byte_text(static_cast<double>(max_record_bytes))),
                "give long lists in files (a path parameter) rather than in the pipeline, or use fewer nodes");
}

std::string byte_text(double bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, ++u;
    return fmt::format("{:.3g} {}", bytes, units[u]);
}

}  // namespace mdlab::runtime
