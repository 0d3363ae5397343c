// What every sampler shares: the common parameters, initial points (prior draws or a .npy
// file), and the optional Tweedie denoising at the end.
#pragma once
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "mdlab/components.hpp"
#include "mdlab/given_grid.hpp"
#include "mdlab/npy.hpp"
#include "mdlab/params.hpp"
#include "mdlab/spec.hpp"
#include "mdlab/time_grid.hpp"

namespace mdlab {

struct SamplerSettings {
    std::size_t n = 0;
    std::size_t steps = 0;
    double t_min = 0.0;
    std::string grid;
    double rho = 7.0;
    bool denoise = false;
    std::string init;
    std::size_t record_every = 0;
    std::string noise = "independent";  // SDE samplers' step noise (noise_param), when declared
    std::optional<GivenGrid> given;  // the list when grid = "given"

    // Adds n, steps, t_min, grid, rho, the given grid's sigmas, times, sigmas_file and
    // times_file, denoise, init and record_every to a sampler's spec, and its `score` input.
    static void declare(PluginSpec& spec, std::int64_t default_steps) {
        spec.input("score", ValueKind::estimator, "score estimator; its forward process sets the time axis")
            .param(integer("n", 1000, "number of samples (ignored when init is given)").at_least(1))
            .role(ParamRole::sample_count)
            .param(integer("steps", default_steps,
                           "number of time steps (grid given: must equal the list's entries - 1, a final 0 not counted)")
                       .at_least(1))
            .param(real("t_min", 1e-3,
                        "time at which sampling stops (early stopping when larger; grid given: the list's last entry instead)")
                       .greater_than(0.0))
            .role(ParamRole::process_time)
            .param(choice("grid", "uniform", {"uniform", "log_snr", "karras", "given"},
                          "time grid from T down to t_min, or given: the list in sigmas, times, sigmas_file or times_file"))
            .param(real("rho", 7.0, "exponent of the karras grid").greater_than(0.0))
            .param(real_list("sigmas", {},
                             "grid given: noise levels sigma/alpha (k-diffusion's sigmas), strictly decreasing; a final 0 "
                             "denoises at the last one"))
            .param(real_list("times", {}, "grid given: times, strictly decreasing, in (0, T]"))
            .role(ParamRole::process_time)
            .param(path("sigmas_file", "grid given: a .npy, .csv or .txt file of sigmas (as sigmas)"))
            .param(path("times_file", "grid given: a .npy, .csv or .txt file of times (as times)"))
            .param(boolean("denoise", false, "return the Tweedie denoised point D(x, t_min) instead of x"))
            .param(path("init", "optional .npy file of initial points (n x D) used instead of prior draws"))
            .role(ParamRole::initial_points)
            .param(integer("record_every", 0,
                           "record the trajectory every k steps into <node>.trajectory.npy in the cell folder (0: off)")
                       .at_least(0));
    }
    explicit SamplerSettings(const Params& p)
        : n(p.count("n")), steps(p.count("steps")), t_min(p.real("t_min")), grid(p.string("grid")),
          rho(p.real("rho")), denoise(p.boolean("denoise")), init(p.string("init")),
          record_every(p.count("record_every")) {
        if (p.has("noise")) noise = p.string("noise");
        if (grid != "given") return;  // the lists only apply to a given grid (a sweep may vary grid)
        given = GivenGrid::from_params(p);
        if (!given)
            throw InputError("grid 'given' needs its list: set sigmas or times (or sigmas_file or times_file)", "grid");
        // steps must agree with the list, so that a steps value meant for another grid (a sweep
        // axis, a shared parameter) is not silently dropped.
        if (steps != given->steps())
            throw InputError("steps = " + std::to_string(steps) + " but " + given->key() + " has " +
                                 std::to_string(given->entries()) + " entries, " + std::to_string(given->steps()) +
                                 " steps" + (given->ends_in_zero() ? " (its final 0 is the Tweedie step, not counted)" : "") +
                                 ": set steps to " + std::to_string(given->steps()),
                             "steps");
        denoise = denoise || given->ends_in_zero();
    }

    // Whether step noise comes from one Brownian path (noise = "brownian") rather than independent draws.
    bool brownian() const { return noise == "brownian"; }

    // The parameter that sets where sampling ends (named in errors about the end of the grid).
    std::string end_key() const { return given ? given->key() : "t_min"; }

    void check_t_min(const ForwardProcess& process) const {
        if (given) return;  // the given list is checked against the process instead
        if (!(t_min < process.t_end()))
            throw InputError("t_min = " + std::to_string(t_min) + " must be below the process end time " +
                                 std::to_string(process.t_end()), "t_min");
    }
    std::vector<double> times(const ForwardProcess& process) const {
        if (given) return given->times(process);
        check_t_min(process);
        return time_grid(process, grid, steps, t_min, rho);
    }

    // Standard deviation of the prior draws at the grid's first time t0: the process's prior at
    // T; below T (a given grid that starts lower), N(0, alpha(t0)^2 c + sigma(t0)^2) with c the
    // data variance the process's prior assumes, (prior_std^2 - sigma(T)^2) / alpha(T)^2: 0 for
    // ve and edm, so sigma(t0) (k-diffusion's sigmas[0] * randn), and 1 for vp, ou and cosine,
    // whose prior 1 then stays.
    static double prior_std_at(const ForwardProcess& p, double t0) {
        const double T = p.t_end(), prior = p.prior_std();
        if (t0 == T) return prior;
        const double aT = p.alpha(T), sT = p.sigma(T), a0 = p.alpha(t0), s0 = p.sigma(t0);
        const double c = aT > 0.0 ? std::max(0.0, (prior * prior - sT * sT) / (aT * aT)) : 0.0;
        return std::sqrt(a0 * a0 * c + s0 * s0);
    }

