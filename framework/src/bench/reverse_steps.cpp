#include "reverse_steps.hpp"

#include <chrono>

#include <mdlab/euler_maruyama.hpp>
#include <mdlab/sampling.hpp>
#include <mdlab/time_grid.hpp>

namespace mdlab::runtime::bench {

using Clock = std::chrono::steady_clock;

StepGrid log_snr_steps(const ForwardProcess& vp, std::size_t steps, double t_min) {
    StepGrid g;
    g.t = time_grid(vp, "log_snr", steps, t_min);
    g.h.resize(steps);
    for (std::size_t i = 0; i < steps; ++i) g.h[i] = g.t[i] - g.t[i + 1];
    return g;
}

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

void warm_up(const ScoreEstimator& est, const Matrix& x, double t, std::size_t count) {
    Matrix s = Matrix::from_shape({rows(x), cols(x)});
    for (std::size_t w = 0; w < count; ++w) est.score(x, t, s);
}

}  // namespace mdlab::runtime::bench
