#include "mdlab/runtime/bench_report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>
#include <mdlab/stats.hpp>

#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

namespace {

boost::json::array json_array(const std::vector<double>& v) {
    boost::json::array a;
    a.reserve(v.size());
    for (double x : v) a.emplace_back(x);
    return a;
}

boost::json::object estimator_params_json(const BenchSetup& s) {
    boost::json::object o;
    for (const auto& [key, value] : s.estimator_params.all()) o[key] = to_json(value);
    return o;
}

// "empirical (precision = f64, spatial_index = true)".
std::string estimator_text(const BenchSetup& s) {
    std::string params;
    for (const auto& [key, value] : s.estimator_params.all())
        params += (params.empty() ? "" : ", ") + key + " = " + to_text(value);
    return s.estimator_plugin + (params.empty() ? "" : " (" + params + ")");
}

void add_kernel_path(boost::json::object& o, const KernelPath& k) {
    o["path"] = k.path;
    o["cpu"] = k.cpu;
    o["path_chosen_by"] = k.chosen_by;
}

std::string kernel_path_line(const KernelPath& k) {
    return fmt::format("  kernel path:    {} ({}; CPU: {})\n", k.path, k.chosen_by, k.cpu);
}

const char* plural(std::size_t n) { return n == 1 ? "" : "s"; }

}  // namespace

std::string bench_score_json(const ScoreBenchFigures& f) {
    const BenchSetup& s = f.setup;
    boost::json::object o;
    o["ms_per_step"] = f.ms_per_step_median;
    o["ms_per_step_mean"] = f.ms_per_step_mean;
    o["gflops"] = f.gflops;
    o["peak_fraction"] = f.gflops / f.peak.gflops;
    o["peak_gflops"] = f.peak.gflops;
    o["peak_rss_mb"] = s.peak_rss_mb;
    o["score_ms_per_step"] = f.score_ms_median;
    o["score_gflops"] = f.score_gflops;
    o["score_peak_fraction"] = f.score_gflops / f.peak.gflops;
    o["setup_ms"] = s.setup_ms;
    o["n_train"] = s.workload.train;
    o["n_queries"] = s.workload.queries;
    o["dim"] = s.workload.dim;
    o["steps"] = s.workload.steps;
    o["warmup_steps"] = s.workload.warmup;
    o["precision"] = s.precision;
    o["estimator"] = s.workload.estimator;
    o["estimator_params"] = estimator_params_json(s);
    o["threads"] = s.threads;
    o["grid"] = f.fixed_sigma ? "fixed_sigma" : "log_snr";
    o["sigma_first_step"] = f.sigma_first;
    o["sigma_last_step"] = f.sigma_last;
    o["init"] = f.init;
    o["isa"] = f.peak.isa;
    add_kernel_path(o, s.kernel);
    o["flop_model"] = f.flop_model;
    o["rss_note"] = "peak resident set of the whole process (getrusage ru_maxrss), setup included";
    return json_pretty(o);
}

