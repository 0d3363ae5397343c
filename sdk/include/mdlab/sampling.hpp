// What every sampler shares: the common parameters, initial points (prior draws or a .npy
// file), and the optional Tweedie denoising at the end.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "mdlab/components.hpp"
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

    // Adds n, steps, t_min, grid, rho, denoise, init and record_every to a sampler's spec, and its
    // `score` input.
    static void declare(PluginSpec& spec, std::int64_t default_steps) {
        spec.input("score", ValueKind::estimator, "score estimator; its forward process sets the time axis")
            .param(integer("n", 1000, "number of samples (ignored when init is given)").at_least(1))
            .role(ParamRole::sample_count)
            .param(integer("steps", default_steps, "number of time steps").at_least(1))
            .param(real("t_min", 1e-3, "time at which sampling stops (early stopping when larger)").greater_than(0.0))
            .role(ParamRole::process_time)
            .param(choice("grid", "uniform", {"uniform", "log_snr", "karras"}, "time grid from T down to t_min"))
            .param(real("rho", 7.0, "exponent of the karras grid").greater_than(0.0))
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
          record_every(p.count("record_every")) {}

    void check_t_min(const ForwardProcess& process) const {
        if (!(t_min < process.t_end()))
            throw InputError("t_min = " + std::to_string(t_min) + " must be below the process end time " +
                                 std::to_string(process.t_end()), "t_min");
    }
    std::vector<double> times(const ForwardProcess& process) const {
        check_t_min(process);
        return time_grid(process, grid, steps, t_min, rho);
    }

    // Prior draws N(0, prior_std^2 I) from the stream shared by all samplers, so samplers
    // compared in one pipeline start from the same points; or the rows of the init file.
    Matrix initial_points(const ScoreEstimator& est, Context& ctx) const {
        const std::size_t d = est.dim();
        if (!init.empty()) {
            Matrix x = npy::read(init);
            if (cols(x) != d)
                throw InputError(init + ": initial points have " + std::to_string(cols(x)) +
                                     " columns, the score estimator's data has dimension " + std::to_string(d), "init");
            return x;
        }
        const double s = est.process().prior_std();
        const RandomStream stream = ctx.shared_stream("sampler/prior");
        Matrix x = Matrix::from_shape({n, d});
        for_chunks(n, random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = stream.chunk(c);
            for (std::size_t k = b * d; k < e * d; ++k) x.data()[k] = s * rng.normal();
        });
        return x;
    }

    // Optional Tweedie step at the end; counts its score evaluation.
    void finish(Matrix& x, const ScoreEstimator& est, double& score_evals) const {
        if (!denoise) return;
        Matrix d;
        est.denoise(x, t_min, d);
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
