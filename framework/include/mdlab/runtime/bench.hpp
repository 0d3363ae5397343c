// mdlab bench as a library: the score kernels' speed against the machine's FMA peak (score), a
// whole sampling run and where its time goes (run), and the peak alone (peak). Each measures and
// returns its figures; bench_report.hpp turns them into text or JSON.
//
// The workload is what a sampler gives a kernel-type estimator: N training points on the
// `circle` manifold in R^D, M query points, S reverse-SDE Euler-Maruyama steps on the VP
// process's log-SNR grid. Every component is created through the registry with validated
// parameters and the runtime's node context, as a pipeline node is. The threads are those of
// the current TBB limit (the caller sets it, e.g. with tbb::global_control).
//
// Bad settings throw BadInput whose diagnostics name the command-line option behind them
// (--estimator, --dim, --param key, ...): the settings are the options of `mdlab bench`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <mdlab/params.hpp>

#include "mdlab/runtime/bench_fma_peak.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::runtime {

// The workload `bench score` and `bench run` share: the estimator, the sizes, the time grid and
// the seed (the defaults are bench score's).
struct BenchWorkload {
    std::string estimator = "empirical";
    std::size_t train = 4096;
    std::size_t queries = 4096;
    std::size_t dim = 16;
    std::size_t steps = 5;
    std::size_t warmup = 1;             // untimed score calls before the timed steps
    std::string precision;              // empty: the estimator's default (not passed)
    std::optional<double> bandwidth;    // the estimator's `bandwidth` parameter
    double t_min = 1e-3;
    std::vector<std::string> params;    // further estimator parameters, key=value
    std::uint64_t seed = 1;
};

struct ScoreBenchOptions {
    std::optional<double> sigma;        // fix every step at sigma(t) = sigma
    std::string init;                   // prior | data; empty: prior, or data with --sigma
    double peak_seconds = 0.2;
};

struct RunBenchOptions {
    std::size_t bands = 8;              // the per-step profile groups the steps into this many bands
};

// The kernels' instruction-set path (mdlab/isa.hpp), the CPU, and what chose the path.
struct KernelPath {
    std::string path;
    std::string cpu;
    std::string chosen_by;
};

// What both workload benches ran on, besides the workload itself.
struct BenchSetup {
    BenchWorkload workload;
    std::string estimator_plugin;  // the plugin's own name
    Params estimator_params;       // as bound: defaults, --bandwidth, --precision, --param
    std::string precision;         // the precision the estimator computes in
    std::size_t threads = 0;
    KernelPath kernel;
    double setup_ms = 0.0;         // training set and the estimator's preparation
    double peak_rss_mb = 0.0;      // the whole process's peak (getrusage ru_maxrss)
};

struct ScoreBenchFigures {
    BenchSetup setup;
    std::string init;              // where the queries start: "prior" or "data"
    bool fixed_sigma = false;      // every step at t_fixed (--sigma), else the log-SNR grid
    double t_fixed = 0.0, t_max = 0.0;
    double sigma_first = 0.0, sigma_last = 0.0;  // at the first and last timed score call
    double ms_per_step_median = 0.0, ms_per_step_mean = 0.0, score_ms_median = 0.0;
    double gflops = 0.0, score_gflops = 0.0;     // by the flop model, per step and in the score call
    std::string flop_model;
    FmaPeak peak;                  // in the estimator's precision, on the same threads
};

// Consecutive steps of a run, step indices from 0, inclusive.
struct BenchBand {
    std::size_t first = 0, last = 0;
    double sigma_first = 0.0, sigma_last = 0.0;  // at the band's first and last score call
    double ms = 0.0, score_ms = 0.0;
};

struct RunBenchFigures {
    BenchSetup setup;
    double t_max = 0.0;
    double total_seconds = 0.0;    // wall time of all steps, warm-up and setup excluded
    double steps_ms = 0.0, score_ms = 0.0;  // sums over the steps: whole steps, score calls
    std::vector<double> step_ms, step_score_ms, step_sigma, step_t;
    std::vector<BenchBand> bands;
};

struct PeakBenchFigures {
    FmaPeak f64, f32;
    double seconds = 0.0;          // each measurement's duration as asked
};

ScoreBenchFigures measure_bench_score(const BenchWorkload& workload, const ScoreBenchOptions& options,
                                      const Registry& registry);
RunBenchFigures measure_bench_run(const BenchWorkload& workload, const RunBenchOptions& options,
                                  const Registry& registry);
// `seconds` in (0, 10], else BadInput naming --seconds.
PeakBenchFigures measure_bench_peak(double seconds);

}  // namespace mdlab::runtime
