// Independent transcriptions of k-diffusion's sample_dpmpp_2m_sde and sample_dpmpp_3m_sde
// (k_diffusion/sampling.py), line by line, for one coordinate: `denoised(x, sigma)` is the model,
// `noise(i)` the standard normal that noise_sampler(sigmas[i], sigmas[i + 1]) returns on step i.
// k-diffusion works in the VE variable (alpha = 1); a process with alpha != 1 maps onto it by
// x / alpha and the noise level sigma / alpha, as k-diffusion's VP wrappers do.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace mdlab::test {

template <class Denoiser, class Noise>
double k_dpmpp_2m_sde(double x, const std::vector<double>& sigmas, Denoiser denoised_at, Noise noise, double eta,
                      double s_noise, bool heun) {
    bool have_old = false;
    double old_denoised = 0.0, h_last = 0.0, h = 0.0;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double denoised = denoised_at(x, sigmas[i]);
        if (sigmas[i + 1] == 0.0) {
            x = denoised;
        } else {
            const double t = -std::log(sigmas[i]), s = -std::log(sigmas[i + 1]);
            h = s - t;
            const double eta_h = eta * h;
            x = sigmas[i + 1] / sigmas[i] * std::exp(-eta_h) * x + -std::expm1(-h - eta_h) * denoised;
            if (have_old) {
                const double r = h_last / h;
                if (heun)
                    x = x + (-std::expm1(-h - eta_h) / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised);
                else
                    x = x + 0.5 * -std::expm1(-h - eta_h) * (1 / r) * (denoised - old_denoised);
            }
            if (eta != 0.0) x = x + noise(i) * sigmas[i + 1] * std::sqrt(-std::expm1(-2 * eta_h)) * s_noise;
        }
        old_denoised = denoised;
        have_old = true;
        h_last = h;
    }
    return x;
}

// d2_factor = 1 is k-diffusion; 2 is mdlab's `coefficients: third_order` (phi_3 * d2 doubled).
template <class Denoiser, class Noise>
double k_dpmpp_3m_sde(double x, const std::vector<double>& sigmas, Denoiser denoised_at, Noise noise, double eta,
                      double s_noise, double d2_factor = 1.0) {
    double denoised_1 = 0.0, denoised_2 = 0.0;
    double h = 0.0, h_1 = 0.0, h_2 = 0.0;
    int known = 0;  // how many of h_1, h_2 are not None
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double denoised = denoised_at(x, sigmas[i]);
        if (sigmas[i + 1] == 0.0) {
            x = denoised;
        } else {
            const double t = -std::log(sigmas[i]), s = -std::log(sigmas[i + 1]);
            h = s - t;
            const double h_eta = h * (eta + 1);
            x = std::exp(-h_eta) * x + -std::expm1(-h_eta) * denoised;
            if (known >= 2) {
                const double r0 = h_1 / h, r1 = h_2 / h;
                const double d1_0 = (denoised - denoised_1) / r0;
                const double d1_1 = (denoised_1 - denoised_2) / r1;
                const double d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1);
                const double d2 = (d1_0 - d1_1) / (r0 + r1);
                const double phi_2 = std::expm1(-h_eta) / h_eta + 1;
                const double phi_3 = phi_2 / h_eta - 0.5;
                x = x + phi_2 * d1 - d2_factor * phi_3 * d2;
            } else if (known == 1) {
                const double r = h_1 / h;
                const double d = (denoised - denoised_1) / r;
                const double phi_2 = std::expm1(-h_eta) / h_eta + 1;
                x = x + phi_2 * d;
            }
            if (eta != 0.0) x = x + noise(i) * sigmas[i + 1] * std::sqrt(-std::expm1(-2 * h * eta)) * s_noise;
        }
        denoised_2 = denoised_1, denoised_1 = denoised;
        h_2 = h_1, h_1 = h;
        known = known < 2 ? known + 1 : 2;
    }
    return x;
}

// One of the two transcriptions with its k-diffusion arguments.
struct KDiffusionCall {
    const char* function;  // "2m_sde" or "3m_sde"
    double eta, s_noise;
    bool heun;
    double d2_factor = 1.0;
    template <class Denoiser, class Noise>
    double operator()(double x, const std::vector<double>& sigmas, Denoiser denoised_at, Noise noise) const {
        return std::string(function) == "2m_sde" ? k_dpmpp_2m_sde(x, sigmas, denoised_at, noise, eta, s_noise, heun)
                                                 : k_dpmpp_3m_sde(x, sigmas, denoised_at, noise, eta, s_noise, d2_factor);
    }
};

}  // namespace mdlab::test
