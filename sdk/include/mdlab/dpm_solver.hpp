// What the DPM-Solver++ multistep samplers share (dpmpp_2m_sde, dpmpp_3m_sde, dpmpp_3m; Lu et al.
// 2022, "DPM-Solver++"): the step in the half log-SNR lambda = log(alpha / sigma), the history of
// denoiser outputs, and the update
//   x_s = (sigma_s / sigma_t) e^{-eta h} x_t + alpha_s (w_0 D_t + w_1 D_prev + w_2 D_prev2) + c z.
// For a general process this is k-diffusion's VE form (alpha = 1, lambda = -log sigma) applied to
// x / alpha with the noise level sigma / alpha, then multiplied back by alpha_s: the data-prediction
// solutions are linear in x_t, D and z, so the general form only scales the D and z coefficients by alpha_s.
// The SDE variant (eta > 0) is Lu et al.'s DPM-Solver++ SDE with k-diffusion's eta: over the step the
// D terms integrate e^{-(1 + eta) h}, and the noise has variance sigma_s^2 (1 - e^{-2 eta h}).
// Not included by mdlab.hpp: only samplers need it.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "mdlab/grid_sampler.hpp"

namespace mdlab {

// One grid step t -> s < t in lambda = log(alpha / sigma).
struct LogSnrStep {
    LogSnrStep(const ForwardProcess& p, double t, double s)
        : alpha_s(p.alpha(s)), sigma_s(p.sigma(s)), ratio(sigma_s / p.sigma(t)),
          h(std::log(alpha_s / sigma_s) - std::log(p.alpha(t) / p.sigma(t))) {}
    double alpha_s, sigma_s;
    double ratio;  // sigma_s / sigma_t
    double h;      // lambda_s - lambda_t > 0
};

// The denoiser outputs D(x_t, t) of the current and the last `keep` steps and the step sizes
// h in lambda that led away from them: what a multistep solver extrapolates from.
class DenoiserHistory {
public:
    DenoiserHistory(const SamplerRun& run, std::size_t keep) : h_(keep, 0.0) {
        for (std::size_t k = 0; k <= keep; ++k) d_.push_back(run.matrix());
    }
    // This step's D, to be filled before the update.
    Matrix& current() { return d_[0]; }
    const Matrix& current() const { return d_[0]; }
    // D of k steps ago (k >= 1) and the lambda step taken from it.
    const Matrix& past(std::size_t k) const { return d_[k]; }
    double past_h(std::size_t k) const { return h_[k - 1]; }
    // How many past steps are known (0 on the first step, at most keep).
    std::size_t known() const { return known_; }
    // After the step of size h: the current D becomes past(1).
    void advance(double h) {
        std::rotate(d_.rbegin(), d_.rbegin() + 1, d_.rend());
        std::rotate(h_.rbegin(), h_.rbegin() + 1, h_.rend());
        h_[0] = h;
        known_ = std::min(known_ + 1, h_.size());
    }

private:
    std::vector<Matrix> d_;  // d_[0] current, d_[k] k steps ago
    std::vector<double> h_;  // h_[k - 1]: the step from d_[k]
    std::size_t known_ = 0;
};

// x_s = cx x_t + alpha_s (w[0] D_t + w[1] D_prev + w[2] D_prev2) + cz z for one step; the multistep
// formulas only differ in the weights w.
struct MultistepUpdate {
    double cx = 0.0;
    double w[3] = {0.0, 0.0, 0.0};
    double cz = 0.0;  // 0: no noise
};

// The phi functions of the exponential integrator over he = (1 + eta) h, as k-diffusion writes
// them: phi_1 = 1 - e^{-he} (the D_t weight), phi_2 = (e^{-he} - 1)/he + 1 (of the first divided
// difference), phi_3 = phi_2 / he - 1/2 (of the second).
struct DpmppPhi {
    explicit DpmppPhi(double he) : phi1(-std::expm1(-he)), phi2(std::expm1(-he) / he + 1.0), phi3(phi2 / he - 0.5) {}
    double phi1, phi2, phi3;
};

// The eta-dependent parts every DPM-Solver++ (SDE) step shares: the x coefficient, the first-order
// D weight and the noise scale sigma_s sqrt(1 - e^{-2 eta h}) s_noise, dropped on the last step.
inline MultistepUpdate dpmpp_first_order(const LogSnrStep& st, double eta, double s_noise, bool last) {
    MultistepUpdate u;
    u.cx = st.ratio * std::exp(-eta * st.h);
    u.w[0] = -std::expm1(-(1.0 + eta) * st.h);
    if (eta > 0.0 && !last) u.cz = st.sigma_s * std::sqrt(-std::expm1(-2.0 * eta * st.h)) * s_noise;
    return u;
}

// DPM-Solver++(3M) SDE (k-diffusion sample_dpmpp_3m_sde; eta = 0: the DPM-Solver++(3M) ODE solver):
// first order on the first step, second order (phi_2 times the divided difference (D_t - D_prev)/r)
// on the second, then with r0 = h_prev / h, r1 = h_prev2 / h:
//   d1_0 = (D_t - D_prev)/r0, d1_1 = (D_prev - D_prev2)/r1, e = d1_0 - d1_1,
//   x += phi_2 (d1_0 + e r0/(r0 + r1)) - c phi_3 e/(r0 + r1),
// written here as weights of D_t, D_prev and D_prev2. d1 estimates h D' and d2 = e/(r0 + r1) estimates
// h^2 D''/2 (D as a function of lambda), while the exact integral of the Taylor term D'' (lambda -
// lambda_t)^2 / 2 is -2 phi_3 d2: c = 2 (Dpmpp3mCoefficients::third_order) integrates the quadratic
// interpolant of D exactly, a third-order method; c = 1 (reference) is the coefficient of the
// DPM-Solver, diffusers and k-diffusion code, which captures half of that term and is second order.
enum class Dpmpp3mCoefficients { reference, third_order };

inline MultistepUpdate dpmpp_3m_update(const LogSnrStep& st, const DenoiserHistory& hist, double eta, double s_noise,
                                       bool last, Dpmpp3mCoefficients coefficients) {
    MultistepUpdate u = dpmpp_first_order(st, eta, s_noise, last);
    const DpmppPhi phi((1.0 + eta) * st.h);
    if (hist.known() >= 2) {
        const double r0 = hist.past_h(1) / st.h, r1 = hist.past_h(2) / st.h;
        const double c = coefficients == Dpmpp3mCoefficients::third_order ? 2.0 : 1.0;
        const double q = (phi.phi2 * r0 - c * phi.phi3) / (r0 + r1);  // weight of e
        u.w[0] += phi.phi2 / r0 + q / r0;
        u.w[1] = -phi.phi2 / r0 - q * (1.0 / r0 + 1.0 / r1);
        u.w[2] = q / r1;
    } else if (hist.known() == 1) {
        const double c = phi.phi2 * st.h / hist.past_h(1);  // phi_2 / r
        u.w[0] += c;
        u.w[1] = -c;
    }
    return u;
}

// The spec of a DPM-Solver++ SDE sampler: the common sampler parameters, k-diffusion's `eta` and
// `s_noise`, and the step noise (independent, or one Brownian path as k-diffusion's
// BrownianTreeNoiseSampler gives, in process time); `ode` names the sampler its eta = 0 is.
inline PluginSpec dpmpp_sde_spec(std::string name, std::string summary, const std::string& ode) {
    return sampler_spec(std::move(name), "1.0.0", std::move(summary), 50)
        .param(real("eta", 1.0, "stochasticity: 0 is the probability-flow ODE (" + ode + "), 1 the DPM-Solver++ SDE")
                   .at_least(0.0))
        .param(real("s_noise", 1.0, "scale of the added noise (1: the exact SDE)").at_least(0.0))
        .param(noise_param());
}

// The `coefficients` parameter of the 3M samplers.
inline ParamSpec dpmpp_3m_coefficients_param(const std::string& def) {
    return choice("coefficients", def, {"third_order", "reference"},
                  "third_order: the D'' term integrated exactly (third order); reference: the coefficient of the "
                  "DPM-Solver, diffusers and k-diffusion code (half that term, second order)");
}
inline Dpmpp3mCoefficients dpmpp_3m_coefficients(const Params& p) {
    return p.string("coefficients") == "third_order" ? Dpmpp3mCoefficients::third_order : Dpmpp3mCoefficients::reference;
}

// The state of a DPM-Solver++ multistep sampler and its step: D_t into the history, the step's
// noise z = run.step_noise(noise, i) when the update adds some (k-diffusion: the noise of the
// interval [sigma_i, sigma_{i+1}]), then
//   x <- cx x + alpha_s (w[0] D_t + w[1] D_prev + w[2] D_prev2) + cz z,
// with the update from weights(step, history).
class MultistepState {
public:
    MultistepState(const SamplerRun& run, std::size_t keep) : noise_(run.noise()), history_(run, keep) {}

