// bench run: the bench score workload as a user runs it, a whole run (200 steps to
// t_min = 1e-5 by default), every step counted, no warm-up, and where the time goes: the steps
// grouped into bands of the step index (equal bands of log(sigma/alpha) on this grid), each
// band's time and share of the run. With the spatial index on, the small-sigma steps at the end
// are the cheap ones; a dense sum costs the same at every step.
#include <algorithm>
#include <chrono>
#include <numeric>

#include "bench_machine.hpp"
#include "estimator_choice.hpp"
#include "reverse_steps.hpp"
#include "workload.hpp"

namespace mdlab::runtime {

using namespace bench;

namespace {

using Clock = std::chrono::steady_clock;

// A run's steps grouped into `count` consecutive bands of (nearly) equal step counts.
std::vector<BenchBand> step_bands(const StepTimes& times, const StepGrid& grid, const ForwardProcess& vp,
                                  std::size_t count) {
    const std::size_t S = times.step_ms.size();
    count = std::max<std::size_t>(1, std::min(count, S));
    std::vector<BenchBand> bands(count);
    for (std::size_t b = 0; b < count; ++b) {
        BenchBand& band = bands[b];
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

}  // namespace

RunBenchFigures measure_bench_run(const BenchWorkload& args, const RunBenchOptions& options, const Registry& registry) {
    // --- the settings, checked before anything heavy runs
    const EstimatorChoice est_choice = choose_estimator(args, registry, "bench run");
    RunBenchFigures f;
    f.setup = setup_of(args, est_choice);
    f.setup.threads = usable_threads();
    f.setup.kernel = kernel_path();

    // --- the workload, as bench score builds it, queries from the prior
    Workload work(args, registry);
    const ForwardProcess& vp = work.process();
    f.t_max = vp.t_end();
    const auto t_setup = Clock::now();
    work.draw_training_set();
    Matrix x = work.prior_queries();
    const std::shared_ptr<ScoreEstimator> est = work.prepare_estimator(est_choice, x);
    f.setup.setup_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_setup).count();

    // --- the whole run, every step timed
    const std::size_t S = args.steps;
    const StepGrid grid = log_snr_steps(vp, S, args.t_min);
    const StepTimes times = as_bad_input(est_choice.settings, [&] {
        warm_up(*est, x, grid.t[0], args.warmup);
        const auto start = Clock::now();
        StepTimes run = run_steps(*est, vp, x, grid, true, args.seed, work.cancel());
        f.total_seconds = std::chrono::duration<double>(Clock::now() - start).count();
        return run;
    });

    // --- the profile
    f.bands = step_bands(times, grid, vp, options.bands);
    f.steps_ms = std::accumulate(times.step_ms.begin(), times.step_ms.end(), 0.0);
    f.score_ms = std::accumulate(times.score_ms.begin(), times.score_ms.end(), 0.0);
    f.step_ms = times.step_ms;
    f.step_score_ms = times.score_ms;
    f.step_sigma.resize(S);
    for (std::size_t i = 0; i < S; ++i) f.step_sigma[i] = vp.sigma(grid.t[i]);
    f.step_t.assign(grid.t.begin(), grid.t.end() - 1);
    f.setup.peak_rss_mb = peak_rss_mb();
    return f;
}

}  // namespace mdlab::runtime
