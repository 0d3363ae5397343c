// The mdlab subcommands. Each returns the process exit code: 0 success, 1 a failed run,
// 2 bad input (BadInput thrown from here is reported by main and also gives 2).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mdlab/runtime/bench.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/pipeline_source.hpp"
#include "mdlab/runtime/registry.hpp"
#include "mdlab/runtime/thread_limit.hpp"

namespace mdlab::runtime {
class MpiWorld;
}

namespace mdlab::cli {

using runtime::ThreadLimit;

struct RunArgs {
    std::filesystem::path pipeline;
    std::filesystem::path out;  // empty: runs/<stem>-<time>
    std::vector<std::string> sets;
    int threads = 0;  // 0: all cores
    bool force = false;
    bool quiet = false;
    bool smoke = false;  // apply the pipeline's declared smoke size
    std::string isolation = "process";  // runtime::isolation_from()
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

// Prints one line per failed node of a cell to stderr: file, cell, node, key and the error.
void report_failures(const std::filesystem::path& pipeline, const runtime::ValidatedPipeline& vp,
                     const runtime::CellOutcome& cell);

// Loads the plugins from --plugin-dir folders, MDLAB_PLUGIN_PATH and the standard places.
void load_plugins(runtime::Registry& registry, const std::vector<std::filesystem::path>& plugin_dirs);

// `world`: this process is one rank of an MPI job (builds with MPI only).
int run(const RunArgs& args, const runtime::Registry& registry, runtime::MpiWorld* world = nullptr);
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
