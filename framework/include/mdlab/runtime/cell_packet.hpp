// What an MPI worker rank sends to rank 0 for each cell it ran: the cell's outcome record
// (as in cell.json), its log lines and the files it wrote into its cell folder. Rank 0 writes
// them into the one run folder, so the ranks need no shared file system.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::runtime {

struct CellPacket {
    std::size_t cell = 0;
    bool cancelled = false;  // stopped by a signal: not a finished cell
    std::string record;      // cell_record() text
    std::vector<std::string> log;
    std::vector<std::pair<std::string, std::string>> files;  // path inside the cell folder, content
};

std::string encode(const CellPacket& packet);
// Throws mdlab::Error when `bytes` is not a whole packet.
CellPacket decode_cell_packet(const std::string& bytes);

}  // namespace mdlab::runtime
