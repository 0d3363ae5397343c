// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), the multistep second-order
// solver of the probability-flow ODE in data prediction, for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). With the half log-SNR lambda_t = log(alpha_t / sigma_t)
// the exact solution from t to s < t is
//   x_s = (sigma_s / sigma_t) x_t + sigma_s  integral_{lambda_t}^{lambda_s} e^lambda D(x_lambda) d lambda,
// and with h = lambda_s - lambda_t > 0 and D held at a value D' over the step:
//   x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D'.
// Step 0 uses D' = D_t (first order, DDIM); later steps extrapolate linearly in lambda from the
// previous step's denoiser output, with r = h_prev / h:
//   D' = (1 + 1/(2r)) D_t - (1/(2r)) D_prev.
// One denoiser evaluation per step. With alpha = 1 (VE, EDM) lambda = -log sigma and this is
// k-diffusion's sample_dpmpp_2m on the same sigmas, except that k-diffusion's step to sigma = 0
// (a plain x = denoised) is our denoise = true at t_min = sigma_min (see docs/plugins.md).
#include <cmath>
#include <utility>

#include <mdlab/grid_sampler.hpp>

namespace {

class DpmppTwoM : public mdlab::GridSampler<DpmppTwoM> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("dpmpp_2m", "1.0.0",
                                   "DPM-Solver++(2M): second-order multistep probability-flow solver in log-SNR "
                                   "(1 score evaluation per step)",
                                   50);
    }

    using GridSampler::GridSampler;

    struct State {
        State(const DpmppTwoM&, const mdlab::SamplerRun& run) : den(run.matrix()), prev(run.matrix()) {}
        mdlab::Matrix den;   // D(x_t, t)
        mdlab::Matrix prev;  // the previous step's D
        double h_prev = 0.0;
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        const double at = run.process.alpha(run.t[i]), st = run.process.sigma(run.t[i]);
        const double as = run.process.alpha(run.t[i + 1]), ss = run.process.sigma(run.t[i + 1]);
        const double h = std::log(as / ss) - std::log(at / st);  // lambda_s - lambda_t > 0
        const double cx = ss / st, cd = -as * std::expm1(-h);

        run.denoise(run.x, run.t[i], state.den);
        double* x = run.x.data();
        const double *den = state.den.data(), *prev = state.prev.data();
        if (i == 0) {
            run.each([&](std::size_t k) { x[k] = cx * x[k] + cd * den[k]; });
        } else {
            const double w = h / (2.0 * state.h_prev);  // 1/(2r)
            run.each([&](std::size_t k) {
                const double dd = (1.0 + w) * den[k] - w * prev[k];
                x[k] = cx * x[k] + cd * dd;
            });
        }
        std::swap(state.den, state.prev);
        state.h_prev = h;
    }
};

}  // namespace

MDLAB_PLUGINS(DpmppTwoM)
