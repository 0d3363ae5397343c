// The timed part of a bench: reverse-SDE Euler-Maruyama steps on the query points, each step
// one score call followed by the SDK's update (mdlab/euler_maruyama.hpp), as the
// euler_maruyama sampler runs them.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include <mdlab/components.hpp>

namespace mdlab::runtime::bench {

// The times of the steps and their lengths: t_0 > t_1 > ... > t_S, h_i = t_i - t_{i+1}.
struct StepGrid {
    std::vector<double> t, h;
};

// S steps on the VP log-SNR grid from T down to t_min.
StepGrid log_snr_steps(const ForwardProcess& vp, std::size_t steps, double t_min);

// What each step took: the whole step (score, noise, update) and its score call alone, in ms.
struct StepTimes {
    std::vector<double> step_ms, score_ms;
};

// The steps on x over the grid, with no noise on the last step when noiseless_last. Each step
// is timed whole, and its score call alone.
StepTimes run_steps(const ScoreEstimator& est, const ForwardProcess& vp, Matrix& x, const StepGrid& grid,
                    bool noiseless_last, std::uint64_t seed, const std::atomic<bool>& cancel);

// `count` untimed score calls at t.
void warm_up(const ScoreEstimator& est, const Matrix& x, double t, std::size_t count);

}  // namespace mdlab::runtime::bench
