// In: the registry, a pipeline source and the run options. Out: the run folder written and the
// RunResult (one process; the MPI ranks' part is in src/mpi/run_ranks.cpp).
#include "mdlab/runtime/run.hpp"

#include "../isolation/cell_worker_handle.hpp"
#include "../pipeline/disk_estimate.hpp"

#include "mdlab/runtime/cancel.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/mpi_world.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "mdlab/runtime/run_directory.hpp"
#include "mdlab/runtime/thread_limit.hpp"

namespace mdlab::runtime {

std::vector<NodeFailure> node_failures(const ValidatedPipeline& vp, const CellOutcome& cell) {
    std::vector<NodeFailure> out;
    for (std::size_t i = 0; i < cell.nodes.size(); ++i)
        if (cell.nodes[i].status == NodeStatus::failed)
            out.push_back(NodeFailure{cell.index, vp.nodes[i].id, cell.nodes[i].error_key, cell.nodes[i].error,
                                      cell.nodes[i].input_error});
    return out;
}

int RunResult::exit_code() const {
    if (worker || outcome.ok()) return 0;
    return outcome.input_error() ? 2 : 1;
}

namespace {

// A plugin the host program defines itself (a Python callable) exists in this process only: such
// a pipeline's cells cannot run in a worker process.
bool uses_in_process_plugin(const ValidatedPipeline& vp) {
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        if (vp.nodes[i].plugin->make) return true;
        for (const Node& variant : vp.alternatives[i])
            if (variant.plugin->make) return true;
    }
    return false;
}

}  // namespace

Run::Run(const Registry& registry, PipelineSource source, RunOptions options)
    : Run(registry, std::move(source), std::move(options), nullptr) {}

Run::Run(const Registry& registry, PipelineSource source, RunOptions options, MpiWorld* world)
    : registry_(registry), source_(std::move(source)), options_(std::move(options)), world_(world) {
    if (world_ && world_->size() == 1) world_ = nullptr;  // one rank: an ordinary run
#ifdef MDLAB_HAVE_MPI
    if (world_) {
        validate_on_every_rank();
        return;
    }
#endif
    pipeline_ = read_and_validate(source_, options_.sets, options_.smoke, registry_);
    // Before the folder is made (folder() may make it): where it will be.
    check_disk_space(pipeline_, options_.out.empty() ? source_.default_run_dir() : options_.out);
    if (options_.isolation == Isolation::process && !uses_in_process_plugin(pipeline_)) {
        worker_program_ = worker_program();
        if (worker_program_.empty()) {
            Diagnostic d;
            d.file = source_.name();
            d.message = "cannot find the mdlab program to run the cells in worker processes";
            d.hint = "set MDLAB_WORKER_PROGRAM to the mdlab executable, or run the cells in this process "
                     "(--isolation none; a crashing plugin then ends the run)";
            throw BadInput(d);
        }
    }
}

const std::atomic<bool>& Run::cancel_flag() const {
    return options_.cancel ? *options_.cancel : install_interrupt_handler();
}

ProgressBar Run::progress_bar() const {
    return ProgressBar(pipeline_.cells.size(), pipeline_.nodes.size(), options_.progress && ProgressBar::stderr_is_terminal());
}

std::filesystem::path Run::folder() const {
    return options_.out.empty() ? new_run_dir(source_.default_run_dir()) : options_.out;
}

RunResult Run::execute() {
#ifdef MDLAB_HAVE_MPI
    if (world_) return execute_on_ranks();
#endif
    const ThreadLimit threads(options_.threads);
    ProgressBar bar = progress_bar();
    RunDirectory dir(folder(), options_.force, &bar, pipeline_);  // locked until the run ends
    start_log(dir, 1);
    if (worker_program_.empty()) return finish(dir, bar, runtime::execute(pipeline_, registry_, dir, cancel_flag()));
    dir.log("cells run in worker processes (" + worker_program_ + " cell-worker)");
    const WorkerSetup setup =
        worker_setup(registry_, source_, options_.sets, options_.smoke, options_.threads, bar.enabled());
    return finish(dir, bar, execute_isolated(pipeline_, dir, cancel_flag(), setup, worker_program_));
}

void Run::start_log(RunDirectory& dir, int ranks) const {
    const ValidatedPipeline& vp = pipeline_;
    dir.write("pipeline.json", json_pretty(resolved_pipeline(vp)));
    dir.log("mdlab run " + source_.name() + (options_.smoke ? " --smoke" : "") + ": " + std::to_string(vp.nodes.size()) +
            " nodes, " + std::to_string(vp.cells.size()) + (vp.cells.size() == 1 ? " cell" : " cells") +
            (ranks > 1 ? " on " + std::to_string(ranks) + " MPI ranks" : "") +
            (dir.resuming() ? " (resuming the run in this folder)" : ""));
}

RunResult Run::finish(RunDirectory& dir, ProgressBar& bar, RunOutcome outcome) const {
    bar.finish();
    RunResult r;
    r.folder = dir.path();
    r.cells = pipeline_.cells.size();
    r.resumed = dir.resuming();
    r.resumed_cells = dir.resumed_cells();
    r.rows = result_rows(pipeline_, outcome);
    dir.write("results.csv", results_csv(pipeline_, r.rows));
    dir.write("results.json", json_pretty(results_json(pipeline_, outcome)));
    r.analysis = write_analysis(dir.path());  // summary.csv, rates.csv, report.html
    for (const auto& cell : outcome.cells) {
        auto failed = node_failures(pipeline_, cell);
        r.failures.insert(r.failures.end(), failed.begin(), failed.end());
    }
    r.outcome = std::move(outcome);
    return r;
}

}  // namespace mdlab::runtime
