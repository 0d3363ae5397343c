// A pipeline run. In: the registry, the pipeline's source and the run's options (folder,
// overrides, smoke size, force, threads, progress bar, cancel flag). Out: the run folder
// (pipeline.json, run.log, cells/, results.csv/json, summary.csv, rates.csv, report.html) and a
// RunResult holding what was written there. Prints nothing but the progress bar: what to show
// is the caller's choice (`mdlab run` prints the tables, the failures and the folder).
#pragma once
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mdlab/runtime/analysis.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/isolated_run.hpp"
#include "mdlab/runtime/pipeline_source.hpp"
#include "mdlab/runtime/results.hpp"

namespace mdlab::runtime {

class MpiWorld;
class ProgressBar;
class RunDirectory;

struct RunOptions {
    std::filesystem::path out;       // the run folder; empty: the source's default_run_dir()
    std::vector<std::string> sets;   // "node.key=value" overrides, applied after the smoke size's
    bool smoke = false;              // run at the pipeline's declared smoke size
    bool force = false;              // replace an earlier run's outputs instead of resuming it
    int threads = 0;                 // worker threads; 0: all cores
    bool progress = true;            // draw the progress bar on stderr (only when it is a terminal)
    const std::atomic<bool>* cancel = nullptr;  // stops the run after the current cell; null: Ctrl-C
    // Cells in worker processes (isolated_run.hpp), unless the pipeline uses a plugin that exists
    // in this process only (a Python callable) or the run is an MPI job: then in this process.
    Isolation isolation = Isolation::process;
};

// A node that failed in a cell (the nodes skipped downstream of it are not listed).
struct NodeFailure {
    std::size_t cell = 0;
    std::string node, key;  // key: the parameter the error named, or empty
    std::string message;
    bool input_error = false;  // the user's input (a file, a parameter), not a bug
};
std::vector<NodeFailure> node_failures(const ValidatedPipeline& vp, const CellOutcome& cell);

struct RunResult {
    std::filesystem::path folder;
    RunOutcome outcome;              // the cells that ran (or were resumed), in order
    std::vector<ResultRow> rows;     // results.csv's rows
    Analysis analysis;               // summary.csv, rates.csv and the rest of report.html
    std::size_t cells = 0;           // the sweep's cells, run or not
    bool resumed = false;            // the folder held an earlier run, which this one continued
    std::size_t resumed_cells = 0;   // cells that earlier run had finished, not run again
    std::vector<NodeFailure> failures;
    // An MPI rank other than 0: it ran cells for rank 0, which holds the folder and the results
    // (everything above is empty).
    bool worker = false;

    bool cancelled() const { return outcome.cancelled; }
    std::filesystem::path report() const { return folder / "report.html"; }
    // 0 every cell ran and every node succeeded; 2 a node failed on the user's input; 1 otherwise
    // (a failure or a cancelled run).
    int exit_code() const;
};

class Run {
public:
    // Reads and validates the pipeline; throws BadInput for a bad one.
    Run(const Registry& registry, PipelineSource source, RunOptions options);
    // As one rank of an MPI job (builds with MPI only; null world: as above). Every rank reads
    // and validates the pipeline; when any rank fails, rank 0 throws BadInput (its own, or one
    // saying another rank failed) and every other rank throws a BadInput with no diagnostics,
    // since rank 0 reports for all of them.
    Run(const Registry& registry, PipelineSource source, RunOptions options, MpiWorld* world);
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    const ValidatedPipeline& pipeline() const { return pipeline_; }
    const PipelineSource& source() const { return source_; }
    const RunOptions& options() const { return options_; }

    // Opens (or resumes) the run folder, runs every cell not finished there and writes the
    // results and the analysis. Throws BadInput when the folder cannot be used. A node's failure
    // does not throw: it is in the result. Under MPI, rank 0 owns the folder and hands out the
    // cells, the other ranks run cells for it and return a `worker` result; a rank's error outside
    // any cell stops every rank of the job.
    RunResult execute();

private:
    const std::atomic<bool>& cancel_flag() const;
    std::filesystem::path folder() const;
    ProgressBar progress_bar() const;
    // pipeline.json and the run's first log line.
    void start_log(RunDirectory& dir, int ranks) const;
    // results.csv/json and the analysis; the result.
    RunResult finish(RunDirectory& dir, ProgressBar& bar, RunOutcome outcome) const;
    // The MPI parts (src/mpi/run_ranks.cpp).
    void validate_on_every_rank();
    RunResult execute_on_ranks();
    // The program to run cells in when they are isolated; empty: they run in this process.
    std::string worker_program_;

    const Registry& registry_;
    PipelineSource source_;
    RunOptions options_;
    MpiWorld* world_ = nullptr;
    ValidatedPipeline pipeline_;
};

}  // namespace mdlab::runtime
