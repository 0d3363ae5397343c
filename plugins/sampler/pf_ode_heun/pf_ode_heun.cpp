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
#include <mdlab/scaled_ode_step.hpp>

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

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState); the step is mdlab::ScaledOdeStep's.
    struct State : mdlab::ScaledState {
        State(const PfOdeHeun&, mdlab::SamplerRun& run) : ScaledState(run), ode(run) {}
        mdlab::ScaledOdeStep ode;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        st.ode(run, run.t[i], run.t[i + 1], mdlab::OdeSolver::heun);
    }
};

}  // namespace

MDLAB_PLUGINS(PfOdeHeun)
