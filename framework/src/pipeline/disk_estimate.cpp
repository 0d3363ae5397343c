// The disk a run will write against the free space (see disk_estimate.hpp).
#include "disk_estimate.hpp"

#include <set>

#include <sys/statvfs.h>

#include <fmt/format.h>

#include "../sweep/cell_configuration.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace fs = std::filesystem;

namespace {

constexpr double record_bytes_per_node = 256.0;  // a node's outcome in cell.json, beside its signature
constexpr double npy_header_bytes = 128.0;

// Free bytes of the file system holding `folder` (its nearest existing ancestor); negative when unknown.
double free_bytes(fs::path folder) {
    std::error_code ec;
    folder = fs::absolute(folder, ec);
    while (!folder.empty() && !fs::exists(folder, ec) && folder != folder.parent_path()) folder = folder.parent_path();
    struct statvfs st {};
    if (::statvfs(folder.c_str(), &st) != 0) return -1.0;
    return static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
}

// Bytes of the regular files under folder/cells (an earlier run's, which a resume keeps or replaces).
double earlier_bytes(const fs::path& folder) {
    std::error_code ec;
    double total = 0.0;
    if (!fs::is_directory(folder / "cells", ec)) return 0.0;
    for (fs::recursive_directory_iterator it(folder / "cells", ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) total += static_cast<double>(it->file_size(ec));
    return total;
}

}  // namespace

double estimated_run_bytes(const ValidatedPipeline& vp) {
    double total = 0.0;
    std::set<std::string> previous;  // the signatures of the cell before: their outputs are reused
    for (const Cell& cell : vp.cells) {
        const std::vector<std::string> sig = node_signatures(vp, cell);
        const std::vector<std::size_t> dims = point_dims(vp, cell);
        total += record_bytes_per_node * static_cast<double>(sig.size());
        for (std::size_t i = 0; i < sig.size(); ++i) {
            total += static_cast<double>(sig[i].size());
            if (previous.count(sig[i])) continue;
            if (const auto points = node_points(vp, cell, i, dims)) total += points->bytes() + npy_header_bytes;
        }
        previous = std::set<std::string>(sig.begin(), sig.end());
    }
    return total;
}

void check_disk_space(const ValidatedPipeline& vp, const fs::path& folder) {
    const double free = free_bytes(folder);
    if (free < 0.0) return;  // unknown: the run reports a full disk if it meets one
    const double needed = estimated_run_bytes(vp), usable = free + earlier_bytes(folder);
    if (needed <= usable) return;
    Diagnostic d;
    d.file = folder.string();
    d.message = fmt::format("the run will write at least {} ({} cells: records and the points of data and sampler "
                            "nodes), more than the {} free there",
                            byte_text(needed), vp.cells.size(), byte_text(usable));
    d.hint = "free some space, give another folder with --out, or reduce the sample counts or the sweep";
    throw BadInput(d);
}

}  // namespace mdlab::runtime
