// mdlab bench score / mdlab bench run / mdlab bench peak: the score kernels' speed against the
// machine's limit, and a whole sampling run.
//
// bench score builds the workload a sampler gives a kernel-type estimator: N training points on
// the `circle` manifold in R^D, M query points from the VP prior N(0, I), and S reverse-SDE
// Euler-Maruyama steps on the log-SNR grid from t = T down to t_min, each step one score call on
// the current points followed by the update (so later steps run at small sigma, as in real
// sampling). Every component is created through the registry with validated parameters, as a
// pipeline node would be. The FMA peak is measured in the same process (fma_peak.cpp), so the
// fraction of peak compares like with like.
//
// bench run times the same workload as a user runs it: a whole run (200 steps to t_min = 1e-5 by
// default), every step counted, no warm-up, and reports where the time goes: the steps grouped
// into bands of the step index (equal bands of log(sigma/alpha) on this grid), each band's time
// and share of the run. With the spatial index on, the small-sigma steps at the end are the
// cheap ones; a dense sum costs the same at every step.
//
// Flop model: 4 D flops per (query, training point) pair -- 2 D for the squared distance, 2 D for
// the weighted sum, the accounting of attention's two matrix products -- with exp counted as one
// (and so neglected next to 4 D). The drift estimator with a `model` input attends over the
// data and the model samples: M (N + M) pairs.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/euler_maruyama.hpp>
#include <mdlab/isa.hpp>
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


// Runs f; an InputError a plugin throws becomes bad input naming the option behind its key.
template <class F>
auto as_bad_input(const std::vector<Setting>& settings, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const InputError& e) {
        throw runtime::BadInput(option_error(option_for_key(e.key(), settings), e.what()));
    }
}

// The kernels' instruction-set path (mdlab/isa.hpp), the CPU, and what chose the path.
struct KernelPath {
    std::string path;
    std::string cpu;
    std::string chosen_by;
};

KernelPath kernel_path() {
    const char* env = std::getenv("MDLAB_ISA");
    const bool forced = env && *env;
    return {isa::name(isa::active()), isa::cpu_name(),
            forced ? "forced by MDLAB_ISA=" + std::string(env) : "the best this CPU runs, MDLAB_ISA unset"};
}

void add_kernel_path(boost::json::object& o, const KernelPath& k) {
    o["path"] = k.path;
    o["cpu"] = k.cpu;
    o["path_chosen_by"] = k.chosen_by;
}

std::string kernel_path_line(const KernelPath& k) {
    return fmt::format("  kernel path:    {} ({}; CPU: {})\n", k.path, k.chosen_by, k.cpu);
}

// The estimator named on the command line, checked against what the bench workload can connect
// (training points, the VP process, the circle, the queries as `model` samples), with its
// parameters bound from its defaults, --bandwidth, --precision and --param. `command` names the
// command in messages.
struct EstimatorChoice {
    const runtime::PluginRecord* rec = nullptr;
    std::vector<Setting> settings;  // which option set which parameter (for messages)
    Params params;
    std::string precision;          // the precision the estimator computes in
    bool wants_model = false;       // attends over the queries as `model` samples (drift)
};

