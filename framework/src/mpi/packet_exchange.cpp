#include "packet_exchange.hpp"

#include <algorithm>
#include <filesystem>

#include <mdlab/error.hpp>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_record.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// Marks every completed node of a cell as failed with `why` (its files could not be kept).
void fail_cell(CellOutcome& outcome, const std::string& why) {
    for (auto& node : outcome.nodes)
        if (node.status == NodeStatus::ok) {
            node.status = NodeStatus::failed;
            node.error = why;
        }
}

}  // namespace

CellPacket run_into_packet(CellExecutor& cells, CellScratch& scratch, std::size_t cell,
                           const std::string& configuration, const std::atomic<bool>& cancel) {
    CellPacket packet;
    packet.cell = cell;
    CellOutcome done = cells.run(cell, configuration);
    packet.cancelled = cancel.load();
    try {
        auto taken = scratch.take(cell);
        packet.files = std::move(taken.files);
        packet.log = std::move(taken.log);
    } catch (const std::exception& e) {
        fail_cell(done, std::string("the cell's files could not be read back from the scratch folder: ") + e.what());
    }
    packet.record = cell_record(done, configuration);
    return packet;
}

CellOutcome store_packet(const CellPacket& packet, const std::string& log_prefix, const std::string& configuration,
                         RunDirectory& dir) {
    auto outcome = parse_cell_record(packet.record, configuration);
    if (!outcome) throw Error(log_prefix + "sent an unreadable record for cell " + std::to_string(packet.cell));
    outcome->index = packet.cell;
    for (const auto& line : packet.log) dir.log(log_prefix + line);
    try {
        const fs::path folder = dir.cell_dir(packet.cell);
        for (const auto& [name, content] : packet.files) {
            const fs::path rel(name);
            if (rel.is_absolute() || std::find(rel.begin(), rel.end(), "..") != rel.end())
                throw Error(log_prefix + "sent a file outside its cell folder: " + name);
            const fs::path file = folder / rel;
            fs::create_directories(file.parent_path());
            write_file_atomic(file, content);
        }
    } catch (const std::exception& e) {
        fail_cell(*outcome, std::string("the cell's files could not be stored: ") + e.what());
        return *outcome;  // not recorded as finished: a rerun runs it again
    }
    if (!packet.cancelled) dir.cell_finished(*outcome, configuration);
    return *outcome;
}

}  // namespace mdlab::runtime
