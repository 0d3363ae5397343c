// One Euler or Heun step of the probability-flow ODE in the scaled variables of pf_ode_heun,
//   xh = x / alpha(t),   lambda = sigma(t) / alpha(t),   d xh / d lambda = (xh - D(x, t)) / lambda = -sigma(t) s(x, t),
// in which every Gaussian process is EDM's (xh_t = x0 + lambda eps): Karras et al. (2022),
// Algorithm 1 and 2, apply to any alpha with sigma replaced by lambda. The step of pf_ode_euler and
// pf_ode_heun, and of the samplers that leave the main grid between steps: edm_stochastic (its
// churned level sigma_hat) and restart (its back-integrations over the restart interval). run.x
// holds xh (mdlab::ScaledState).
// Not included by mdlab.hpp: only samplers need it.
#pragma once
#include <cmath>
#include <string>

#include "mdlab/grid_sampler.hpp"

namespace mdlab {

// The noise-to-signal ratio lambda(t) = sigma(t) / alpha(t) (k-diffusion's sigma).
inline double noise_ratio(const ForwardProcess& p, double t) { return p.sigma(t) / p.alpha(t); }

// The time at which the noise ratio is r, for r in (0, lambda(T)]: exactly T at r = lambda(T),
// so a level capped at the start of the time axis maps to T and not to a rounding above it.
inline double time_at_ratio(const ForwardProcess& p, double r) {
    const double T = p.t_end();
    return r >= noise_ratio(p, T) ? T : p.time_at_noise_ratio(r);
}

enum class OdeSolver { euler, heun };

inline OdeSolver ode_solver(const std::string& name) { return name == "euler" ? OdeSolver::euler : OdeSolver::heun; }

// Scratch of the steps, the shape of x.
class ScaledOdeStep {
public:
    explicit ScaledOdeStep(const SamplerRun& run)
        : arg_(run.matrix()), s_(run.matrix()), slope_(run.matrix()), xe_(run.matrix()) {}

    // Moves run.x = xh from time t0 to t1 < t0: slope d = -sigma_0 s(alpha_0 xh, t0), Euler
    // xe = xh + (lambda_1 - lambda_0) d; Heun adds d' = -sigma_1 s(alpha_1 xe, t1) and takes
    // xh + (lambda_1 - lambda_0) (d + d') / 2. One or two score evaluations (run.score counts them).
    void operator()(SamplerRun& run, double t0, double t1, OdeSolver solver) {
        const ForwardProcess& p = run.process;
        const double a0 = p.alpha(t0), s0 = p.sigma(t0), a1 = p.alpha(t1), s1 = p.sigma(t1);
        const double dl = s1 / a1 - s0 / a0;  // lambda_1 - lambda_0 < 0
        double *xh = run.x.data(), *arg = arg_.data(), *slope = slope_.data(), *xe = xe_.data();

        run.each([&](std::size_t k) { arg[k] = a0 * xh[k]; });
        run.score(arg_, t0, s_);  // may reallocate s_: its data() is read after each call
        const double* s = s_.data();
        if (solver == OdeSolver::euler) {
            run.each([&](std::size_t k) { xh[k] += dl * (-s0 * s[k]); });
            return;
        }
        run.each([&](std::size_t k) {
            slope[k] = -s0 * s[k];
            xe[k] = xh[k] + dl * slope[k];
            arg[k] = a1 * xe[k];
        });
        run.score(arg_, t1, s_);
        s = s_.data();
        run.each([&](std::size_t k) { xh[k] += dl * 0.5 * (slope[k] - s1 * s[k]); });
    }

private:
    Matrix arg_;    // alpha xh: where the score is asked
    Matrix s_;      // the score there
    Matrix slope_;  // d at t0
    Matrix xe_;     // Euler predictor (scaled)
};

// Adds the noise that raises xh from level lambda_0 to lambda_1 > lambda_0 in one exact jump of the
// forward process, xh <- xh + sqrt(lambda_1^2 - lambda_0^2) scale z: in x this is
// x <- (alpha_1/alpha_0) x + sqrt(sigma_1^2 - (alpha_1/alpha_0)^2 sigma_0^2) z (scale = 1). z is given.
inline void raise_noise_level(SamplerRun& run, double lambda0, double lambda1, double scale, const Matrix& z) {
    const double c = std::sqrt(lambda1 * lambda1 - lambda0 * lambda0) * scale;
    double* xh = run.x.data();
    const double* zd = z.data();
    run.each([&](std::size_t k) { xh[k] += c * zd[k]; });
}

}  // namespace mdlab