std::string bench_score_text(const ScoreBenchFigures& f) {
    const BenchSetup& s = f.setup;
    const BenchWorkload& w = s.workload;
    const std::size_t S = w.steps;
    return fmt::format("mdlab bench score: {} estimator, N = {} training points on a circle in R^{}, M = {} queries ({}), {}, {} thread{}\n",
                       w.estimator, w.train, w.dim, w.queries, f.init == "prior" ? "from N(0, I)" : "from the noised data",
                       s.precision, s.threads, plural(s.threads)) +
           kernel_path_line(s.kernel) +
           (f.fixed_sigma ? fmt::format("  {} Euler-Maruyama step{}, all at sigma = {:.3g} (t = {:.4g}); {} untimed warm-up score call{}\n",
                                        S, plural(S), f.sigma_first, f.t_fixed, w.warmup, plural(w.warmup))
                          : fmt::format("  {} Euler-Maruyama step{} on the VP log-SNR grid, t = {:g} -> {:g} (sigma {:.3g} -> {:.3g} at the last score call); "
                                        "{} untimed warm-up score call{}\n",
                                        S, plural(S), f.t_max, w.t_min, f.sigma_first, f.sigma_last, w.warmup, plural(w.warmup))) +
           fmt::format("  time per step:  median {:.3f} ms, mean {:.3f} ms (score call alone: median {:.3f} ms); setup {:.0f} ms\n",
                       f.ms_per_step_median, f.ms_per_step_mean, f.score_ms_median, s.setup_ms) +
           fmt::format("  throughput:     {:.1f} GFLOP/s per step ({:.1f} in the score call) by the flop model: {}\n",
                       f.gflops, f.score_gflops, f.flop_model) +
           fmt::format("  FMA peak:       {:.1f} GFLOP/s {} ({}, {} threads): {:.1f}% of peak per step, {:.1f}% in the score call\n",
                       f.peak.gflops, s.precision == "f32" ? "f32" : "f64", f.peak.isa, f.peak.threads,
                       100.0 * f.gflops / f.peak.gflops, 100.0 * f.score_gflops / f.peak.gflops) +
           fmt::format("  peak RSS:       {:.1f} MB (getrusage ru_maxrss: the whole process's peak, setup included)\n",
                       s.peak_rss_mb);
}

std::string bench_run_json(const RunBenchFigures& f) {
    const BenchSetup& s = f.setup;
    const BenchWorkload& w = s.workload;
    const double S = double(w.steps);
    boost::json::object o;
    o["total_seconds"] = f.total_seconds;
    o["score_seconds"] = f.score_ms * 1e-3;
    o["setup_seconds"] = s.setup_ms * 1e-3;
    o["ms_per_step_mean"] = f.steps_ms / S;
    o["ms_per_step_median"] = stats::median(f.step_ms);
    o["steps"] = w.steps;
    o["warmup_steps"] = w.warmup;
    o["n_train"] = w.train;
    o["n_queries"] = w.queries;
    o["dim"] = w.dim;
    o["t_max"] = f.t_max;
    o["t_min"] = w.t_min;
    o["grid"] = "log_snr";
    o["sigma_first_step"] = f.step_sigma.front();
    o["sigma_last_step"] = f.step_sigma.back();
    o["estimator"] = w.estimator;
    o["estimator_params"] = estimator_params_json(s);
    o["precision"] = s.precision;
    o["threads"] = s.threads;
    o["seed"] = w.seed;
    add_kernel_path(o, s.kernel);
    o["step_ms"] = json_array(f.step_ms);
    o["step_score_ms"] = json_array(f.step_score_ms);
    o["step_sigma"] = json_array(f.step_sigma);
    o["step_t"] = json_array(f.step_t);
    boost::json::array band_list;
    for (const BenchBand& b : f.bands)
        band_list.push_back(boost::json::object{{"first_step", b.first + 1},
                                                {"last_step", b.last + 1},
                                                {"sigma_first", b.sigma_first},
                                                {"sigma_last", b.sigma_last},
                                                {"ms", b.ms},
                                                {"score_ms", b.score_ms},
                                                {"share", f.steps_ms > 0.0 ? b.ms / f.steps_ms : 0.0},
                                                {"ms_per_step", b.ms / double(b.last - b.first + 1)}});
    o["bands"] = std::move(band_list);
    o["peak_rss_mb"] = s.peak_rss_mb;
    o["timing_note"] = "total_seconds: wall time of all steps (score, noise, update), warm-up and setup excluded; "
                       "step_ms: each step whole; bands: consecutive steps, sigma at their first and last score call";
    return json_pretty(o);
}

