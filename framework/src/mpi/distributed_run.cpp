#include "mdlab/runtime/distributed_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <mdlab/error.hpp>

#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/cell_packet.hpp"
#include "mdlab/runtime/cell_record.hpp"
#include "mdlab/runtime/cell_scratch.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

// Worker -> rank 0: "give me a cell", carrying the packet of the cell just run (empty at first).
constexpr int tag_ready = 1;
// Rank 0 -> worker: a cell index as text, or empty: stop.
constexpr int tag_assign = 2;

// The cells rank 0 still has to hand out, shared by its MPI thread and its own worker thread.
class CellQueue {
public:
    CellQueue(std::deque<std::size_t> cells, const std::atomic<bool>& cancel) : cells_(std::move(cells)), cancel_(cancel) {}
    std::optional<std::size_t> next() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (cancel_.load() || cells_.empty()) return std::nullopt;
        const std::size_t c = cells_.front();
        cells_.pop_front();
        return c;
    }

private:
    std::mutex mutex_;
    std::deque<std::size_t> cells_;
    const std::atomic<bool>& cancel_;
};

// Marks every completed node of a cell as failed with `why` (its files could not be kept).
void fail_cell(CellOutcome& outcome, const std::string& why) {
    for (auto& node : outcome.nodes)
        if (node.status == NodeStatus::ok) {
            node.status = NodeStatus::failed;
            node.error = why;
        }
}

// Rank 0's side of one packet: the worker's files and log lines into the run folder, then the
// cell's record, as a cell run here would have written them.
CellOutcome store_packet(const CellPacket& packet, int from, const std::string& configuration, RunDirectory& dir) {
    auto outcome = parse_cell_record(packet.record, configuration);
    if (!outcome) throw Error("rank " + std::to_string(from) + " sent an unreadable record for cell " + std::to_string(packet.cell));
    outcome->index = packet.cell;
    for (const auto& line : packet.log) dir.log("[rank " + std::to_string(from) + "] " + line);
    try {
        for (const auto& [name, content] : packet.files) {
            const fs::path rel(name);
            if (rel.is_absolute() || std::find(rel.begin(), rel.end(), "..") != rel.end())
                throw Error("rank " + std::to_string(from) + " sent a file outside its cell folder: " + name);
            const fs::path file = dir.cell_dir(packet.cell) / rel;
            fs::create_directories(file.parent_path());
            write_file_atomic(file, content);
        }
    } catch (const std::exception& e) {
        fail_cell(*outcome, std::string("the cell's files could not be stored: ") + e.what());
        return *outcome;  // not recorded as finished: a rerun runs it again
    }
    for (std::size_t i = 0; i < outcome->nodes.size(); ++i) dir.progress(packet.cell, i, 1.0);
    if (!packet.cancelled) dir.cell_finished(*outcome, configuration);
    return *outcome;
}

}  // namespace

RunOutcome execute_distributed(const ValidatedPipeline& pipeline, const Registry& registry, RunDirectory& dir,
                               const std::atomic<bool>& cancel, const MpiWorld& world) {
    CellExecutor cells(pipeline, registry, dir, cancel);
    std::vector<std::string> configuration(pipeline.cells.size());
    RunOutcome outcome;
    std::deque<std::size_t> todo;
    for (const Cell& cell : pipeline.cells) {
        configuration[cell.index] = cells.configuration(cell.index);
        if (auto earlier = dir.finished(cell.index, configuration[cell.index])) {
            earlier->index = cell.index;
            earlier->resumed = true;
            outcome.cells.push_back(std::move(*earlier));
        } else {
            todo.push_back(cell.index);
        }
    }
    CellQueue queue(std::move(todo), cancel);
    std::mutex outcome_mutex;
    auto keep = [&](CellOutcome c) {
        std::lock_guard<std::mutex> lock(outcome_mutex);
        outcome.cells.push_back(std::move(c));
    };

    // Rank 0 computes too, on its own thread; MPI stays on this one.
    std::thread local([&] {
        while (auto c = queue.next()) {
            CellOutcome done = cells.run(*c);
            if (!cancel.load()) dir.cell_finished(done, configuration[*c]);
            keep(std::move(done));
        }
    });
    int serving = world.size() - 1;
    while (serving > 0) {
        const int from = world.poll(tag_ready);
        if (from < 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            continue;
        }
        const std::string bytes = world.receive(from, tag_ready);
        if (!bytes.empty()) {
            const CellPacket packet = decode_cell_packet(bytes);
            keep(store_packet(packet, from, configuration.at(packet.cell), dir));
        }
        if (auto c = queue.next()) {
            world.send(from, tag_assign, std::to_string(*c));
        } else {
            world.send(from, tag_assign, "");
            --serving;
        }
    }
    local.join();

    std::sort(outcome.cells.begin(), outcome.cells.end(),
              [](const CellOutcome& a, const CellOutcome& b) { return a.index < b.index; });
    outcome.cancelled = cancel.load();
    return outcome;
}

void serve_cells(const ValidatedPipeline& pipeline, const Registry& registry, const std::atomic<bool>& cancel,
                 const MpiWorld& world, const fs::path& scratch_dir) {
    CellScratch scratch(scratch_dir);
    CellExecutor cells(pipeline, registry, scratch, cancel);
    std::string report;  // the packet of the cell just run
    for (;;) {
        world.send(0, tag_ready, report);
        const std::string assigned = world.receive(0, tag_assign);
        if (assigned.empty()) return;
        CellPacket packet;
        packet.cell = std::stoull(assigned);
        CellOutcome done = cells.run(packet.cell);
        packet.cancelled = cancel.load();
        try {
            auto taken = scratch.take(packet.cell);
            packet.files = std::move(taken.files);
            packet.log = std::move(taken.log);
        } catch (const std::exception& e) {
            fail_cell(done, std::string("the cell's files could not be read back on this rank: ") + e.what());
        }
        packet.record = cell_record(done, cells.configuration(packet.cell));
        report = encode(packet);
    }
}

}  // namespace mdlab::runtime