EstimatorChoice choose_estimator(const BenchWorkloadArgs& args, const runtime::Registry& registry,
                                 const std::string& command) {
    EstimatorChoice c;
    c.rec = registry.find(args.estimator);
    if (!c.rec || c.rec->spec.kind != Kind::estimator)
        throw runtime::BadInput(option_error(
            "--estimator",
            c.rec ? "'" + args.estimator + "' is a " + std::string(to_string(c.rec->spec.kind)) + ", not a score estimator"
                  : "no estimator '" + args.estimator + "'",
            runtime::suggest(args.estimator, registry.names(Kind::estimator), "estimators")));
    if (args.dim < 2)
        throw runtime::BadInput(option_error("--dim", fmt::format("D = {} is too small", args.dim),
                                             "the circle lives in R^D with D >= 2"));

    if (args.bandwidth) c.settings.push_back({"bandwidth", boost::json::value(*args.bandwidth), "--bandwidth"});
    if (!args.precision.empty())
        c.settings.push_back({"precision", boost::json::value(boost::json::string(args.precision)), "--precision"});
    for (const auto& p : args.params) {
        const auto eq = p.find('=');
        if (eq == std::string::npos || eq == 0)
            throw runtime::BadInput(option_error("--param", "'" + p + "' is not key=value", "for example --param neighbours=20"));
        c.settings.push_back({p.substr(0, eq), runtime::parse_cli_value(p.substr(eq + 1)), "--param " + p.substr(0, eq)});
    }
    c.params = bind_settings(*c.rec, c.settings);
    // The precision the estimator computes in: --precision, else its parameter's default, else f64.
    c.precision = args.precision;
    if (c.precision.empty()) {
        const ParamSpec* p = c.rec->spec.find_param("precision");
        c.precision = p && p->default_value ? runtime::to_text(*p->default_value) : "f64";
    }

    // Another required input means another kind of estimator.
    if (!c.rec->spec.find_input("data"))
        throw runtime::BadInput(option_error("--estimator", "estimator '" + args.estimator + "' takes no training points",
                                             command + " times estimators with a `data` input: empirical, "
                                                       "kernel_smoothed, tangent_smoothed, drift"));
    for (const auto& port : c.rec->spec.inputs) {
        const bool known = (port.name == "data" && port.kind == ValueKind::points) ||
                           (port.name == "model" && port.kind == ValueKind::points) ||
                           port.kind == ValueKind::process || port.kind == ValueKind::manifold;
        if (!known && port.required)
            throw runtime::BadInput(option_error("--estimator", "estimator '" + args.estimator + "' needs input '" +
                                                                    port.name + "', which " + command + " cannot provide",
                                                 command + " connects data, process, manifold and model inputs"));
        if (port.name == "model" && port.kind == ValueKind::points) c.wants_model = true;
    }
    return c;
}

// What both commands build around the estimator: the VP process (t_min checked against its end
// time), the circle in R^D (prepared), the training set, a scratch folder and the interrupt flag.
class Workload {
public:
    Workload(const BenchWorkloadArgs& args, const runtime::Registry& registry)
        : args_(args), registry_(registry), cancel_(runtime::install_interrupt_handler()) {
        const runtime::PluginRecord& vp_rec = require_plugin(registry, "vp");
        vp_ = create_as<ForwardProcess>(registry, vp_rec, bind_settings(vp_rec, {}));
        if (!(args.t_min > 0.0 && args.t_min < vp_->t_end()))
            throw runtime::BadInput(
                option_error("--t-min", fmt::format("t_min = {} must be in (0, T = {})", args.t_min, vp_->t_end())));
        const runtime::PluginRecord& circle_rec = require_plugin(registry, "circle");
        circle_ = create_as<Manifold>(
            registry, circle_rec,
            bind_settings(circle_rec, {{"ambient_dim", boost::json::value(std::int64_t(args.dim)), "--dim"}}));
        BenchContext circle_ctx(args.seed, "circle", scratch_.path(), cancel_);
        circle_->prepare(circle_ctx);
    }

    const ForwardProcess& process() const { return *vp_; }
    const Manifold& circle() const { return *circle_; }
    const std::atomic<bool>& cancel() const { return cancel_; }

    // The N training points, drawn from the circle.
    void draw_training_set() {
        BenchContext data_ctx(args_.seed, "train", scratch_.path(), cancel_);
        data_ = std::make_shared<const Matrix>(circle_->sample(args_.train, data_ctx.stream("draw")));
    }

    // M points from the prior N(0, prior_std^2 I), chunked over the stream as the samplers'
    // initial noise is.
    Matrix prior_queries() const {
        Matrix x = Matrix::from_shape({args_.queries, args_.dim});
        step_noise(RandomStream(args_.seed, "bench/queries"), 0, x);
        const double s0 = vp_->prior_std();
        for (auto& v : x) v *= s0;
        return x;
    }

