// mdlab run under mpirun/srun: every rank validates the pipeline, rank 0 owns the run folder and
// hands out the cells, the other ranks run cells and send back what they produced.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include <signal.h>
#include <unistd.h>

#include "cmd_run_mpi.hpp"
#include "mdlab/runtime/cancel.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/distributed_run.hpp"

namespace mdlab::cli {

namespace {

// Stops the job when a rank meets an error outside any cell (a bug or a broken machine): the
// other ranks would otherwise wait for it for ever.
[[noreturn]] void abort_job(const runtime::MpiWorld& world, const std::string& why) {
    std::cerr << "mdlab: rank " << world.rank() << " of " << world.size() << ": fatal: " << why
              << "\nmdlab: stopping every rank; the cells already finished are kept in the run folder, and "
                 "rerunning the same command resumes the run\n";
    world.abort(1);
}

// Where a worker keeps a cell's files until they are sent: $MDLAB_SCRATCH, else /dev/shm (memory:
// creating files there costs far less than on a disk file system, and each lives for one cell
// only), else the temporary folder.
std::filesystem::path scratch_root() {
    if (const char* dir = std::getenv("MDLAB_SCRATCH")) return dir;
    if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
    return std::filesystem::temp_directory_path();
}

// Scratch folders left by workers that were killed (kill -9, a node's out-of-memory killer)
// hold one cell's files each; the next run on the machine removes those of dead processes.
void remove_stale_scratch(const std::filesystem::path& root) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        unsigned long pid = 0;
        int used = 0;
        if (std::sscanf(name.c_str(), "mdlab-%lu-rank%*d%n", &pid, &used) != 1 || used != static_cast<int>(name.size()))
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
    }
}

}  // namespace

int run_mpi(const RunArgs& args, const runtime::Registry& registry, runtime::MpiWorld& world) {
    if (world.size() == 1) return run(args, registry);
    const bool root = world.rank() == 0;

    // Every rank reads the pipeline; rank 0 speaks for all of them.
    std::optional<runtime::ValidatedPipeline> vp;
    std::optional<runtime::BadInput> bad;
    try {
        vp.emplace(read_and_validate(args.pipeline, args.sets, registry, args.smoke));
    } catch (const runtime::BadInput& e) {
        bad = e;
    }
    if (!world.all(!bad)) {
        if (!root) return 2;
        if (bad) throw *bad;
        std::cerr << args.pipeline.string() << ": error: another MPI rank could not read or validate the pipeline "
                  << "(is the file and every plugin folder visible from every node?)\n";
        return 2;
    }
    const ThreadLimit threads(args.threads);
    const std::atomic<bool>& cancel = runtime::install_interrupt_handler();

    if (!root) {
        if (!world.all(true)) return 2;  // rank 0 could not open the run folder
        const std::filesystem::path scratch = scratch_root();
        remove_stale_scratch(scratch);
        try {
            runtime::serve_cells(*vp, registry, cancel, world,
                                 scratch / ("mdlab-" + std::to_string(::getpid()) + "-rank" + std::to_string(world.rank())));
        } catch (const std::exception& e) {
            abort_job(world, e.what());
        }
        return 0;
    }

    runtime::ProgressBar bar(vp->cells.size(), vp->nodes.size(), runtime::ProgressBar::stderr_is_terminal());
    std::optional<runtime::RunDirectory> dir;
    try {
        dir.emplace(args.out.empty() ? runtime::default_run_dir(args.pipeline) : args.out, args.force, &bar);
        start_run_log(args, *vp, *dir, world.size());
    } catch (...) {
        world.all(false);
        throw;
    }
    world.all(true);
    runtime::RunOutcome outcome;
    try {
        outcome = runtime::execute_distributed(*vp, registry, *dir, cancel, world);
    } catch (const std::exception& e) {
        abort_job(world, e.what());
    }
    return finish_run(args, *vp, *dir, bar, outcome);
}

}  // namespace mdlab::cli
