// bench score: the workload a sampler gives a kernel-type estimator, S reverse-SDE steps on the
// log-SNR grid from t = T down to t_min, each step one score call on the current points followed
// by the update (so later steps run at small sigma, as in real sampling), or every step at one
// noise level (--sigma). The FMA peak is measured in the same process, on the same threads and
// in the estimator's precision, so the fraction of peak compares like with like.
//
// Flop model: 4 D flops per (query, training point) pair -- 2 D for the squared distance, 2 D for
// the weighted sum, the accounting of attention's two matrix products -- with exp counted as one
// (and so neglected next to 4 D). The drift estimator with a `model` input attends over the
// data and the model samples: M (N + M) pairs.
#include <chrono>

#include <fmt/format.h>
#include <mdlab/stats.hpp>
#include <mdlab/time_grid.hpp>

#include "bench_machine.hpp"
#include "estimator_choice.hpp"
#include "reverse_steps.hpp"
#include "workload.hpp"

namespace mdlab::runtime {

using namespace bench;

namespace {

using Clock = std::chrono::steady_clock;

const char* flop_model_text =
    "4 D flops per (query, training point) pair (distance and weighted sum), exp counted as one";

}  // namespace

ScoreBenchFigures measure_bench_score(const BenchWorkload& args, const ScoreBenchOptions& options,
                                      const Registry& registry) {
    // --- the settings, checked before anything heavy runs
    const EstimatorChoice est_choice = choose_estimator(args, registry, "bench score");
    check_peak_seconds(options.peak_seconds, "--peak-seconds");
    ScoreBenchFigures f;
    f.setup = setup_of(args, est_choice);
    f.init = !options.init.empty() ? options.init : (options.sigma ? "data" : "prior");
    f.fixed_sigma = options.sigma.has_value();
    f.setup.threads = usable_threads();

    // --- components, through the registry
    Workload work(args, registry);
    const ForwardProcess& vp = work.process();
    const double T = f.t_max = vp.t_end();
    if (options.sigma) {
        const double s = *options.sigma, s_max = vp.sigma(T);
        if (!(s > 0.0 && s < s_max))
            throw BadInput(option_error("--sigma", fmt::format("sigma = {} is not reached by the VP process", s),
                                        fmt::format("a noise level in (0, sigma(T) = {:.6g})", s_max)));
        f.t_fixed = invert_increasing([&](double t) { return vp.sigma(t); }, s, 0.0, T);
    }

    f.peak = measure_fma_peak(f.setup.precision == "f32", f.setup.threads, options.peak_seconds);
    f.setup.kernel = kernel_path();

    const auto t_setup = Clock::now();
    work.draw_training_set();
    Matrix x;
    if (f.init == "prior") {
        x = work.prior_queries();
    } else {
        // Where a sampler is at the starting noise level: alpha x0 + sigma eps, x0 fresh draws from the circle.
        const Matrix x0 = work.circle().sample(args.queries, RandomStream(args.seed, "bench/query_x0"));
        x = vp.perturb(x0, options.sigma ? f.t_fixed : T, RandomStream(args.seed, "bench/query_noise"));
    }
    const std::shared_ptr<ScoreEstimator> est = work.prepare_estimator(est_choice, x);
    f.setup.setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_setup).count();

    // --- the timed steps
    const std::size_t S = args.steps, M = args.queries, D = args.dim;
    StepGrid grid;
    if (options.sigma) {
        // Every step at t_s, sigma(t_s) = s; the step length is as if t_s -> 0 were split in S steps,
        // which keeps the points at the noise scale s.
        grid.t.assign(S + 1, f.t_fixed);
        grid.h.assign(S, f.t_fixed / double(S));
    } else {
        grid = log_snr_steps(vp, S, args.t_min);
    }
    const StepTimes times = as_bad_input(est_choice.settings, [&] {
        warm_up(*est, x, grid.t[0], args.warmup);
        return run_steps(*est, vp, x, grid, !options.sigma, args.seed, work.cancel());
    });

    // --- the figures
    const double pairs = double(M) * (double(args.train) + (est_choice.wants_model ? double(M) : 0.0));
    const double flops = 4.0 * double(D) * pairs;
    f.ms_per_step_median = stats::median(times.step_ms);
    f.ms_per_step_mean = stats::mean(times.step_ms);
    f.score_ms_median = stats::median(times.score_ms);
    f.gflops = flops / (f.ms_per_step_median * 1e-3) * 1e-9;
    f.score_gflops = flops / (f.score_ms_median * 1e-3) * 1e-9;
    f.setup.peak_rss_mb = peak_rss_mb();
    f.flop_model = std::string(flop_model_text) + (est_choice.wants_model ? "; pairs = M (N + M): data and model samples"
                                                                          : "; pairs = M N");
    f.sigma_first = vp.sigma(grid.t[0]);
    f.sigma_last = vp.sigma(grid.t[S - 1]);
    return f;
}

}  // namespace mdlab::runtime