    // The estimator, created through the registry and prepared on the training set (and on the
    // queries x as `model` samples if it takes them).
    std::shared_ptr<ScoreEstimator> prepare_estimator(const EstimatorChoice& choice, const Matrix& x) const {
        Inputs inputs;
        inputs.set("data", data_);
        for (const auto& port : choice.rec->spec.inputs) {
            if (port.kind == ValueKind::process) inputs.set(port.name, std::shared_ptr<const ForwardProcess>(vp_));
            if (port.kind == ValueKind::manifold) inputs.set(port.name, std::shared_ptr<const Manifold>(circle_));
            if (choice.wants_model && port.name == "model") inputs.set(port.name, std::make_shared<const Matrix>(x));
        }
        return as_bad_input(choice.settings, [&] {
            auto est = create_as<ScoreEstimator>(registry_, *choice.rec, choice.params);
            BenchContext est_ctx(args_.seed, "score", scratch_.path(), cancel_);
            est->prepare(inputs, est_ctx);
            return est;
        });
    }

private:
    const BenchWorkloadArgs& args_;
    const runtime::Registry& registry_;
    const std::atomic<bool>& cancel_;
    ScratchDir scratch_;  // files an estimator may write while preparing
    std::shared_ptr<ForwardProcess> vp_;
    std::shared_ptr<Manifold> circle_;
    std::shared_ptr<const Matrix> data_;
};

// The times of the steps and their lengths: t_0 > t_1 > ... > t_S, h_i = t_i - t_{i+1}.
struct StepGrid {
    std::vector<double> t, h;
};

StepGrid log_snr_steps(const ForwardProcess& vp, std::size_t steps, double t_min) {
    StepGrid g;
    g.t = time_grid(vp, "log_snr", steps, t_min);
    g.h.resize(steps);
    for (std::size_t i = 0; i < steps; ++i) g.h[i] = g.t[i] - g.t[i + 1];
    return g;
}

// What each step took: the whole step (score, noise, update) and its score call alone, in ms.
struct StepTimes {
    std::vector<double> step_ms, score_ms;
};

// The reverse-SDE Euler-Maruyama steps on x over the grid, as the euler_maruyama sampler does:
// one score call, then mdlab::euler_maruyama_update (the sampler's own step), with no noise on
// the last step when noiseless_last. Each step is timed whole, and its score call alone.
StepTimes run_steps(const ScoreEstimator& est, const ForwardProcess& vp, Matrix& x, const StepGrid& grid,
                    bool noiseless_last, std::uint64_t seed, const std::atomic<bool>& cancel) {
    const std::size_t S = grid.h.size(), M = rows(x), D = cols(x);
    Matrix s = Matrix::from_shape({M, D}), z = Matrix::from_shape({M, D});
    const RandomStream noise(seed, "shared/sampler/noise");
    StepTimes times{std::vector<double>(S), std::vector<double>(S)};
    for (std::size_t i = 0; i < S; ++i) {
        if (cancel.load()) throw Error("cancelled");
        const bool last = noiseless_last && i + 1 == S;
        const double ti = grid.t[i], hi = grid.h[i];
        const auto t0 = Clock::now();
        est.score(x, ti, s);
        const auto t1 = Clock::now();
        euler_maruyama_update(vp, ti, hi, s, last ? nullptr : &noise, i, z, x);
        check_finite(x, i, grid.t[i + 1]);
        const auto t2 = Clock::now();
        times.step_ms[i] = std::chrono::duration<double, std::milli>(t2 - t0).count();
        times.score_ms[i] = std::chrono::duration<double, std::milli>(t1 - t0).count();
    }
    return times;
}

// `count` untimed score calls at t.
void warm_up(const ScoreEstimator& est, const Matrix& x, double t, std::size_t count) {
    Matrix s = Matrix::from_shape({rows(x), cols(x)});
    for (std::size_t w = 0; w < count; ++w) est.score(x, t, s);
}

// "empirical (precision = f64, spatial_index = true)".
std::string estimator_text(const EstimatorChoice& c) {
    std::string params;
    for (const auto& [key, value] : c.params.all())
        params += (params.empty() ? "" : ", ") + key + " = " + runtime::to_text(value);
    return c.rec->spec.name + (params.empty() ? "" : " (" + params + ")");
}

