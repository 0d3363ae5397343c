// What a run folder keeps of each finished sweep cell (cells/NNNN/cell.json), so that a rerun
// into the same folder skips it: the cell's configuration and its outcome.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

// The record as text (JSON). Values are kept as shortest round-trip text, so that NaN and
// infinities survive and a resumed results.csv is byte-identical to an uninterrupted one.
std::string cell_record(const CellOutcome& outcome, const std::string& configuration);

// The outcome stored in `file` when it records exactly `configuration` (which names every node);
// nullopt when the file is missing, unreadable or records another configuration.
std::optional<CellOutcome> read_cell_record(const std::filesystem::path& file, const std::string& configuration);

// The same from the record's text (a record sent by another MPI rank).
std::optional<CellOutcome> parse_cell_record(const std::string& text, const std::string& configuration);

}  // namespace mdlab::runtime
