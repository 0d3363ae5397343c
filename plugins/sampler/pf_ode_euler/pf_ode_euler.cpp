// First-order Euler on the probability-flow ODE dx/dt = f - g^2 s / 2, in the scaled variables
// of pf_ode_heun (Karras et al. 2022, eq. 4 and Algorithm 1 with its corrector removed):
//   xh = x / alpha(t),   lambda = sigma(t) / alpha(t),   d xh/d lambda = (xh - D(x, t)) / lambda,
// where the slope equals -sigma(t) s(x, t) (the noise prediction) and is evaluated in that form,
// without the cancellation in xh - D at small lambda. One step from lambda_i to lambda_{i+1}:
//   xh <- xh + (lambda_{i+1} - lambda_i) (-sigma_i s(alpha_i xh, t_i)),
// and the result is x = alpha(t_min) xh. For VE and EDM (alpha = 1, lambda = sigma) this is
// k-diffusion's sample_euler with s_churn = 0 on the same sigmas. In these variables the Euler
// step is also DDIM with eta = 0 (Song et al. 2021, section 4.3): the same map, another rounding.
#include <mdlab/grid_sampler.hpp>
#include <mdlab/scaled_ode_step.hpp>

namespace {

class PfOdeEuler : public mdlab::GridSampler<PfOdeEuler> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("pf_ode_euler", "1.0.0",
                                   "first-order Euler on the probability-flow ODE in x/alpha and sigma/alpha "
                                   "(1 score evaluation per step)",
                                   100);
    }

    using GridSampler::GridSampler;

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState); the step is mdlab::ScaledOdeStep's.
    struct State : mdlab::ScaledState {
        State(const PfOdeEuler&, mdlab::SamplerRun& run) : ScaledState(run), ode(run) {}
        mdlab::ScaledOdeStep ode;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        st.ode(run, run.t[i], run.t[i + 1], mdlab::OdeSolver::euler);
    }
};

}  // namespace

MDLAB_PLUGINS(PfOdeEuler)
