// Both ends of a cell packet (cell_packet.hpp): the process that runs a cell in a scratch folder
// packs it, the one that owns the run folder stores it. Used by MPI ranks and local cell workers.
#pragma once
#include <atomic>
#include <string>

#include "mdlab/runtime/cell_packet.hpp"
#include "mdlab/runtime/cell_scratch.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::runtime {

// Runs cell `cell` with `cells` (whose observer is `scratch`) and packs its record, log lines and
// files, taken out of the scratch folder.
CellPacket run_into_packet(CellExecutor& cells, CellScratch& scratch, std::size_t cell,
                           const std::string& configuration, const std::atomic<bool>& cancel);

// Writes the packet's files and log lines (each prefixed by `log_prefix`) into the run folder,
// then the cell's record unless it was cancelled; returns the outcome. A cell whose files could
// not be stored is returned failed and not recorded as finished (a rerun runs it again).
// mdlab::Error for a packet that cannot be read or names a file outside its cell folder.
CellOutcome store_packet(const CellPacket& packet, const std::string& log_prefix, const std::string& configuration,
                         RunDirectory& dir);

}  // namespace mdlab::runtime
