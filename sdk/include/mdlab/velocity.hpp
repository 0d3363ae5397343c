// What the velocity samplers (velocity_euler, velocity_heun) share: the velocity of an
// interpolant path from the score, the noise level gamma of the stochastic-interpolant SDE, and
// the timestep shift of SD3 / diffusers' FlowMatchEulerDiscreteScheduler.
//
// The velocity (SCIENCE.md section 6). For x_t = alpha x0 + sigma eps, the velocity field is
// v(x, t) = E[d x_t / dt | x_t = x] = alpha' E[x0 | x] + sigma' E[eps | x]. Tweedie gives
// E[x0 | x] = (x + sigma^2 s) / alpha, and E[eps | x] = (x - alpha E[x0 | x]) / sigma = -sigma s, so
//   v = (alpha'/alpha) (x + sigma^2 s) - sigma' sigma s
//     = (alpha'/alpha) x + sigma (sigma alpha'/alpha - sigma') s.
// With f = (alpha'/alpha) x and g^2 = 2 sigma sigma' - 2 (alpha'/alpha) sigma^2 (section 1) the
// second coefficient is -g^2 / 2: v = f - g^2 s / 2 is the probability-flow drift, so a velocity
// sampler and the PF-ODE samplers integrate one ODE on any path (they differ in the variables
// they step in: velocity samplers step x in t, as flow-matching codes do).
//
// The stochastic interpolant SDE. For any gamma(t) >= 0, dx = [v - (gamma^2 / 2) s] dt + gamma dW_bar
// run backwards in time has the marginals of the path: its Fokker-Planck equation differs from
// the ODE's continuity equation by -(gamma^2/2) div(p s) + (gamma^2/2) lap p = 0, since p s = grad p.
// gamma = 0 is the ODE; gamma = g the reverse SDE of section 1 (drift f - g^2 s).
//
// The shift. FlowMatchEulerDiscreteScheduler maps its sigmas (= t on the linear path, from 1 to 0)
// by t' = shift t / (1 + (shift - 1) t), shift > 1 spending more steps at high noise (Esser et al.
// 2024, SD3). Our grids run from t_0 = T < 1 down to t_N = t_min > 0, so the map is applied to
// u = (t - t_N) / (t_0 - t_N): t' = t_N + (t_0 - t_N) u', both ends fixed; with t_0 -> 1 and
// t_N -> 0 it is diffusers' map.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "mdlab/grid_sampler.hpp"

namespace mdlab {

// shift t / (1 + (shift - 1) t) on [0, 1] (shift = 1: the identity).
inline double shift_time(double shift, double u) { return shift * u / (1.0 + (shift - 1.0) * u); }

// The shifted grid: each interior time mapped through shift_time on [t.back(), t.front()].
inline void shift_grid(std::vector<double>& t, double shift) {
    if (shift == 1.0 || t.size() < 3) return;
    const double top = t.front(), bottom = t.back();
    for (std::size_t i = 1; i + 1 < t.size(); ++i)
        t[i] = bottom + (top - bottom) * shift_time(shift, (t[i] - bottom) / (top - bottom));
}

// The drift b(x, t) = a x + b s of the stochastic interpolant SDE (b = the velocity's score
// coefficient minus gamma^2 / 2), and gamma^2.
struct VelocityDrift {
    double a, b, gamma2;
};

// The sampler parameters `shift` and `gamma`, and the drift they give on a process.
class VelocityOptions {
public:
    static void declare(PluginSpec& spec) {
        spec.param(real("shift", 1.0,
                        "timestep shift t' = shift t / (1 + (shift - 1) t) of the grid (SD3, diffusers' "
                        "FlowMatchEulerDiscreteScheduler), on the grid's range; 1: no shift")
                       .greater_than(0.0))
            .param(real_or_choice("gamma", 0.0, {"g"},
                                  "noise level of the interpolant SDE dx = [v - gamma^2 s / 2] dt + gamma dW: a constant "
                                  "(0: the probability-flow ODE) or g, the process's own diffusion (the reverse SDE)")
                       .at_least(0.0));
    }
    explicit VelocityOptions(const Params& p)
        : shift_(p.real("shift")), gamma_is_g_(p.is_choice("gamma")), gamma_(gamma_is_g_ ? 0.0 : p.real("gamma")) {}

    double shift() const { return shift_; }
    // Whether any step but the last takes noise.
    bool stochastic() const { return gamma_is_g_ || gamma_ > 0.0; }

    VelocityDrift drift(const ForwardProcess& p, double t) const {
        const double s = p.sigma(t), dla = p.dlog_alpha_dt(t);
        const double g2 = gamma_is_g_ ? p.g2(t) : gamma_ * gamma_;
        return {dla, s * (s * dla - p.dsigma_dt(t)) - 0.5 * g2, g2};
    }

    // Applies the shift to the run's grid (a sampler's prepare).
    void prepare(SamplerRun& run) const { shift_grid(run.t, shift_); }

private:
    double shift_;
    bool gamma_is_g_;
    double gamma_;
};

// The base of the velocity samplers: a GridSampler with the options, the shift applied to the
// grid before the loop. Impl writes describe() (with spec()), State and step().
template <class Impl>
class VelocitySampler : public GridSampler<Impl> {
public:
    explicit VelocitySampler(const Params& p) : GridSampler<Impl>(p), options_(p) {}
    void prepare(SamplerRun& run) const { options_.prepare(run); }

    // A velocity sampler's spec: the common sampler parameters, shift, gamma and the step noise
    // (independent or one Brownian path; it matters for gamma > 0 only).
    static PluginSpec spec(std::string name, std::string summary, std::int64_t default_steps) {
        PluginSpec spec = sampler_spec(std::move(name), "1.0.0", std::move(summary), default_steps);
        VelocityOptions::declare(spec);
        spec.param(noise_param());
        return spec;
    }

protected:
    const VelocityOptions& options() const { return options_; }

private:
    VelocityOptions options_;
};

}  // namespace mdlab
