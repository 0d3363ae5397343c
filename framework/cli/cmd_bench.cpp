// mdlab bench score / mdlab bench peak: the score kernels' speed against the machine's limit.
//
// bench score builds the workload a sampler gives a kernel-type estimator: N training points on
// the `circle` manifold in R^D, M query points from the VP prior N(0, I), and S reverse-SDE
// Euler-Maruyama steps on the log-SNR grid from t = T down to t_min, each step one score call on
// the current points followed by the update (so later steps run at small sigma, as in real
// sampling). Every component is created through the registry with validated parameters, as a
// pipeline node would be. The FMA peak is measured in the same process (fma_peak.cpp), so the
// fraction of peak compares like with like.
//
// Flop model: 4 D flops per (query, training point) pair -- 2 D for the squared distance, 2 D for
// the weighted sum, the accounting of attention's two matrix products -- with exp counted as one
// (and so neglected next to 4 D). The drift estimator with a `model` input attends over the
// data and the model samples: M (N + M) pairs.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>

#include <boost/json/object.hpp>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/sampling.hpp>
#include <mdlab/stats.hpp>
#include <mdlab/time_grid.hpp>

#include "commands.hpp"
#include "fma_peak.hpp"
#include "mdlab/runtime/cancel.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::cli {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* flop_model_text =
    "4 D flops per (query, training point) pair (distance and weighted sum), exp counted as one";

