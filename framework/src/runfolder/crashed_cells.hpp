// The cells whose worker process died (a signal, exit() or an uncaught exception in a plugin)
// in runs into this folder: crashed-cells.json at the top of the run folder, one entry per
// configuration with the number of attempts and the failed outcome. A rerun runs such a cell once
// more; after a second death it reports the recorded failure without running it (--force starts
// over). A cell that later finishes is dropped from the file.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

inline constexpr const char* crashed_cells_file = "crashed-cells.json";

class CrashedCells {
public:
    // Attempts before a cell is no longer run again.
    static constexpr int attempts_allowed = 2;

    // Reads the folder's record (none: no crashed cells; an unreadable one is treated as none).
    explicit CrashedCells(std::filesystem::path run_dir);

    // How many times a cell with this configuration died.
    int attempts(const std::string& configuration) const;
    // The recorded failure, as cell `cell`, when the cell is not to be run again.
    std::optional<CellOutcome> given_up(std::size_t cell, const std::string& configuration) const;
    // A cell's worker died: one more attempt, recorded at once (written whole).
    void died(const CellOutcome& outcome, const std::string& configuration);
    // A cell with this configuration finished: no longer a crashed cell.
    void finished(const std::string& configuration);

private:
    void write() const;

    struct Entry {
        int attempts = 0;
        std::string record;  // cell_record() text
    };
    std::filesystem::path file_;
    std::map<std::string, Entry> entries_;  // by configuration
};

}  // namespace mdlab::runtime