std::string bench_run_text(const RunBenchFigures& f) {
    const BenchSetup& s = f.setup;
    const BenchWorkload& w = s.workload;
    std::string text =
        fmt::format("mdlab bench run: estimator {}, N = {} training points on a circle in R^{}, M = {} queries from N(0, I), {}, {} thread{}\n",
                    estimator_text(s), w.train, w.dim, w.queries, s.precision, s.threads, plural(s.threads)) +
        kernel_path_line(s.kernel) +
        fmt::format("  {} Euler-Maruyama steps on the VP log-SNR grid, t = {:g} -> {:g} (sigma {:.3g} -> {:.3g} at the last score call), "
                    "no noise on the last step; {} untimed warm-up score call{}\n",
                    w.steps, f.t_max, w.t_min, f.step_sigma.front(), f.step_sigma.back(), w.warmup, plural(w.warmup)) +
        fmt::format("  whole run:      {:.3f} s ({:.3f} ms per step on average, median {:.3f} ms); score calls {:.3f} s "
                    "({:.1f}%), noise and update {:.3f} s\n",
                    f.total_seconds, f.steps_ms / double(w.steps), stats::median(f.step_ms), f.score_ms * 1e-3,
                    f.steps_ms > 0.0 ? 100.0 * f.score_ms / f.steps_ms : 0.0, (f.steps_ms - f.score_ms) * 1e-3) +
        fmt::format("  setup:          {:.0f} ms (training set and the estimator's preparation, not in the run's time)\n",
                    s.setup_ms) +
        fmt::format("  peak RSS:       {:.1f} MB (getrusage ru_maxrss: the whole process's peak)\n", s.peak_rss_mb) +
        fmt::format("  where the time goes ({} bands of consecutive steps; sigma at the band's first and last score call):\n",
                    f.bands.size()) +
        fmt::format("    {:>9s}  {:>21s}  {:>10s}  {:>6s}  {:>9s}  {:>11s}\n", "steps", "sigma", "time (ms)", "share",
                    "ms/step", "score share");
    for (const BenchBand& b : f.bands)
        text += fmt::format("    {:>9s}  {:>9.3g} -> {:<9.3g}  {:>10.1f}  {:>5.1f}%  {:>9.3f}  {:>10.1f}%\n",
                            fmt::format("{}-{}", b.first + 1, b.last + 1), b.sigma_first, b.sigma_last, b.ms,
                            f.steps_ms > 0.0 ? 100.0 * b.ms / f.steps_ms : 0.0, b.ms / double(b.last - b.first + 1),
                            b.ms > 0.0 ? 100.0 * b.score_ms / b.ms : 0.0);
    return text;
}

std::string bench_peak_json(const PeakBenchFigures& f) {
    boost::json::object o;
    o["peak_gflops_f64"] = f.f64.gflops;
    o["peak_gflops_f32"] = f.f32.gflops;
    o["threads"] = f.f64.threads;
    o["isa"] = f.f64.isa;
    o["accumulators"] = f.f64.accumulators;
    o["lanes_f64"] = f.f64.lanes;
    o["lanes_f32"] = f.f32.lanes;
    o["seconds"] = f.f64.seconds + f.f32.seconds;
    o["flop_model"] = "2 flops per FMA lane";
    return json_pretty(o);
}

std::string bench_peak_text(const PeakBenchFigures& f) {
    return fmt::format("FMA peak, {} threads, {} ({} independent register accumulators per thread, "
                       "2 flops per FMA lane, {:.2f} s each):\n",
                       f.f64.threads, f.f64.isa, f.f64.accumulators, f.seconds) +
           fmt::format("  f64: {:8.1f} GFLOP/s ({:.1f} per thread, {} lanes)\n", f.f64.gflops,
                       f.f64.gflops / double(f.f64.threads), f.f64.lanes) +
           fmt::format("  f32: {:8.1f} GFLOP/s ({:.1f} per thread, {} lanes)\n", f.f32.gflops,
                       f.f32.gflops / double(f.f32.threads), f.f32.lanes);
}

}  // namespace mdlab::runtime