    template <class Weights>
    void step(SamplerRun& run, std::size_t i, Weights&& weights) {
        const LogSnrStep st(run.process, run.t[i], run.t[i + 1]);
        const MultistepUpdate u = weights(st, std::as_const(history_));
        run.denoise(run.x, run.t[i], history_.current());
        if (u.cz != 0.0) {
            if (z_.size() != run.x.size()) z_ = run.matrix();
            run.step_noise(noise_, i, z_);
        }
        const double a = st.alpha_s, cx = u.cx, w0 = a * u.w[0], w1 = a * u.w[1], w2 = a * u.w[2], cz = u.cz;
        double* x = run.x.data();
        const double* den = history_.current().data();
        const double* p1 = history_.known() >= 1 ? history_.past(1).data() : den;
        const double* p2 = history_.known() >= 2 ? history_.past(2).data() : den;
        const double* z = z_.data();
        run.each([&](std::size_t k) {
            double v = cx * x[k] + w0 * den[k];
            if (w1 != 0.0) v += w1 * p1[k];
            if (w2 != 0.0) v += w2 * p2[k];
            if (cz != 0.0) v += cz * z[k];
            x[k] = v;
        });
        history_.advance(st.h);
    }

private:
    RandomStream noise_;
    DenoiserHistory history_;
    Matrix z_;  // allocated on the first noisy step
};

}  // namespace mdlab
