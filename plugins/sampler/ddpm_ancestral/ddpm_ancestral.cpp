// Ancestral sampling (Ho et al. 2020, DDPM; SCIENCE.md section 3) for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). Between consecutive grid times t > s the forward
// transition is x_t | x_s ~ N(alpha_{t|s} x_s, sigma_{t|s}^2 I) with
//   alpha_{t|s} = alpha_t / alpha_s,   sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2,
// and the Gaussian posterior q(x_s | x_t, x0) (Kingma et al. 2021, VDM, eq. 28-30) is
//   mean = (alpha_{t|s} sigma_s^2 / sigma_t^2) x_t + (alpha_s sigma_{t|s}^2 / sigma_t^2) x0,
//   var  = sigma_{t|s}^2 sigma_s^2 / sigma_t^2.
// One step replaces x0 by the Tweedie denoiser x0_hat = D(x_t, t) and draws from that posterior.
// The last step returns the mean (no noise), so a run to t_min -> 0 with the empirical score
// lands on training points. The noise of step i is step_noise(shared "sampler/noise", i), the
// same draws as ddim with eta = 1, which is then the same map up to rounding. With noise =
// "brownian" z is the normalised increment of one Brownian path over [t_{i+1}, t_i] (run.step_noise).
#include <algorithm>
#include <cmath>

#include <mdlab/grid_sampler.hpp>

namespace {

class DdpmAncestral : public mdlab::GridSampler<DdpmAncestral> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("ddpm_ancestral", "1.1.0",
                                   "ancestral sampling from the Gaussian posterior q(x_s | x_t, x0 = D(x_t, t)), "
                                   "no noise on the last step",
                                   500)
            .param(mdlab::noise_param());
    }

    using GridSampler::GridSampler;

    struct State {
        State(const DdpmAncestral&, const mdlab::SamplerRun& run)
            : noise(run.noise()), x0(run.matrix()), z(run.matrix()) {}
        mdlab::RandomStream noise;
        mdlab::Matrix x0, z;
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        const bool last = run.last(i);
        const double at = run.process.alpha(run.t[i]), st = run.process.sigma(run.t[i]);
        const double as = run.process.alpha(run.t[i + 1]), ss = run.process.sigma(run.t[i + 1]);
        const double ats = at / as;
        // sigma_{t|s}^2 = alpha_t^2 (lambda_t^2 - lambda_s^2) with lambda = sigma/alpha, > 0 for t > s;
        // clamped against rounding when two grid times nearly coincide.
        const double sts2 = std::max(0.0, st * st - ats * ats * ss * ss);
        const double cx = ats * ss * ss / (st * st), c0 = as * sts2 / (st * st);
        const double sd = last ? 0.0 : std::sqrt(sts2 * ss * ss / (st * st));

        run.denoise(run.x, run.t[i], state.x0);
        if (!last) run.step_noise(state.noise, i, state.z);
        const std::size_t d = run.d;
        mdlab::for_chunks(run.n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t k = b * d; k < e * d; ++k) {
                const double mean = cx * run.x.data()[k] + c0 * state.x0.data()[k];
                run.x.data()[k] = last ? mean : mean + sd * state.z.data()[k];
            }
        });
    }
};

}  // namespace

MDLAB_PLUGINS(DdpmAncestral)
