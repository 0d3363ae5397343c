// Running a sweep's cells in worker processes (`--isolation process`, the default): a cell whose
// worker dies (a signal, exit(), an uncaught exception in any thread of a plugin) is recorded as
// failed, with how it died, the node and plugin that were running and the last lines of the
// worker's stderr, and the sweep goes on with a new worker. Results are the same bytes as a run
// in one process.
#pragma once
#include <atomic>
#include <string>

#include "mdlab/runtime/executor.hpp"

namespace mdlab::runtime {

class RunDirectory;
struct WorkerSetup;

enum class Isolation {
    process,  // cells run in a worker process
    none,     // cells run in this process (a crash in a plugin ends the run)
};
// "process" / "none"; nullopt for anything else.
std::optional<Isolation> isolation_from(std::string_view name);

// Runs every cell not finished in `dir` (nor given up after crashing twice, crashed_cells.hpp) in
// order, in worker processes started from `program` with `setup`; a worker is reused for cell after
// cell until it dies. Stops after the current cell once `cancel` is set. mdlab::Error when a worker
// cannot start or refuses the pipeline.
RunOutcome execute_isolated(const ValidatedPipeline& pipeline, RunDirectory& dir, const std::atomic<bool>& cancel,
                            const WorkerSetup& setup, const std::string& program);

}  // namespace mdlab::runtime
