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

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState).
    struct State : mdlab::ScaledState {
        State(const PfOdeEuler&, mdlab::SamplerRun& run) : ScaledState(run), arg(run.matrix()), s(run.matrix()) {}
        mdlab::Matrix arg;  // alpha xh: where the score is asked
        mdlab::Matrix s;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double a0 = run.process.alpha(run.t[i]), s0 = run.process.sigma(run.t[i]);
        const double a1 = run.process.alpha(run.t[i + 1]), s1 = run.process.sigma(run.t[i + 1]);
        const double dl = s1 / a1 - s0 / a0;  // lambda_{i+1} - lambda_i < 0
        double* xh = run.x.data();

        run.each([&](std::size_t k) { st.arg.data()[k] = a0 * xh[k]; });
        run.score(st.arg, run.t[i], st.s);
        run.each([&](std::size_t k) { xh[k] += dl * (-s0 * st.s.data()[k]); });
    }
};

}  // namespace

MDLAB_PLUGINS(PfOdeEuler)
