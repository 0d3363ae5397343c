// In: a Run made with an MpiWorld of two or more ranks (builds with MPI only). Out: rank 0 owns
// the run folder, hands out the cells and returns the RunResult; every other rank runs cells
// for it and returns a `worker` result. Every rank reads the pipeline; rank 0 speaks for all.
#include <optional>

#include "fatal_error.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/distributed_run.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "mdlab/runtime/run.hpp"
#include "mdlab/runtime/run_directory.hpp"
#include "mdlab/runtime/thread_limit.hpp"
#include "worker_scratch.hpp"

namespace mdlab::runtime {

namespace {

// Ends a rank other than 0 with exit code 2 and no message: rank 0 says what went wrong.
[[noreturn]] void quiet_bad_input() { throw BadInput(std::vector<Diagnostic>{}); }

}  // namespace

void Run::validate_on_every_rank() {
    std::optional<BadInput> bad;
    try {
        pipeline_ = read_and_validate(source_, options_.sets, options_.smoke, registry_);
    } catch (const BadInput& e) {
        bad = e;
    }
    if (world_->all(!bad)) return;
    if (world_->rank() != 0) quiet_bad_input();
    if (bad) throw *bad;
    Diagnostic d;
    d.file = source_.name();
    d.message = "another MPI rank could not read or validate the pipeline "
                "(is the file and every plugin folder visible from every node?)";
    throw BadInput(d);
}

RunResult Run::execute_on_ranks() {
    MpiWorld& world = *world_;
    const ThreadLimit threads(options_.threads);
    const std::atomic<bool>& cancel = cancel_flag();

    if (world.rank() != 0) {
        if (!world.all(true)) quiet_bad_input();  // rank 0 could not open the run folder
        const std::filesystem::path scratch = worker_scratch(world.rank());
        try {
            serve_cells(pipeline_, registry_, cancel, world, scratch);
        } catch (const std::exception& e) {
            abort_job(world, e.what());
        }
        RunResult r;
        r.worker = true;
        r.cells = pipeline_.cells.size();
        return r;
    }

    ProgressBar bar = progress_bar();
    std::optional<RunDirectory> dir;
    try {
        dir.emplace(folder(), options_.force, &bar, pipeline_);  // rank 0 holds the folder's lock
        start_log(*dir, world.size());
    } catch (...) {
        world.all(false);
        throw;
    }
    world.all(true);
    RunOutcome outcome;
    try {
        outcome = execute_distributed(pipeline_, registry_, *dir, cancel, world);
    } catch (const std::exception& e) {
        abort_job(world, e.what());
    }
    return finish(*dir, bar, std::move(outcome));
}

}  // namespace mdlab::runtime
