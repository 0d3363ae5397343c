// EDM's second-order Heun solver (Karras et al. 2022, Algorithm 1 without churn) for the
// probability-flow ODE dx/dt = f - g^2 s / 2, written in the scaled variables
//   xh = x / alpha(t),   lambda = sigma(t) / alpha(t)   (the noise-to-signal ratio).
//
// Derivation (SCIENCE.md: f = (alpha'/alpha) x, g^2 = (sigma^2)' - 2 (alpha'/alpha) sigma^2):
//   d xh/dt = x'/alpha - (alpha'/alpha) xh = -g^2 s / (2 alpha)            (the f terms cancel)
//   g^2 / 2 = sigma^2 (sigma'/sigma - alpha'/alpha) = sigma^2 lambda'/lambda,  so
//   d xh/d lambda = -sigma^2 s / (alpha lambda) = (xh - D(x, t)) / lambda,
// using Tweedie, sigma^2 s = alpha D - x = alpha (D - xh). Equivalently the slope is
// (xh - D)/lambda = -sigma(t) s(x, t) (the noise prediction eps), which is how it is evaluated
// below: the same number without the cancellation in xh - D at small lambda.
//
// Heun step from lambda_i to lambda_{i+1} (lambda > 0 throughout since t_min > 0):
//   d_i = (xh - D(alpha_i xh, t_i)) / lambda_i,     xe = xh + (lambda_{i+1} - lambda_i) d_i,
//   d'  = (xe - D(alpha_{i+1} xe, t_{i+1})) / lambda_{i+1},
//   xh <- xh + (lambda_{i+1} - lambda_i) (d_i + d') / 2,
// and the result is x = alpha(t_min) xh. For VE and EDM (alpha = 1, lambda = sigma) this is
// exactly k-diffusion's sample_heun with s_churn = 0.
#include <mdlab/grid_sampler.hpp>

namespace {

class PfOdeHeun : public mdlab::GridSampler<PfOdeHeun> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("pf_ode_heun", "1.0.0",
                                   "EDM second-order Heun on the probability-flow ODE in x/alpha and sigma/alpha "
                                   "(2 score evaluations per step)",
                                   50);
    }

    using GridSampler::GridSampler;

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState).
    struct State : mdlab::ScaledState {
        State(const PfOdeHeun&, mdlab::SamplerRun& run)
            : ScaledState(run), xe(run.matrix()), arg(run.matrix()), s(run.matrix()), slope(run.matrix()) {}
        mdlab::Matrix xe;   // Euler predictor (scaled)
        mdlab::Matrix arg;  // alpha xh: where the score is asked
        mdlab::Matrix s;
        mdlab::Matrix slope;  // d_i
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double a0 = run.process.alpha(run.t[i]), s0 = run.process.sigma(run.t[i]);
        const double a1 = run.process.alpha(run.t[i + 1]), s1 = run.process.sigma(run.t[i + 1]);
        const double dl = s1 / a1 - s0 / a0;  // lambda_{i+1} - lambda_i < 0
        double *xh = run.x.data(), *xe = st.xe.data(), *arg = st.arg.data(), *slope = st.slope.data();

        // d_i = -sigma_i s(alpha_i xh, t_i); Euler predictor.
        run.each([&](std::size_t k) { arg[k] = a0 * xh[k]; });
        run.score(st.arg, run.t[i], st.s);
        run.each([&](std::size_t k) {
            slope[k] = -s0 * st.s.data()[k];
            xe[k] = xh[k] + dl * slope[k];
            arg[k] = a1 * xe[k];
        });
        // d' = -sigma_{i+1} s(alpha_{i+1} xe, t_{i+1}); trapezoidal corrector.
        run.score(st.arg, run.t[i + 1], st.s);
        run.each([&](std::size_t k) { xh[k] += dl * 0.5 * (slope[k] - s1 * st.s.data()[k]); });
    }
};

}  // namespace

MDLAB_PLUGINS(PfOdeHeun)
