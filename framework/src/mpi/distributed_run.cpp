#include "mdlab/runtime/distributed_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
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

// Worker -> rank 0: "give me a cell", carrying the packet of the cell just run (empty for the
// first requests).
constexpr int tag_ready = 1;
// Rank 0 -> worker, one answer per request: a cell index as text, or empty: no more cells.
constexpr int tag_assign = 2;
// Each worker keeps this many requests open, so that the next cell is already there when one
// ends: a worker never waits for rank 0's answer while rank 0 polls between its own cells.
constexpr int requests_in_flight = 2;

// The cells rank 0 still has to hand out, shared by its MPI thread and its own worker thread.
class CellQueue {
public:
    CellQueue(std::deque<std::size_t> cells, const std::atomic<bool>& cancel) : cells_(std::move(cells)), cancel_(cancel) {}
    std::optional<std::size_t> next() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_ || cancel_.load() || cells_.empty()) return std::nullopt;
        const std::size_t c = cells_.front();
        cells_.pop_front();
        return c;
    }

    // No more cells for anyone (an error ends the run).
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
    }

private:
    std::mutex mutex_;
    bool closed_ = false;
    std::deque<std::size_t> cells_;
    const std::atomic<bool>& cancel_;
};

// Rank 0's own share of the cells, run on a thread of its own. An error there closes the queue
// and is thrown again by finish(); the destructor (an error on the MPI side) closes the queue
// too and waits for the running cell.
class LocalCells {
public:
    LocalCells(CellQueue& queue, std::function<void(std::size_t)> run)
        : queue_(queue), thread_([this, run = std::move(run)] {
              try {
                  while (auto c = queue_.next()) run(*c);
              } catch (...) {
                  error_ = std::current_exception();
                  queue_.close();
              }
          }) {}
    ~LocalCells() {
        if (thread_.joinable()) {
            queue_.close();
            thread_.join();
        }
    }
    void finish() {
        thread_.join();
        if (error_) std::rethrow_exception(error_);
    }

private:
    CellQueue& queue_;
    std::exception_ptr error_;
    std::thread thread_;  // last: starts once the members above exist
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
        const fs::path folder = dir.cell_dir(packet.cell);
        for (const auto& [name, content] : packet.files) {
            const fs::path rel(name);
            if (rel.is_absolute() || std::find(rel.begin(), rel.end(), "..") != rel.end())
                throw Error("rank " + std::to_string(from) + " sent a file outside its cell folder: " + name);
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

}  // namespace

RunOutcome execute_distributed(const ValidatedPipeline& pipeline, const Registry& registry, RunDirectory& dir,
                               const std::atomic<bool>& cancel, MpiWorld& world) {
    CellExecutor cells(pipeline, registry, dir, cancel);
    std::vector<std::string> configuration(pipeline.cells.size());
    RunOutcome outcome;
    std::deque<std::size_t> todo;
    for (const Cell& cell : pipeline.cells) {
        configuration[cell.index] = cells.configuration(cell.index);
        if (auto earlier = cells.resumed(cell.index, configuration[cell.index]))
            outcome.cells.push_back(std::move(*earlier));
        else
            todo.push_back(cell.index);
    }
    CellQueue queue(std::move(todo), cancel);
    std::mutex outcome_mutex;
    auto keep = [&](CellOutcome c) {
        std::lock_guard<std::mutex> lock(outcome_mutex);
        outcome.cells.push_back(std::move(c));
    };

    // Rank 0 computes too, on its own thread; MPI stays on this one.
    LocalCells local(queue, [&](std::size_t c) { keep(cells.run(c, configuration[c])); });
    // Every worker sends requests_in_flight empty requests, then one packet per cell it got; the
    // loop ends when every packet is in and every request answered.
    std::vector<std::size_t> expected(world.size(), requests_in_flight), received(world.size(), 0);
    auto open_requests = [&] {
        std::size_t open = 0;
        for (int r = 1; r < world.size(); ++r) open += expected[r] - received[r];
        return open;
    };
    while (open_requests() > 0) {
        const int from = world.poll(tag_ready);
        if (from < 0) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            continue;
        }
        const std::string bytes = world.receive(from, tag_ready);
        ++received[from];
        if (!bytes.empty()) {
            const CellPacket packet = decode_cell_packet(bytes);
            keep(store_packet(packet, from, configuration.at(packet.cell), dir));
        }
        if (auto c = queue.next()) {
            world.send(from, tag_assign, std::to_string(*c));
            ++expected[from];  // its packet
        } else {
            world.send(from, tag_assign, "");
        }
    }
    local.finish();

    std::sort(outcome.cells.begin(), outcome.cells.end(),
              [](const CellOutcome& a, const CellOutcome& b) { return a.index < b.index; });
    outcome.cancelled = cancel.load();
    return outcome;
}

void serve_cells(const ValidatedPipeline& pipeline, const Registry& registry, const std::atomic<bool>& cancel,
                 MpiWorld& world, const fs::path& scratch_dir) {
    CellScratch scratch(scratch_dir);
    CellExecutor cells(pipeline, registry, scratch, cancel);
    std::size_t sent = 0, answered = 0;
    for (; sent < requests_in_flight; ++sent) world.send(0, tag_ready, "");
    while (answered < sent) {
        const std::string assigned = world.receive(0, tag_assign);
        ++answered;
        if (assigned.empty()) continue;
        CellPacket packet;
        packet.cell = std::stoull(assigned);
        const std::string configuration = cells.configuration(packet.cell);
        CellOutcome done = cells.run(packet.cell, configuration);
        packet.cancelled = cancel.load();
        try {
            auto taken = scratch.take(packet.cell);
            packet.files = std::move(taken.files);
            packet.log = std::move(taken.log);
        } catch (const std::exception& e) {
            fail_cell(done, std::string("the cell's files could not be read back on this rank: ") + e.what());
        }
        packet.record = cell_record(done, configuration);
        world.send(0, tag_ready, encode(packet));
        ++sent;
    }
}

}  // namespace mdlab::runtime
