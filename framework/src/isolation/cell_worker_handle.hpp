// The parent's side of one cell worker process (`mdlab cell-worker`): started with the run's
// setup, it runs the cells it is sent, one at a time, until it dies or is dropped.
#pragma once
#include <atomic>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "child_process.hpp"
#include "mdlab/runtime/cell_packet.hpp"
#include "worker_setup.hpp"

namespace mdlab::runtime {

class RunObserver;

// How a worker died during a cell, and what it was doing.
struct WorkerDeath {
    std::string how;                     // "was killed by signal 11 (SIGSEGV)", "exited with code 0"
    std::set<std::size_t> running, done;  // nodes (by index) running / ended when it died
    std::vector<std::string> stderr_tail;
};

class CellWorkerHandle {
public:
    // Starts the worker and waits until it has validated the pipeline. mdlab::Error (with the
    // worker's message or end and its last stderr lines) when it cannot start or refuses.
    CellWorkerHandle(const std::string& program, const WorkerSetup& setup);

    // Runs the cell; its progress goes to `observer`. `cancel` set meanwhile: the worker is told to
    // stop the cell (its packet then says cancelled). mdlab::Error when the worker refuses the cell.
    std::variant<CellPacket, WorkerDeath> run(std::size_t cell, const std::string& configuration,
                                              RunObserver& observer, const std::atomic<bool>& cancel);

private:
    ChildProcess child_;
};

// The program that runs cell workers (`<program> cell-worker`): $MDLAB_WORKER_PROGRAM, else
// this process's own executable when it is mdlab, else the mdlab of the build tree or of the
// install prefix; empty when none exists.
std::string worker_program();

}  // namespace mdlab::runtime
