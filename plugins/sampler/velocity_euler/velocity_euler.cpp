// Euler on the velocity of the path, in x and t, as flow-matching codes integrate it
// (diffusers' FlowMatchEulerDiscreteScheduler.step: x <- x + (t_{i+1} - t_i) v), with the
// stochastic-interpolant noise gamma (SCIENCE.md section 6; derivation in mdlab/velocity.hpp):
//   v = (alpha'/alpha) x + sigma (sigma alpha'/alpha - sigma') s(x, t)      (= f - g^2 s / 2)
//   x <- x - h (v - (gamma^2/2) s) + gamma sqrt(h) z,  h = t_i - t_{i+1},  z = step noise i,
// the last step without noise. gamma = 0 (default): the probability-flow ODE. On the linear path
// (flow_matching) the Euler step is DDIM's map: x_{i+1} = (1 - t_{i+1}) D + t_{i+1} eps_hat, so it equals
// pf_ode_euler to rounding; with gamma = g it is euler_maruyama.
#include <cmath>

#include <mdlab/velocity.hpp>

namespace {

class VelocityEuler : public mdlab::VelocitySampler<VelocityEuler> {
public:
    static mdlab::PluginSpec describe() {
        return spec("velocity_euler",
                    "Euler in x and t on the path's velocity from the score (flow-matching "
                    "Euler, diffusers' shift), optional interpolant noise gamma",
                    100);
    }

    using VelocitySampler::VelocitySampler;

    struct State {
        State(const VelocityEuler&, const mdlab::SamplerRun& run) : noise(run.noise()), s(run.matrix()), z(run.matrix()) {}
        mdlab::RandomStream noise;
        mdlab::Matrix s, z;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double h = run.t[i] - run.t[i + 1];
        const mdlab::VelocityDrift d = options().drift(run.process, run.t[i]);
        const double scale = run.last(i) ? 0.0 : std::sqrt(d.gamma2 * h);
        if (scale > 0.0) run.step_noise(st.noise, i, st.z);
        run.score(run.x, run.t[i], st.s);
        double* x = run.x.data();
        const double *s = st.s.data(), *z = st.z.data();
        run.each([&](std::size_t k) {
            x[k] -= h * (d.a * x[k] + d.b * s[k]);
            if (scale > 0.0) x[k] += scale * z[k];
        });
    }
};

}  // namespace

MDLAB_PLUGINS(VelocityEuler)
