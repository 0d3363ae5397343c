// The probability-flow ODE with the instantaneous change of variables (Chen et al. 2018,
// Grathwohl et al. 2019 "FFJORD"; Song et al. 2021, score_sde's likelihood.py), SCIENCE.md
// section 6. Along dx/dt = F(x, t) = f - g^2 s / 2 = (alpha'/alpha) x + sigma (sigma alpha'/alpha - sigma') s,
//   d log p_t(x(t)) / dt = -div F,   so   log p_{t_min}(x) = log p_T(x(T)) + integral_{t_min}^T div F dt,
// with div F = D alpha'/alpha + sigma (sigma alpha'/alpha - sigma') div s.
//
// Variable of integration: u = log(sigma / alpha) (minus half the log-SNR; the variable of
// DPM-Solver and of the rk45 sampler), steps equal in u. With r = du/dt = sigma'/sigma - alpha'/alpha > 0,
//   dx/du = F / r = c x - sigma^2 s,   c = (alpha'/alpha) / r,
//   div_x(dx/du) = D c - sigma^2 div s.
// For Gaussian data N(m, v I) this rate is (c + sigma^2 / (alpha^2 v + sigma^2)) per coordinate,
// bounded over the whole range, where dx/dt grows like 1/t near t = 0 (VE, EDM): equal steps in u
// cost a fixed number of steps per decade of noise. t(u) comes from the process's
// time_at_noise_ratio (closed form for the built-in processes); the ends are t_min and T exactly.
//
// Steps: classical Runge-Kutta 4 or Heun (explicit trapezoid) on the augmented state
// (x, L = integral of div(dx/du) du), the divergence taken at every stage as the state's.
#pragma once
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/parallel.hpp>
#include <mdlab/score_divergence.hpp>

namespace nll {

// How div s is taken: D coordinate directions, or Hutchinson with fixed probes z.
struct Divergence {
    bool exact = true;
    mdlab::Matrix probes;  // n m x D Rademacher probes, row i m + j (Hutchinson)
    std::size_t m = 0;     // probes per point
    double relative_step = 1e-3;  // finite-difference step / sigma(t)
};

// The rate of the augmented ODE at (x, t): dx/du into g, div_x(dx/du) into dv.
class FlowRate {
public:
    FlowRate(const mdlab::ScoreEstimator& est, const Divergence& div) : est_(est), p_(est.process()), div_(div) {}

    void operator()(const mdlab::Matrix& x, double t, mdlab::Matrix& g, std::vector<double>& dv) const {
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        const double sigma = p_.sigma(t), la = p_.dlog_alpha_dt(t);
        const double r = p_.dsigma_dt(t) / sigma - la, c = la / r, s2 = sigma * sigma;
        est_.score(x, t, s_);
        const double h = div_.relative_step * sigma;
        if (div_.exact)
            mdlab::score_fd::exact_divergence(est_, x, t, h, divs_);
        else
            mdlab::score_fd::hutchinson_divergence(est_, x, t, h, div_.probes, div_.m, divs_);
        g = mdlab::Matrix::from_shape({n, d});
        mdlab::for_each_index(n * d, [&](std::size_t k) { g.data()[k] = c * x.data()[k] - s2 * s_.data()[k]; });
        dv.resize(n);
        mdlab::for_each_index(n, [&](std::size_t i) { dv[i] = double(d) * c - s2 * divs_[i]; });
    }

    // Score evaluations per point and per call.
    std::size_t scores_per_call(std::size_t d) const { return 1 + 2 * (div_.exact ? d : div_.m); }

private:
    const mdlab::ScoreEstimator& est_;
    const mdlab::ForwardProcess& p_;
    const Divergence& div_;
    mutable mdlab::Matrix s_;
    mutable std::vector<double> divs_;
};

// The ends of the integration and its grid in u.
struct Grid {
    double t_min, T, u0, u1;
    std::size_t steps;
    double h() const { return (u1 - u0) / double(steps); }
    // t at u0 + k h (k may be a half-integer for midpoints, given as 2 k in `half_steps`).
    double time(const mdlab::ForwardProcess& p, std::size_t half_steps) const {
        if (half_steps == 0) return t_min;
        if (half_steps == 2 * steps) return T;
        return p.time_at_noise_ratio(std::exp(u0 + 0.5 * double(half_steps) * h()));
    }
};

// Integrates from t_min to T: x becomes x(T), the returned L_i = integral of div(dx/du) du, so
// that log p_{t_min}(x_i) = log p_T(x_i(T)) + L_i. `method` is "rk4" or "heun"; `step_done(k)`
// is called after each step (cancellation, progress).
inline std::vector<double> integrate(const FlowRate& rate, const mdlab::ForwardProcess& p, const Grid& grid,
                                     const std::string& method, mdlab::Matrix& x,
                                     const std::function<void(std::size_t)>& step_done) {
    const std::size_t n = mdlab::rows(x), size = x.size();
    const double h = grid.h();
    std::vector<double> L(n, 0.0), d1, d2, d3, d4;
    mdlab::Matrix k1, k2, k3, k4, y = mdlab::Matrix::from_shape(x.shape());
    auto shift = [&](const mdlab::Matrix& k, double a) {  // y = x + a k
        mdlab::for_each_index(size, [&](std::size_t q) { y.data()[q] = x.data()[q] + a * k.data()[q]; });
    };
    for (std::size_t s = 0; s < grid.steps; ++s) {
        const double t0 = grid.time(p, 2 * s), t1 = grid.time(p, 2 * s + 2);
        if (method == "heun") {
            rate(x, t0, k1, d1);
            shift(k1, h);
            rate(y, t1, k2, d2);
            mdlab::for_each_index(size, [&](std::size_t q) { x.data()[q] += 0.5 * h * (k1.data()[q] + k2.data()[q]); });
            for (std::size_t i = 0; i < n; ++i) L[i] += 0.5 * h * (d1[i] + d2[i]);
        } else {
            const double tm = grid.time(p, 2 * s + 1);
            rate(x, t0, k1, d1);
            shift(k1, 0.5 * h);
            rate(y, tm, k2, d2);
            shift(k2, 0.5 * h);
            rate(y, tm, k3, d3);
            shift(k3, h);
            rate(y, t1, k4, d4);
            mdlab::for_each_index(size, [&](std::size_t q) {
                x.data()[q] += h / 6.0 * (k1.data()[q] + 2.0 * k2.data()[q] + 2.0 * k3.data()[q] + k4.data()[q]);
            });
            for (std::size_t i = 0; i < n; ++i) L[i] += h / 6.0 * (d1[i] + 2.0 * d2[i] + 2.0 * d3[i] + d4[i]);
        }
        step_done(s);
    }
    return L;
}

// Evaluations of the rate per step.
inline std::size_t stages(const std::string& method) { return method == "heun" ? 2 : 4; }

}  // namespace nll
