// The mdlab subcommands. Each returns the process exit code: 0 success, 1 a failed run,
// 2 bad input (BadInput thrown from here is reported by main and also gives 2).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "mdlab/runtime/bench.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "mdlab/runtime/run_directory.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::cli {

struct RunArgs {
    std::filesystem::path pipeline;
    std::filesystem::path out;  // empty: runs/<stem>-<time>
    std::vector<std::string> sets;
    int threads = 0;  // 0: all cores
    bool force = false;
    bool quiet = false;
    bool smoke = false;  // apply the pipeline's declared smoke size
};

struct ListArgs {
    std::string kind;  // empty: all
    bool json = false;
};

struct DescribeArgs {
    std::string name;
    bool json = false;
};

struct ScoreArgs {
    std::filesystem::path pipeline;
    std::string node;
    double t = 0.0;
    std::filesystem::path points;
    std::filesystem::path out;
    std::vector<std::string> sets;
    std::size_t cell = 0;
    bool denoise = false;  // write the Tweedie denoiser instead of the score
    int threads = 0;
};

// The workload options `bench score` and `bench run` share (mdlab/runtime/bench.hpp), and the
// threads and output format of both.
struct BenchWorkloadArgs : runtime::BenchWorkload {
    int threads = 0;
    bool json = false;
};

struct BenchScoreArgs : BenchWorkloadArgs, runtime::ScoreBenchOptions {};

// A whole sampling run: 200 steps from t = 1 to 1e-5, all timed, no warm-up.
struct BenchRunArgs : BenchWorkloadArgs, runtime::RunBenchOptions {
    BenchRunArgs() {
        steps = 200;
        warmup = 0;
        t_min = 1e-5;
    }
};

struct BenchPeakArgs {
    int threads = 0;
    bool json = false;
    double seconds = 0.2;
};

// Reads a pipeline file, applies its smoke size (if asked) and the --set overrides, and
// validates it against the registry.
runtime::ValidatedPipeline read_and_validate(const std::filesystem::path& file, const std::vector<std::string>& sets,
                                             const runtime::Registry& registry, bool smoke = false);

// Prints one line per failed node of a cell to stderr: file, cell, node, key and the error.
void report_failures(const std::filesystem::path& pipeline, const runtime::ValidatedPipeline& vp,
                     const runtime::CellOutcome& cell);

// Loads the plugins from --plugin-dir folders, MDLAB_PLUGIN_PATH and the standard places.
void load_plugins(runtime::Registry& registry, const std::vector<std::filesystem::path>& plugin_dirs);

int run(const RunArgs& args, const runtime::Registry& registry);

// Pieces of `run` shared with the MPI run (cmd_run_mpi.cpp).
// Limits TBB to `threads` worker threads while it lives (0: no limit).
class ThreadLimit {
public:
    explicit ThreadLimit(int threads) {
        if (threads > 0) limit_.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    }

private:
    std::optional<tbb::global_control> limit_;
};
// pipeline.json and the run's first log line.
void start_run_log(const RunArgs& args, const runtime::ValidatedPipeline& vp, runtime::RunDirectory& dir, int ranks);
// results.csv/json, the analysis, the table on stdout, the failures on stderr; the exit code.
int finish_run(const RunArgs& args, const runtime::ValidatedPipeline& vp, runtime::RunDirectory& dir,
               runtime::ProgressBar& bar, const runtime::RunOutcome& outcome);
int validate(const std::filesystem::path& pipeline, const std::vector<std::string>& sets, bool smoke,
             const runtime::Registry& registry);
int list_plugins(const ListArgs& args, const runtime::Registry& registry);
int describe(const DescribeArgs& args, const runtime::Registry& registry);
// Rewrites the parameter tables of a Markdown file from the specs; with check, only says which are stale.
int docs(const std::filesystem::path& file, bool check, const std::vector<std::string>& optional_plugins,
         const runtime::Registry& registry);
int score(const ScoreArgs& args, const runtime::Registry& registry);
int bench_score(const BenchScoreArgs& args, const runtime::Registry& registry);
int bench_run(const BenchRunArgs& args, const runtime::Registry& registry);
int bench_peak(const BenchPeakArgs& args);

}  // namespace mdlab::cli