boost::json::object estimator_params_json(const EstimatorChoice& c) {
    boost::json::object o;
    for (const auto& [key, value] : c.params.all()) o[key] = runtime::to_json(value);
    return o;
}

// A run's steps grouped into consecutive bands of (nearly) equal step counts.
struct Band {
    std::size_t first = 0, last = 0;  // step indices, inclusive, from 0
    double sigma_first = 0.0, sigma_last = 0.0;  // at the band's first and last score call
    double ms = 0.0, score_ms = 0.0;
};

std::vector<Band> step_bands(const StepTimes& times, const StepGrid& grid, const ForwardProcess& vp, std::size_t count) {
    const std::size_t S = times.step_ms.size();
    count = std::max<std::size_t>(1, std::min(count, S));
    std::vector<Band> bands(count);
    for (std::size_t b = 0; b < count; ++b) {
        Band& band = bands[b];
        band.first = b * S / count;
        band.last = (b + 1) * S / count - 1;
        band.sigma_first = vp.sigma(grid.t[band.first]);
        band.sigma_last = vp.sigma(grid.t[band.last]);
        for (std::size_t i = band.first; i <= band.last; ++i) {
            band.ms += times.step_ms[i];
            band.score_ms += times.score_ms[i];
        }
    }
    return bands;
}

boost::json::array json_array(const std::vector<double>& v) {
    boost::json::array a;
    a.reserve(v.size());
    for (double x : v) a.emplace_back(x);
    return a;
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
    const EstimatorChoice est_choice = choose_estimator(args, registry, "bench score");
    check_peak_seconds(args.peak_seconds);
    const std::string init = !args.init.empty() ? args.init : (args.sigma ? "data" : "prior");
    const std::string& precision = est_choice.precision;
    const bool wants_model = est_choice.wants_model;

    const ThreadLimit limit(args.threads);
    const std::size_t threads = usable_threads();

    // --- components, through the registry
    Workload work(args, registry);
    const ForwardProcess& vp = work.process();
    const double T = vp.t_end();
    double t_fixed = 0.0;
    if (args.sigma) {
        const double s = *args.sigma, s_max = vp.sigma(T);
        if (!(s > 0.0 && s < s_max))
            throw runtime::BadInput(option_error("--sigma", fmt::format("sigma = {} is not reached by the VP process", s),
                                                 fmt::format("a noise level in (0, sigma(T) = {:.6g})", s_max)));
        t_fixed = invert_increasing([&](double t) { return vp.sigma(t); }, s, 0.0, T);
    }

    const FmaPeak peak = measure_fma_peak(precision == "f32", threads, args.peak_seconds);
    const KernelPath path = kernel_path();

    const auto t_setup = Clock::now();
    work.draw_training_set();
    Matrix x;
    if (init == "prior") {
        x = work.prior_queries();
    } else {
        // Where a sampler is at the starting noise level: alpha x0 + sigma eps, x0 fresh draws from the circle.
        const Matrix x0 = work.circle().sample(args.queries, RandomStream(args.seed, "bench/query_x0"));
        x = vp.perturb(x0, args.sigma ? t_fixed : T, RandomStream(args.seed, "bench/query_noise"));
    }
    const std::shared_ptr<ScoreEstimator> est = work.prepare_estimator(est_choice, x);
    const double setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_setup).count();

    // --- the timed steps
    const std::size_t S = args.steps, M = args.queries, D = args.dim;
    StepGrid grid;
    if (args.sigma) {
        // Every step at t_s, sigma(t_s) = s; the step length is as if t_s -> 0 were split in S steps,
        // which keeps the points at the noise scale s.
        grid.t.assign(S + 1, t_fixed);
        grid.h.assign(S, t_fixed / double(S));
    } else {
        grid = log_snr_steps(vp, S, args.t_min);
    }
    const StepTimes times = as_bad_input(est_choice.settings, [&] {
        warm_up(*est, x, grid.t[0], args.warmup);
        return run_steps(*est, vp, x, grid, !args.sigma, args.seed, work.cancel());
    });
    const std::vector<double>& step_ms = times.step_ms;
    const std::vector<double>& score_ms = times.score_ms;

    // --- report
    const double pairs = double(M) * (double(args.train) + (wants_model ? double(M) : 0.0));
    const double flops = 4.0 * double(D) * pairs;
    const double ms_med = stats::median(step_ms), ms_mean = stats::mean(step_ms), score_med = stats::median(score_ms);
    const double gflops = flops / (ms_med * 1e-3) * 1e-9, score_gflops = flops / (score_med * 1e-3) * 1e-9;
    const double rss = peak_rss_mb();
    const std::string flop_model = std::string(flop_model_text) + (wants_model ? "; pairs = M (N + M): data and model samples"
                                                                               : "; pairs = M N");
    const double sigma_first = vp.sigma(grid.t[0]), sigma_last = vp.sigma(grid.t[S - 1]);

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
        o["estimator_params"] = estimator_params_json(est_choice);
        o["threads"] = threads;
        o["grid"] = args.sigma ? "fixed_sigma" : "log_snr";
        o["sigma_first_step"] = sigma_first;
        o["sigma_last_step"] = sigma_last;
        o["init"] = init;
        o["isa"] = peak.isa;
        add_kernel_path(o, path);
        o["flop_model"] = flop_model;
        o["rss_note"] = "peak resident set of the whole process (getrusage ru_maxrss), setup included";
        std::cout << runtime::json_pretty(o);
        return 0;
    }
    std::cout << fmt::format("mdlab bench score: {} estimator, N = {} training points on a circle in R^{}, M = {} queries ({}), {}, {} thread{}\n",
                             args.estimator, args.train, D, M, init == "prior" ? "from N(0, I)" : "from the noised data",
                             precision, threads, threads == 1 ? "" : "s")
              << kernel_path_line(path)
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

