// Time grids shared by all samplers: steps+1 decreasing times from the process's end time T
// down to t_min.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "mdlab/components.hpp"
#include "mdlab/invert_increasing.hpp"

namespace mdlab {

// uniform: equal steps in t. log_snr: equal steps in log(alpha^2 / sigma^2).
// karras: sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
// on the noise-to-signal ratio sigma/alpha (which is sigma itself for VE and EDM), each
// mapped back to t.
inline std::vector<double> time_grid(const ForwardProcess& p, const std::string& kind,
                                     std::size_t steps, double t_min, double rho = 7.0) {
    const double T = p.t_end();
    std::vector<double> t(steps + 1);
    if (steps == 0) return {T};
    auto nsr = [&](double s) { return p.sigma(s) / p.alpha(s); };  // increasing in t
    if (kind == "uniform") {
        for (std::size_t i = 0; i <= steps; ++i) t[i] = T + (t_min - T) * double(i) / double(steps);
    } else if (kind == "log_snr") {
        const double l0 = std::log(nsr(T)), l1 = std::log(nsr(t_min));
        for (std::size_t i = 0; i <= steps; ++i) {
            const double target = l0 + (l1 - l0) * double(i) / double(steps);
            t[i] = invert_increasing([&](double s) { return std::log(nsr(s)); }, target, t_min, T);
        }
    } else if (kind == "karras") {
        const double smax = std::pow(nsr(T), 1.0 / rho), smin = std::pow(nsr(t_min), 1.0 / rho);
        for (std::size_t i = 0; i <= steps; ++i) {
            const double target = std::pow(smax + double(i) / double(steps) * (smin - smax), rho);
            t[i] = invert_increasing(nsr, target, t_min, T);
        }
    } else {
        throw InputError("unknown time grid '" + kind + "' (valid: karras, log_snr, uniform)", "grid");
    }
    t.front() = T;  // exact ends, whatever the inversion's rounding
    t.back() = t_min;
    return t;
}

}  // namespace mdlab
