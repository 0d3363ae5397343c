// The cells an earlier run finished in a run folder, found by their configuration rather than by
// their index, so that a sweep grown anywhere (values added in the middle of an axis, a new first
// value, another axis) reruns only its new cells. In: the run folder's records (cells/NNNN/ and
// cells/earlier/*/, each a cell.json beside the cell's files). Out: for each cell of the new sweep,
// the earlier outcome of a cell with the same configuration, its folder moved to the new cell's
// cells/NNNN; or nothing, and that folder cleared for the cell to run in.
//
// Every change on disk is a rename of a whole folder (or the removal of one holding no usable
// record), so a run killed at any moment leaves each record beside its files, found again by the
// next run. A record's reused nodes name the cell holding their files; a record is taken only when
// a cell of the new sweep already holds each such node's output (found by the node's signature,
// its line of the configuration), else the cell runs again.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class EarlierCells {
public:
    // Finds every successful record under `run_dir`/cells.
    explicit EarlierCells(std::filesystem::path run_dir);

    // Cell `cell` of the sweep, with this configuration: the earlier outcome (index `cell`, origin
    // cells in the new numbering), its folder now cells/NNNN; nullopt when the cell has to run,
    // its folder then cleared (a record there still unclaimed is moved to cells/earlier/).
    // Called once per cell, in the sweep's order.
    std::optional<CellOutcome> take(std::size_t cell, const std::string& configuration);

    // A cell that ran now: the nodes it computed are in its folder for records taken later.
    void ran(const CellOutcome& outcome, const std::string& configuration);

    // The index the record taken last had in the earlier run (for the log).
    std::size_t earlier_index() const { return earlier_index_; }

private:
    // The outcome recorded in `folder`, its origins renumbered; nullopt when it cannot be used now.
    std::optional<CellOutcome> usable(const std::filesystem::path& folder, std::size_t cell,
                                      const std::vector<std::string>& signatures, const std::string& configuration);
    // Empties cells/NNNN of `cell`: an unclaimed record moves to cells/earlier/, anything else goes.
    void clear(const std::filesystem::path& folder);

    std::filesystem::path dir_;
    std::multimap<std::string, std::filesystem::path> unclaimed_;  // configuration -> record's folder
    std::map<std::string, std::size_t> holders_;  // node signature -> a cell whose folder holds its output
    std::size_t earlier_index_ = 0;
    std::mutex mutex_;
};

}  // namespace mdlab::runtime