int bench_run(const BenchRunArgs& args, const runtime::Registry& registry) {
    // --- the command line, checked before anything heavy runs
    const EstimatorChoice est_choice = choose_estimator(args, registry, "bench run");
    const ThreadLimit limit(args.threads);
    const std::size_t threads = usable_threads();
    const KernelPath path = kernel_path();

    // --- the workload, as bench score builds it, queries from the prior
    Workload work(args, registry);
    const ForwardProcess& vp = work.process();
    const auto t_setup = Clock::now();
    work.draw_training_set();
    Matrix x = work.prior_queries();
    const std::shared_ptr<ScoreEstimator> est = work.prepare_estimator(est_choice, x);
    const double setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_setup).count();

    // --- the whole run, every step timed
    const std::size_t S = args.steps, M = args.queries, D = args.dim;
    const StepGrid grid = log_snr_steps(vp, S, args.t_min);
    double total_s = 0.0;
    const StepTimes times = as_bad_input(est_choice.settings, [&] {
        warm_up(*est, x, grid.t[0], args.warmup);
        const auto start = Clock::now();
        StepTimes run = run_steps(*est, vp, x, grid, true, args.seed, work.cancel());
        total_s = std::chrono::duration<double>(Clock::now() - start).count();
        return run;
    });

    // --- the profile
    const std::vector<Band> bands = step_bands(times, grid, vp, args.bands);
    const double steps_ms = std::accumulate(times.step_ms.begin(), times.step_ms.end(), 0.0);
    const double score_total_ms = std::accumulate(times.score_ms.begin(), times.score_ms.end(), 0.0);
    std::vector<double> sigma(S);
    for (std::size_t i = 0; i < S; ++i) sigma[i] = vp.sigma(grid.t[i]);
    const double rss = peak_rss_mb();
    const std::string estimator = estimator_text(est_choice);

    if (args.json) {
        boost::json::object o;
        o["total_seconds"] = total_s;
        o["score_seconds"] = score_total_ms * 1e-3;
        o["setup_seconds"] = setup_ms * 1e-3;
        o["ms_per_step_mean"] = steps_ms / double(S);
        o["ms_per_step_median"] = stats::median(times.step_ms);
        o["steps"] = S;
        o["warmup_steps"] = args.warmup;
        o["n_train"] = args.train;
        o["n_queries"] = M;
        o["dim"] = D;
        o["t_max"] = vp.t_end();
        o["t_min"] = args.t_min;
        o["grid"] = "log_snr";
        o["sigma_first_step"] = sigma.front();
        o["sigma_last_step"] = sigma.back();
        o["estimator"] = args.estimator;
        o["estimator_params"] = estimator_params_json(est_choice);
        o["precision"] = est_choice.precision;
        o["threads"] = threads;
        o["seed"] = args.seed;
        add_kernel_path(o, path);
        o["step_ms"] = json_array(times.step_ms);
        o["step_score_ms"] = json_array(times.score_ms);
        o["step_sigma"] = json_array(sigma);
        o["step_t"] = json_array(std::vector<double>(grid.t.begin(), grid.t.end() - 1));
        boost::json::array band_list;
        for (const Band& b : bands)
            band_list.push_back(boost::json::object{{"first_step", b.first + 1},
                                                    {"last_step", b.last + 1},
                                                    {"sigma_first", b.sigma_first},
                                                    {"sigma_last", b.sigma_last},
                                                    {"ms", b.ms},
                                                    {"score_ms", b.score_ms},
                                                    {"share", steps_ms > 0.0 ? b.ms / steps_ms : 0.0},
                                                    {"ms_per_step", b.ms / double(b.last - b.first + 1)}});
        o["bands"] = std::move(band_list);
        o["peak_rss_mb"] = rss;
        o["timing_note"] = "total_seconds: wall time of all steps (score, noise, update), warm-up and setup excluded; "
                           "step_ms: each step whole; bands: consecutive steps, sigma at their first and last score call";
        std::cout << runtime::json_pretty(o);
        return 0;
    }
    std::cout << fmt::format("mdlab bench run: estimator {}, N = {} training points on a circle in R^{}, M = {} queries from N(0, I), {}, {} thread{}\n",
                             estimator, args.train, D, M, est_choice.precision, threads, threads == 1 ? "" : "s")
              << kernel_path_line(path)
              << fmt::format("  {} Euler-Maruyama steps on the VP log-SNR grid, t = {:g} -> {:g} (sigma {:.3g} -> {:.3g} at the last score call), "
                             "no noise on the last step; {} untimed warm-up score call{}\n",
                             S, vp.t_end(), args.t_min, sigma.front(), sigma.back(), args.warmup, args.warmup == 1 ? "" : "s")
              << fmt::format("  whole run:      {:.3f} s ({:.3f} ms per step on average, median {:.3f} ms); score calls {:.3f} s "
                             "({:.1f}%), noise and update {:.3f} s\n",
                             total_s, steps_ms / double(S), stats::median(times.step_ms), score_total_ms * 1e-3,
                             steps_ms > 0.0 ? 100.0 * score_total_ms / steps_ms : 0.0, (steps_ms - score_total_ms) * 1e-3)
              << fmt::format("  setup:          {:.0f} ms (training set and the estimator's preparation, not in the run's time)\n", setup_ms)
              << fmt::format("  peak RSS:       {:.1f} MB (getrusage ru_maxrss: the whole process's peak)\n", rss)
              << fmt::format("  where the time goes ({} bands of consecutive steps; sigma at the band's first and last score call):\n",
                             bands.size())
              << fmt::format("    {:>9s}  {:>21s}  {:>10s}  {:>6s}  {:>9s}  {:>11s}\n", "steps", "sigma", "time (ms)", "share",
                             "ms/step", "score share");
    for (const Band& b : bands)
        std::cout << fmt::format("    {:>9s}  {:>9.3g} -> {:<9.3g}  {:>10.1f}  {:>5.1f}%  {:>9.3f}  {:>10.1f}%\n",
                                 fmt::format("{}-{}", b.first + 1, b.last + 1), b.sigma_first, b.sigma_last, b.ms,
                                 steps_ms > 0.0 ? 100.0 * b.ms / steps_ms : 0.0, b.ms / double(b.last - b.first + 1),
                                 b.ms > 0.0 ? 100.0 * b.score_ms / b.ms : 0.0);
    return 0;
}

}  // namespace mdlab::cli