runtime::Diagnostic option_error(const std::string& option, std::string message, std::string hint = {}) {
    runtime::Diagnostic d;
    d.file = "command line";
    d.key = option;
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

// A Context for components created outside a pipeline: fixed seed, node id, a scratch folder.
class BenchContext : public Context {
public:
    BenchContext(std::uint64_t seed, std::string node, const fs::path& dir, const std::atomic<bool>& cancel)
        : seed_(seed), node_(std::move(node)), dir_(dir), cancel_(cancel) {}
    std::uint64_t seed() const override { return seed_; }
    const std::string& node_id() const override { return node_; }
    const fs::path& output_dir() const override { return dir_; }
    void log(std::string_view) override {}
    void progress(double) override {}
    bool cancelled() const override { return cancel_.load(); }

private:
    std::uint64_t seed_;
    std::string node_;
    fs::path dir_;
    const std::atomic<bool>& cancel_;
};

// Scratch folder for files an estimator may write while preparing; removed at scope exit.
class ScratchDir {
public:
    ScratchDir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() / ("mdlab-bench-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// One parameter given on the command line, with the option that set it (for messages).
struct Setting {
    std::string key;
    boost::json::value value;
    std::string option;
};

// The plugin's defaults overridden by the settings, each checked against the plugin's spec
// exactly as a pipeline node's params are.
Params bind_settings(const runtime::PluginRecord& rec, const std::vector<Setting>& settings) {
    Params params;
    for (const auto& spec : rec.spec.params)
        if (spec.default_value) params.set(spec.key, *spec.default_value);
    std::vector<runtime::Diagnostic> bad;
    for (const auto& s : settings) {
        const ParamSpec* spec = rec.spec.find_param(s.key);
        if (!spec) {
            std::vector<std::string> keys;
            for (const auto& p : rec.spec.params) keys.push_back(p.key);
            std::string hint = keys.empty() ? "'" + rec.spec.name + "' takes no parameters"
                                            : runtime::suggest(s.key, keys, "its parameters");
            if (s.key == "precision")
                hint = "this build's '" + rec.spec.name +
                       "' has no precision parameter (f64 only): leave out --precision";
            bad.push_back(option_error(s.option, rec.spec.kind == Kind::estimator
                                                     ? "estimator '" + rec.spec.name + "' has no parameter '" + s.key + "'"
                                                     : "plugin '" + rec.spec.name + "' has no parameter '" + s.key + "'",
                                       hint));
            continue;
        }
        runtime::Bound b = runtime::bind_param(*spec, s.value);
        if (!b.value) {
            bad.push_back(option_error(s.option, "parameter '" + s.key + "' of '" + rec.spec.name + "': " + b.error));
            continue;
        }
        params.set(spec->key, *b.value);
    }
    for (const auto& spec : rec.spec.params)
        if (!params.has(spec.key))
            bad.push_back(option_error("--param", "estimator '" + rec.spec.name + "' needs parameter '" + spec.key + "'",
                                       "give it with --param " + spec.key + "=<value>"));
    if (!bad.empty()) throw runtime::BadInput(bad);
    return params;
}

template <class T>
std::shared_ptr<T> create_as(const runtime::Registry& registry, const runtime::PluginRecord& rec, const Params& params) {
    auto made = std::dynamic_pointer_cast<T>(registry.create(rec, params));
    if (!made) throw Error("plugin '" + rec.spec.name + "' does not implement the interface of its kind");
    return made;
}

const runtime::PluginRecord& require_plugin(const runtime::Registry& registry, const std::string& name) {
    const runtime::PluginRecord* rec = registry.find(name);
    if (!rec) throw Error("mdlab bench needs the '" + name + "' plugin, which is not loaded");
    return *rec;
}

// Peak resident set size of this process in MB (Linux reports ru_maxrss in kB).
double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

// Threads the benchmark can use: the global limit (--threads) within the arena's slots.
std::size_t usable_threads() {
    const std::size_t allowed = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return std::max<std::size_t>(1, std::min<std::size_t>(allowed, std::size_t(tbb::this_task_arena::max_concurrency())));
}

void check_peak_seconds(double s) {
    if (!(s > 0.0 && s <= 10.0))
        throw runtime::BadInput(option_error("--peak-seconds", fmt::format("{} is out of range", s),
                                             "a duration in seconds in (0, 10]"));
}

// What the command line option behind a plugin's InputError key is.
std::string option_for_key(const std::string& key, const std::vector<Setting>& settings) {
    for (const auto& s : settings)
        if (s.key == key) return s.option;
    if (key == "data") return "--train";
    if (key == "model") return "--queries";
    if (key == "ambient_dim") return "--dim";
    return key.empty() ? "--estimator" : "--param " + key;
}

}  // namespace

int bench_peak(const BenchPeakArgs& args) {
    check_peak_seconds(args.seconds);
    const ThreadLimit limit(args.threads);
    const std::size_t threads = usable_threads();
    const FmaPeak f64 = measure_fma_peak(false, threads, args.seconds);
    const FmaPeak f32 = measure_fma_peak(true, threads, args.seconds);
    if (args.json) {
        boost::json::object o;
        o["peak_gflops_f64"] = f64.gflops;
        o["peak_gflops_f32"] = f32.gflops;
        o["threads"] = f64.threads;
        o["isa"] = f64.isa;
        o["accumulators"] = f64.accumulators;
        o["lanes_f64"] = f64.lanes;
        o["lanes_f32"] = f32.lanes;
        o["seconds"] = f64.seconds + f32.seconds;
        o["flop_model"] = "2 flops per FMA lane";
        std::cout << runtime::json_pretty(o);
        return 0;
    }
    std::cout << fmt::format("FMA peak, {} threads, {} ({} independent register accumulators per thread, "
                             "2 flops per FMA lane, {:.2f} s each):\n",
                             f64.threads, f64.isa, f64.accumulators, args.seconds)
              << fmt::format("  f64: {:8.1f} GFLOP/s ({:.1f} per thread, {} lanes)\n", f64.gflops,
                             f64.gflops / double(f64.threads), f64.lanes)
              << fmt::format("  f32: {:8.1f} GFLOP/s ({:.1f} per thread, {} lanes)\n", f32.gflops,
                             f32.gflops / double(f32.threads), f32.lanes);
    return 0;
}

int bench_score(const BenchScoreArgs& args, const runtime::Registry& registry) {
    // --- the command line, checked before anything heavy runs
    const runtime::PluginRecord* est_rec = registry.find(args.estimator);
    if (!est_rec || est_rec->spec.kind != Kind::estimator)
        throw runtime::BadInput(option_error(
            "--estimator",
            est_rec ? "'" + args.estimator + "' is a " + std::string(to_string(est_rec->spec.kind)) + ", not a score estimator"
                    : "no estimator '" + args.estimator + "'",
            runtime::suggest(args.estimator, registry.names(Kind::estimator), "estimators")));
    if (args.dim < 2)
        throw runtime::BadInput(option_error("--dim", fmt::format("D = {} is too small", args.dim),
                                             "the circle lives in R^D with D >= 2"));
    check_peak_seconds(args.peak_seconds);
    const std::string init = !args.init.empty() ? args.init : (args.sigma ? "data" : "prior");

    std::vector<Setting> settings;
    if (args.bandwidth) settings.push_back({"bandwidth", boost::json::value(*args.bandwidth), "--bandwidth"});
    if (!args.precision.empty())
        settings.push_back({"precision", boost::json::value(boost::json::string(args.precision)), "--precision"});
    for (const auto& p : args.params) {
        const auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
            throw runtime::BadInput(option_error("--param", "'" + p + "' is not key=value", "for example --param neighbours=20"));
        settings.push_back({p.substr(0, eq), runtime::parse_cli_value(p.substr(eq + 1)), "--param " + p.substr(0, eq)});
    }
    const Params est_params = bind_settings(*est_rec, settings);
    // The precision the estimator computes in: --precision, else its parameter's default, else f64.
    std::string precision = args.precision;
    if (precision.empty()) {
        const ParamSpec* p = est_rec->spec.find_param("precision");
        precision = p && p->default_value ? runtime::to_text(*p->default_value) : "f64";
    }

    // The inputs this command can connect: training points, the VP process, the circle, and the
    // queries as `model` samples (drift). Another required input means another kind of estimator.
    bool wants_model = false;
    if (!est_rec->spec.find_input("data"))
        throw runtime::BadInput(option_error("--estimator", "estimator '" + args.estimator + "' takes no training points",
                                             "bench score times estimators with a `data` input: empirical, "
                                             "kernel_smoothed, tangent_smoothed, drift"));
    for (const auto& port : est_rec->spec.inputs) {
        const bool known = (port.name == "data" && port.kind == ValueKind::points) ||
                           (port.name == "model" && port.kind == ValueKind::points) ||
                           port.kind == ValueKind::process || port.kind == ValueKind::manifold;
        if (!known && port.required)
            throw runtime::BadInput(option_error("--estimator", "estimator '" + args.estimator + "' needs input '" +
                                                                    port.name + "', which bench score cannot provide",
                                                 "bench score connects data, process, manifold and model inputs"));
        if (port.name == "model" && port.kind == ValueKind::points) wants_model = true;
    }

    const ThreadLimit limit(args.threads);
    const std::size_t threads = usable_threads();

    // --- components, through the registry
    const auto vp = create_as<ForwardProcess>(registry, require_plugin(registry, "vp"), bind_settings(require_plugin(registry, "vp"), {}));
    const double T = vp->t_end();
    if (!(args.t_min > 0.0 && args.t_min < T))
        throw runtime::BadInput(option_error("--t-min", fmt::format("t_min = {} must be in (0, T = {})", args.t_min, T)));
    double t_fixed = 0.0;
    if (args.sigma) {
        const double s = *args.sigma, s_max = vp->sigma(T);
        if (!(s > 0.0 && s < s_max))
            throw runtime::BadInput(option_error("--sigma", fmt::format("sigma = {} is not reached by the VP process", s),
                                                 fmt::format("a noise level in (0, sigma(T) = {:.6g})", s_max)));
        t_fixed = invert_increasing([&](double t) { return vp->sigma(t); }, s, 0.0, T);
    }

    const runtime::PluginRecord& circle_rec = require_plugin(registry, "circle");
    const auto circle = create_as<Manifold>(
        registry, circle_rec,
        bind_settings(circle_rec, {{"ambient_dim", boost::json::value(std::int64_t(args.dim)), "--dim"}}));
    ScratchDir scratch;
    const std::atomic<bool>& cancel = runtime::install_interrupt_handler();
    BenchContext circle_ctx(args.seed, "circle", scratch.path(), cancel);
    circle->prepare(circle_ctx);

    const FmaPeak peak = measure_fma_peak(precision == "f32", threads, args.peak_seconds);

    const auto t_setup = Clock::now();
    BenchContext data_ctx(args.seed, "train", scratch.path(), cancel);
    auto data = std::make_shared<const Matrix>(circle->sample(args.train, data_ctx.stream("draw")));
    Matrix x;
    if (init == "prior") {
        // N(0, prior_std^2 I), chunked over the stream as the samplers' initial noise is.
        x = Matrix::from_shape({args.queries, args.dim});
        step_noise(RandomStream(args.seed, "bench/queries"), 0, x);
        const double s0 = vp->prior_std();
        for (auto& v : x) v *= s0;
    } else {
        // Where a sampler is at the starting noise level: alpha x0 + sigma eps, x0 fresh draws from the circle.
        const Matrix x0 = circle->sample(args.queries, RandomStream(args.seed, "bench/query_x0"));
        x = vp->perturb(x0, args.sigma ? t_fixed : T, RandomStream(args.seed, "bench/query_noise"));
    }

    Inputs inputs;
    inputs.set("data", data);
    for (const auto& port : est_rec->spec.inputs) {
        if (port.kind == ValueKind::process) inputs.set(port.name, std::shared_ptr<const ForwardProcess>(vp));
        if (port.kind == ValueKind::manifold) inputs.set(port.name, std::shared_ptr<const Manifold>(circle));
        if (wants_model && port.name == "model") inputs.set(port.name, std::make_shared<const Matrix>(x));
    }
    std::shared_ptr<ScoreEstimator> est;
    try {
        est = create_as<ScoreEstimator>(registry, *est_rec, est_params);
        BenchContext est_ctx(args.seed, "score", scratch.path(), cancel);
        est->prepare(inputs, est_ctx);
    } catch (const InputError& e) {
        throw runtime::BadInput(option_error(option_for_key(e.key(), settings), e.what()));
    }
    const double setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_setup).count();

    // --- the timed steps
    const std::size_t S = args.steps, M = args.queries, D = args.dim;
    std::vector<double> t(S + 1), h(S);
    if (args.sigma) {
        // Every step at t_s, sigma(t_s) = s; the step length is as if t_s -> 0 were split in S steps,
        // which keeps the points at the noise scale s.
        std::fill(t.begin(), t.end(), t_fixed);
        std::fill(h.begin(), h.end(), t_fixed / double(S));
    } else {
        t = time_grid(*vp, "log_snr", S, args.t_min);
        for (std::size_t i = 0; i < S; ++i) h[i] = t[i] - t[i + 1];
    }
    Matrix s = Matrix::from_shape({M, D}), z = Matrix::from_shape({M, D});
    try {
        for (std::size_t w = 0; w < args.warmup; ++w) est->score(x, t[0], s);
    } catch (const InputError& e) {
        throw runtime::BadInput(option_error(option_for_key(e.key(), settings), e.what()));
    }
    const RandomStream noise(args.seed, "shared/sampler/noise");
    std::vector<double> step_ms(S), score_ms(S);
    for (std::size_t i = 0; i < S; ++i) {
        if (cancel.load()) throw Error("cancelled");
        const bool last = i + 1 == S && !args.sigma;
        const auto t0 = Clock::now();
        est->score(x, t[i], s);
        const auto t1 = Clock::now();
        // Euler-Maruyama on the reverse SDE, as the euler_maruyama sampler does (no noise on the last step).
        const double rate = vp->drift_rate(t[i]), g2 = vp->g2(t[i]), hi = h[i];
        const double noise_scale = last ? 0.0 : std::sqrt(g2 * hi);
        if (!last) step_noise(noise, i, z);
        for_chunks(M, random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t k = b * D; k < e * D; ++k) {
                double& xk = x.data()[k];
                const double mean_k = xk - hi * (rate * xk - g2 * s.data()[k]);
                xk = last ? mean_k : mean_k + noise_scale * z.data()[k];
            }
        });
        check_finite(x, i, t[i + 1]);
        const auto t2 = Clock::now();
        step_ms[i] = std::chrono::duration<double, std::milli>(t2 - t0).count();
        score_ms[i] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    }

    // --- report
    const double pairs = double(M) * (double(args.train) + (wants_model ? double(M) : 0.0));
    const double flops = 4.0 * double(D) * pairs;
    const double ms_med = stats::median(step_ms), ms_mean = stats::mean(step_ms), score_med = stats::median(score_ms);
    const double gflops = flops / (ms_med * 1e-3) * 1e-9, score_gflops = flops / (score_med * 1e-3) * 1e-9;
    const double rss = peak_rss_mb();
    const std::string flop_model = std::string(flop_model_text) + (wants_model ? "; pairs = M (N + M): data and model samples"
                                                                               : "; pairs = M N");
    const double sigma_first = vp->sigma(t[0]), sigma_last = vp->sigma(t[S - 1]);

    if (args.json) {
        boost::json::object o;
        o["ms_per_step"] = ms_med;
        o["ms_per_step_mean"] = ms_mean;
        o["gflops"] = gflops;
        o["peak_fraction"] = gflops / peak.gflops;
        o["peak_gflops"] = peak.gflops;
        o["peak_rss_mb"] = rss;
        o["score_ms_per_step"] = score_med;
        o["score_gflops"] = score_gflops;
        o["score_peak_fraction"] = score_gflops / peak.gflops;
        o["setup_ms"] = setup_ms;
        o["n_train"] = args.train;
        o["n_queries"] = M;
        o["dim"] = D;
        o["steps"] = S;
        o["warmup_steps"] = args.warmup;
        o["precision"] = precision;
        o["estimator"] = args.estimator;
        o["threads"] = threads;
        o["grid"] = args.sigma ? "fixed_sigma" : "log_snr";
        o["sigma_first_step"] = sigma_first;
        o["sigma_last_step"] = sigma_last;
        o["init"] = init;
        o["isa"] = peak.isa;
        o["flop_model"] = flop_model;
        o["rss_note"] = "peak resident set of the whole process (getrusage ru_maxrss), setup included";
        std::cout << runtime::json_pretty(o);
        return 0;
    }
    std::cout << fmt::format("mdlab bench score: {} estimator, N = {} training points on a circle in R^{}, M = {} queries ({}), {}, {} thread{}\n",
                             args.estimator, args.train, D, M, init == "prior" ? "from N(0, I)" : "from the noised data",
                             precision, threads, threads == 1 ? "" : "s")
              << (args.sigma ? fmt::format("  {} Euler-Maruyama step{}, all at sigma = {:.3g} (t = {:.4g}); {} untimed warm-up score call{}\n",
                                           S, S == 1 ? "" : "s", sigma_first, t_fixed, args.warmup, args.warmup == 1 ? "" : "s")
                             : fmt::format("  {} Euler-Maruyama step{} on the VP log-SNR grid, t = {:g} -> {:g} (sigma {:.3g} -> {:.3g} at the last score call); "
                                           "{} untimed warm-up score call{}\n",
                                           S, S == 1 ? "" : "s", T, args.t_min, sigma_first, sigma_last, args.warmup,
                                           args.warmup == 1 ? "" : "s"))
              << fmt::format("  time per step:  median {:.3f} ms, mean {:.3f} ms (score call alone: median {:.3f} ms); setup {:.0f} ms\n",
                             ms_med, ms_mean, score_med, setup_ms)
              << fmt::format("  throughput:     {:.1f} GFLOP/s per step ({:.1f} in the score call) by the flop model: {}\n",
                             gflops, score_gflops, flop_model)
              << fmt::format("  FMA peak:       {:.1f} GFLOP/s {} ({}, {} threads): {:.1f}% of peak per step, {:.1f}% in the score call\n",
                             peak.gflops, precision == "f32" ? "f32" : "f64", peak.isa, peak.threads,
                             100.0 * gflops / peak.gflops, 100.0 * score_gflops / peak.gflops)
              << fmt::format("  peak RSS:       {:.1f} MB (getrusage ru_maxrss: the whole process's peak, setup included)\n", rss);
    return 0;
}

}  // namespace mdlab::cli
