// Heun (the explicit trapezoidal rule) on the velocity of the path, in x and t, with the
// stochastic-interpolant noise gamma (SCIENCE.md section 6; derivation in mdlab/velocity.hpp).
// With the drift b(x, t) = v(x, t) - (gamma^2/2) s(x, t), h = t_i - t_{i+1} and z the step noise:
//   xe = x - h b(x, t_i) + w,   x <- x - h (b(x, t_i) + b(xe, t_{i+1})) / 2 + w,
//   w = sqrt(h (gamma_i^2 + gamma_{i+1}^2) / 2) z   (the variance of the integral of gamma dW, trapezoidal),
// the last step without noise: the stochastic Heun method for additive noise; with gamma = 0 the
// classical second-order Heun on the probability-flow ODE dx/dt = v. On EDM (alpha = 1,
// sigma = t) it equals pf_ode_heun, whose variables are then x and t too.
#include <cmath>

#include <mdlab/velocity.hpp>

namespace {

class VelocityHeun : public mdlab::VelocitySampler<VelocityHeun> {
public:
    static mdlab::PluginSpec describe() {
        return spec("velocity_heun",
                    "second-order Heun in x and t on the path's velocity from the score "
                    "(2 score evaluations per step), optional interpolant noise gamma",
                    50);
    }

    using VelocitySampler::VelocitySampler;

    struct State {
        State(const VelocityHeun&, const mdlab::SamplerRun& run)
            : noise(run.noise()), s(run.matrix()), z(run.matrix()), xe(run.matrix()), slope(run.matrix()) {}
        mdlab::RandomStream noise;
        mdlab::Matrix s, z;
        mdlab::Matrix xe;     // Euler predictor
        mdlab::Matrix slope;  // b(x, t_i)
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double h = run.t[i] - run.t[i + 1];
        const mdlab::VelocityDrift d0 = options().drift(run.process, run.t[i]);
        const mdlab::VelocityDrift d1 = options().drift(run.process, run.t[i + 1]);
        const double scale = run.last(i) ? 0.0 : std::sqrt(0.5 * h * (d0.gamma2 + d1.gamma2));
        if (scale > 0.0) run.step_noise(st.noise, i, st.z);
        double *x = run.x.data(), *xe = st.xe.data(), *slope = st.slope.data();
        const double* z = st.z.data();

        run.score(run.x, run.t[i], st.s);  // the estimator may resize st.s: read its data after each call
        const double* s = st.s.data();
        run.each([&](std::size_t k) {
            slope[k] = d0.a * x[k] + d0.b * s[k];
            xe[k] = x[k] - h * slope[k];
            if (scale > 0.0) xe[k] += scale * z[k];
        });
        run.score(st.xe, run.t[i + 1], st.s);
        const double* s1 = st.s.data();
        run.each([&](std::size_t k) {
            x[k] -= 0.5 * h * (slope[k] + d1.a * xe[k] + d1.b * s1[k]);
            if (scale > 0.0) x[k] += scale * z[k];
        });
    }
};

}  // namespace

MDLAB_PLUGINS(VelocityHeun)
