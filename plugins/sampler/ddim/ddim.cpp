// DDIM (Song, Meng and Ermon 2021, eq. 12 and 16) written for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). From t to the next grid time s < t:
//   x0_hat  = D(x_t, t)                          (Tweedie denoiser),
//   eps_hat = (x_t - alpha_t x0_hat) / sigma_t   (the implied noise),
//   x_s     = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z,   z ~ N(0, I),
//   c       = eta sqrt(sigma_{t|s}^2 sigma_s^2 / sigma_t^2),
// with alpha_{t|s} = alpha_t/alpha_s and sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2: c^2 is eta^2
// times the variance of the DDPM posterior q(x_s | x_t, x0). eta = 0 is the deterministic DDIM
// (the Euler step of the probability-flow ODE in x/alpha and sigma/alpha, i.e. pf_ode_euler);
// eta = 1 is ancestral sampling (ddpm_ancestral). Substituting eps_hat, the update is evaluated as
//   x_s = (k / sigma_t) x_t + (alpha_s - k alpha_t / sigma_t) x0_hat + c z,   k = sqrt(sigma_s^2 - c^2).
// The last step takes no noise (c z dropped). Noise of step i: step_noise(shared "sampler/noise", i),
// the same draws as ddpm_ancestral, so eta = 1 reproduces it up to rounding; with noise = "brownian"
// (for eta > 0) z is the normalised increment of one Brownian path over [t_{i+1}, t_i] instead.
#include <algorithm>
#include <cmath>

#include <mdlab/grid_sampler.hpp>

namespace {

class Ddim : public mdlab::GridSampler<Ddim> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("ddim", "1.1.0",
                                   "DDIM with stochasticity eta (0: deterministic probability-flow step, "
                                   "1: ancestral), no noise on the last step",
                                   100)
            .param(mdlab::real("eta", 0.0,
                               "noise level as a fraction of the DDPM posterior standard deviation "
                               "(0: deterministic DDIM, 1: ancestral DDPM)")
                       .at_least(0.0)
                       .at_most(1.0))
            .param(mdlab::noise_param());
    }

    explicit Ddim(const mdlab::Params& p) : GridSampler(p), eta_(p.real("eta")) {}

    struct State {
        State(const Ddim&, const mdlab::SamplerRun& run) : noise(run.noise()), x0(run.matrix()), z(run.matrix()) {}
        mdlab::RandomStream noise;
        mdlab::Matrix x0, z;
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        const bool noisy = eta_ > 0.0 && !run.last(i);
        const double at = run.process.alpha(run.t[i]), st = run.process.sigma(run.t[i]);
        const double as = run.process.alpha(run.t[i + 1]), ss = run.process.sigma(run.t[i + 1]);
        const double ats = at / as;
        const double sts2 = std::max(0.0, st * st - ats * ats * ss * ss);
        const double c = eta_ * std::sqrt(sts2 * ss * ss / (st * st));
        // c <= sigma_s since sigma_{t|s} <= sigma_t; the clamp only guards rounding at eta = 1.
        const double k = std::sqrt(std::max(0.0, ss * ss - c * c));
        const double cx = k / st, c0 = as - k * at / st;
        const double cz = noisy ? c : 0.0;

        run.denoise(run.x, run.t[i], state.x0);
        if (noisy) run.step_noise(state.noise, i, state.z);
        const std::size_t d = run.d;
        mdlab::for_chunks(run.n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t q = b * d; q < e * d; ++q) {
                const double mean = cx * run.x.data()[q] + c0 * state.x0.data()[q];
                run.x.data()[q] = noisy ? mean + cz * state.z.data()[q] : mean;
            }
        });
    }

private:
    double eta_;
};

}  // namespace

MDLAB_PLUGINS(Ddim)
