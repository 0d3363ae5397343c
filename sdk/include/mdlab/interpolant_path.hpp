// Interpolant paths x_t = alpha(t) x0 + sigma(t) eps on [0, 1] (SCIENCE.md section 6) as forward
// processes, so that every score estimator and sampler runs on them unchanged. Shared by the
// flow_matching process (the linear path) and the interpolant process (a chosen schedule).
//
//   linear         alpha = 1 - t,          sigma = t            (rectified flow, Liu et al. 2023;
//                                                                flow matching, Lipman et al. 2023)
//   trigonometric  alpha = cos(pi t / 2),  sigma = sin(pi t / 2) (Albergo and Vanden-Eijnden 2023)
//
// Both have alpha(1) = 0: log alpha, f and g^2 blow up at t = 1, so the end time T stays below 1
// (as for the cosine process). The SDE of section 1 follows from alpha and sigma:
//   linear:        f = -x / (1 - t),               g^2 = 2 t / (1 - t)
//   trigonometric: f = -(pi/2) tan(pi t / 2) x,    g^2 = pi tan(pi t / 2)   (cosine with s = 0)
// Every quantity is written without cancellation: 1 - t is exact for t >= 1/2 and
// cos(pi t / 2) is evaluated as sin(pi (1 - t) / 2), accurate to the last bits near t = 1.
#pragma once
#include <cmath>
#include <string>

#include "mdlab/components.hpp"
#include "mdlab/error.hpp"
#include "mdlab/params.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

enum class InterpolantSchedule { linear, trigonometric };

class InterpolantPath {
public:
    explicit InterpolantPath(InterpolantSchedule s) : s_(s) {}

    double alpha(double t) const { return s_ == InterpolantSchedule::linear ? 1.0 - t : std::sin(half_pi * (1.0 - t)); }
    double sigma(double t) const { return s_ == InterpolantSchedule::linear ? t : std::sin(half_pi * t); }
    // d log alpha / dt: -1 / (1 - t), or -(pi/2) tan(pi t / 2), written -(pi/2) / tan(pi (1 - t) / 2)
    // above t = 1/2: tan's argument stays away from pi/2, where its rounding would be magnified.
    double dlog_alpha_dt(double t) const {
        if (s_ == InterpolantSchedule::linear) return -1.0 / (1.0 - t);
        return t < 0.5 ? -half_pi * std::tan(half_pi * t) : -half_pi / std::tan(half_pi * (1.0 - t));
    }
    // d sigma / dt: 1, or (pi/2) cos(pi t / 2) = (pi/2) alpha.
    double dsigma_dt(double t) const { return s_ == InterpolantSchedule::linear ? 1.0 : half_pi * alpha(t); }
    // The t with sigma/alpha = r: t / (1 - t) = r gives r / (1 + r); tan(pi t / 2) = r gives (2/pi) atan r.
    double time_at_noise_ratio(double r) const {
        return s_ == InterpolantSchedule::linear ? r / (1.0 + r) : std::atan(r) / half_pi;
    }

private:
    static constexpr double half_pi = 1.57079632679489661923;
    InterpolantSchedule s_;
};

// A forward process on an interpolant path, ending at T < 1.
class InterpolantProcess : public ForwardProcess {
public:
    // The t_end parameter of both plugins. Default: alpha(T)/sigma(T) = 0.01 on the linear path
    // (log-SNR -9.2, the end of cosine's default range, -9.6, within half a unit).
    static ParamSpec t_end_param() {
        return real("t_end", 0.99,
                    "end time T, in (0, 1) since alpha(1) = 0; the default puts the linear path's alpha/sigma at 0.01 "
                    "(log-SNR -9.2)")
            .greater_than(0.0);
    }
    // `plugin` names the process in the error on T >= 1.
    InterpolantProcess(InterpolantSchedule schedule, const Params& p, const std::string& plugin)
        : path_(schedule), t_end_(p.real("t_end")) {
        if (!(t_end_ < 1.0))
            throw InputError(plugin + ": t_end = " + std::to_string(t_end_) +
                                 " must be below 1, where alpha = 0 and log alpha is infinite",
                             "t_end");
    }

    double t_end() const override { return t_end_; }
    double alpha(double t) const override { return path_.alpha(t); }
    double sigma(double t) const override { return path_.sigma(t); }
    double dlog_alpha_dt(double t) const override { return path_.dlog_alpha_dt(t); }
    double dsigma_dt(double t) const override { return path_.dsigma_dt(t); }
    double time_at_noise_ratio(double r) const override { return path_.time_at_noise_ratio(r); }
    // sqrt(alpha(T)^2 + sigma(T)^2): the marginal of data with unit variance, as the prior N(0, I) of
    // vp and cosine is; at T = 1 it would be the interpolant's source N(0, I). SamplerSettings::prior_std_at
    // then reads a data variance of 1 below T, as for vp and cosine.
    double prior_std() const override { return std::hypot(alpha(t_end_), sigma(t_end_)); }

private:
    InterpolantPath path_;
    double t_end_;
};

}  // namespace mdlab
