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

    // Adds n, steps, t_min, grid, rho, denoise and init to a sampler's spec, and its `score` input.
    static void declare(PluginSpec& spec, std::int64_t default_steps) {
        spec.input("score", ValueKind::estimator, "score estimator; its forward process sets the time axis")
            .param(integer("n", 1000, "number of samples (ignored when init is given)").at_least(1))
            .param(integer("steps", default_steps, "number of time steps").at_least(1))
            .param(real("t_min", 1e-3, "time at which sampling stops (early stopping when larger)").greater_than(0.0))
            .param(choice("grid", "uniform", {"uniform", "log_snr", "karras"}, "time grid from T down to t_min"))
            .param(real("rho", 7.0, "exponent of the karras grid").greater_than(0.0))
            .param(boolean("denoise", false, "return the Tweedie denoised point D(x, t_min) instead of x"))
            .param(path("init", "optional .npy file of initial points (n x D) used instead of prior draws"));
    }
    explicit SamplerSettings(const Params& p)
        : n(p.count("n")), steps(p.count("steps")), t_min(p.real("t_min")), grid(p.string("grid")),
          rho(p.real("rho")), denoise(p.boolean("denoise")), init(p.string("init")) {}

    std::vector<double> times(const ForwardProcess& process) const {
        if (!(t_min < process.t_end()))
            throw InputError("t_min = " + std::to_string(t_min) + " must be below the process end time " +
                                 std::to_string(process.t_end()), "t_min");
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