    // Prior draws N(0, prior_std^2 I) from the stream shared by all samplers, so samplers
    // compared in one pipeline start from the same points; or the rows of the init file. `start`
    // is the grid's first time (prior_std_at), T unless a given grid starts lower.
    Matrix initial_points(const ScoreEstimator& est, Context& ctx) const {
        return initial_points(est, ctx, est.process().t_end());
    }
    Matrix initial_points(const ScoreEstimator& est, Context& ctx, double start) const {
        const std::size_t d = est.dim();
        if (!init.empty()) {
            Matrix x = npy::read(init);
            if (cols(x) != d)
                throw InputError(init + ": initial points have " + std::to_string(cols(x)) +
                                     " columns, the score estimator's data has dimension " + std::to_string(d), "init");
            return x;
        }
        const double s = prior_std_at(est.process(), start);
        const RandomStream stream = ctx.shared_stream("sampler/prior");
        Matrix x = Matrix::from_shape({n, d});
        for_chunks(n, random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = stream.chunk(c);
            for (std::size_t k = b * d; k < e * d; ++k) x.data()[k] = s * rng.normal();
        });
        return x;
    }

    // Optional Tweedie step at the end time `at` (t_min, or a given grid's last time); counts its
    // score evaluation.
    void finish(Matrix& x, const ScoreEstimator& est, double& score_evals) const { finish(x, est, score_evals, t_min); }
    void finish(Matrix& x, const ScoreEstimator& est, double& score_evals, double at) const {
        if (!denoise) return;
        Matrix d;
        est.denoise(x, at, d);
        x = std::move(d);
        score_evals += 1;
    }
};

// A sampler's recorded trajectory: the state at step 0, every `record_every` steps and at the
// last step, saved as <node>.trajectory.npy (frames x n x D) and <node>.trajectory_t.npy (the
// frames' times) in the cell folder.
class Trajectory {
public:
    Trajectory(const SamplerSettings& s, std::size_t steps) : every_(s.record_every), steps_(steps) {}
    bool enabled() const { return every_ > 0; }
    // Whether step `step` is a frame: step 0, every `record_every` steps, and the last step.
    bool wants(std::size_t step) const { return enabled() && (step % every_ == 0 || step == steps_); }
    // Call with step 0 for the initial points and i + 1 after step i.
    void record(std::size_t step, double t, const Matrix& x) {
        if (!wants(step)) return;
        if (!frames_.empty() && step == last_step_) return;
        shape_ = {rows(x), cols(x)};
        frames_.insert(frames_.end(), x.data(), x.data() + x.size());
        times_.push_back(t);
        last_step_ = step;
    }
    void save(Context& ctx) const {
        if (!enabled() || times_.empty()) return;
        const auto dir = ctx.output_dir();
        npy::write_array(dir / (ctx.node_id() + ".trajectory.npy"), frames_.data(), {times_.size(), shape_[0], shape_[1]});
        npy::write_array(dir / (ctx.node_id() + ".trajectory_t.npy"), times_.data(), {times_.size()});
    }
    std::size_t frames() const { return times_.size(); }

private:
    std::size_t every_, steps_;
    std::size_t last_step_ = 0;
    std::vector<double> frames_, times_;
    std::vector<std::size_t> shape_{0, 0};
};

// The `noise` parameter of SDE samplers, one line in their describe():
//   return mdlab::sampler_spec(...).param(...).param(mdlab::noise_param());
// SamplerSettings reads it when declared and SamplerRun::step_noise follows it: independent draws
// per step (step_noise below), or the increments of one Brownian path shared by every step count
// (mdlab/brownian_tree.hpp).
inline ParamSpec noise_param() {
    return choice("noise", "independent", {"independent", "brownian"},
                  "step noise: independent draws per step, or brownian: the increments of one Brownian path "
                  "(a Brownian tree of the shared noise stream), the same path whatever the step count");
}

// Standard-normal noise for step `step` of a sampler, chunked by rows; shared across samplers
// through the context's shared stream so compared samplers see the same Brownian increments.
inline void step_noise(const RandomStream& stream, std::size_t step, Matrix& z) {
    const std::size_t d = cols(z);
    const RandomStream s = stream.child(std::to_string(step));
    for_chunks(rows(z), random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
        Rng rng = s.chunk(c);
        for (std::size_t k = b * d; k < e * d; ++k) z.data()[k] = rng.normal();
    });
}

// Fails with a clear message when a sampler's state has left the finite numbers.
inline void check_finite(const Matrix& x, std::size_t step, double t) {
    for (std::size_t k = 0; k < x.size(); ++k)
        if (!std::isfinite(x.data()[k]))
            throw Error("sampler diverged at step " + std::to_string(step) + " (t = " + std::to_string(t) +
                        "): row " + std::to_string(k / cols(x)) + " is not finite");
}

}  // namespace mdlab
