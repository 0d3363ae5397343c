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

#include "packet_exchange.hpp"

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
            keep(store_packet(packet, "[rank " + std::to_string(from) + "] ", configuration.at(packet.cell), dir));
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
        const std::size_t cell = std::stoull(assigned);
        const CellPacket packet = run_into_packet(cells, scratch, cell, cells.configuration(cell), cancel);
        world.send(0, tag_ready, encode(packet));
        ++sent;
    }
}

}  // namespace mdlab::runtime
