// Interpolant paths x_t = alpha(t) x0 + sigma(t) eps on [0, 1] (SCIENCE.md section 6) as forward
// processes, so that every score estimator and sampler runs on them unchanged. Shared by the
// flow_matching process (the linear path) and the interpolant process (a chosen schedule).
//
//   linear         alpha = 1 - t,          sigma = t            (rectified flow, Liu et al. 2023;
//                                                                flow matching, Lipman et al. 2023)
//   trigonometric  alpha = cos(pi t / 2),  sigma = sin(pi t / 2) (Albergo and Vanden-Eijnden 2023)
//   given          alpha and sigma as lists on knot times, natural cubic splines between them
//                  (C^2 in t, so the samplers keep their orders); d log alpha/dt = alpha'/alpha
//
// The first two have alpha(1) = 0: log alpha, f and g^2 blow up at t = 1, so the end time T stays below 1
// (as for the cosine process). The SDE of section 1 follows from alpha and sigma:
//   linear:        f = -x / (1 - t),               g^2 = 2 t / (1 - t)
//   trigonometric: f = -(pi/2) tan(pi t / 2) x,    g^2 = pi tan(pi t / 2)   (cosine with s = 0)
// A given path ends at its last knot; its checks hold at the knots (alpha > 0, sigma/alpha
// increasing), the spline between them is the user's to choose dense enough.
// Every quantity is written without cancellation: 1 - t is exact for t >= 1/2 and
// cos(pi t / 2) is evaluated as sin(pi (1 - t) / 2), accurate to the last bits near t = 1.
#pragma once
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "mdlab/components.hpp"
#include "mdlab/cubic_spline.hpp"
#include "mdlab/error.hpp"
#include "mdlab/params.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

enum class InterpolantSchedule { linear, trigonometric, given };

class InterpolantPath {
public:
    explicit InterpolantPath(InterpolantSchedule s) : s_(s) {}
    // The given schedule: alpha and sigma interpolated by natural cubic splines through the knots.
    InterpolantPath(CubicSpline alpha, CubicSpline sigma)
        : s_(InterpolantSchedule::given), alpha_(std::move(alpha)), sigma_(std::move(sigma)) {}

    InterpolantSchedule schedule() const { return s_; }
    double alpha(double t) const {
        switch (s_) {
        case InterpolantSchedule::linear: return 1.0 - t;
        case InterpolantSchedule::trigonometric: return std::sin(half_pi * (1.0 - t));
        default: return alpha_.value(t);
        }
    }
    double sigma(double t) const {
        switch (s_) {
        case InterpolantSchedule::linear: return t;
        case InterpolantSchedule::trigonometric: return std::sin(half_pi * t);
        default: return sigma_.value(t);
        }
    }
    // d log alpha / dt: -1 / (1 - t), or -(pi/2) tan(pi t / 2), written -(pi/2) / tan(pi (1 - t) / 2)
    // above t = 1/2: tan's argument stays away from pi/2, where its rounding would be magnified.
    double dlog_alpha_dt(double t) const {
        switch (s_) {
        case InterpolantSchedule::linear: return -1.0 / (1.0 - t);
        case InterpolantSchedule::trigonometric:
            return t < 0.5 ? -half_pi * std::tan(half_pi * t) : -half_pi / std::tan(half_pi * (1.0 - t));
        default: return alpha_.derivative(t) / alpha_.value(t);
        }
    }
    // d sigma / dt: 1, or (pi/2) cos(pi t / 2) = (pi/2) alpha.
    double dsigma_dt(double t) const {
        switch (s_) {
        case InterpolantSchedule::linear: return 1.0;
        case InterpolantSchedule::trigonometric: return half_pi * alpha(t);
        default: return sigma_.derivative(t);
        }
    }
    // The t with sigma/alpha = r: t / (1 - t) = r gives r / (1 + r); tan(pi t / 2) = r gives
    // (2/pi) atan r. Not for the given schedule (the process bisects).
    double time_at_noise_ratio(double r) const {
        return s_ == InterpolantSchedule::linear ? r / (1.0 + r) : std::atan(r) / half_pi;
    }

private:
    static constexpr double half_pi = 1.57079632679489661923;
    InterpolantSchedule s_;
    CubicSpline alpha_, sigma_;
};

// The given schedule's parameters (interpolant, schedule = given).
inline void declare_given_path(PluginSpec& spec) {
    spec.param(real_list("given_times", {}, "schedule given: knot times, strictly increasing from 0, the last >= t_end"))
        .param(real_list("given_alpha", {}, "schedule given: alpha at the knots, from 1, positive"))
        .param(real_list("given_sigma", {},
                         "schedule given: sigma at the knots, from 0, with sigma/alpha strictly increasing"));
}

// The given schedule's splines from its lists, checked: errors name the list and the entry.
inline InterpolantPath given_path(const Params& p, double t_end, const std::string& plugin) {
    const std::vector<double>&t = p.real_list("given_times"), &a = p.real_list("given_alpha"),
                               &s = p.real_list("given_sigma");
    auto fail = [&](const std::string& what, const std::string& key) { throw InputError(plugin + ": " + what, key); };
    auto entry = [](const std::string& key, std::size_t i, double v) {
        return key + "[" + std::to_string(i) + "] = " + std::to_string(v);
    };
    if (t.size() < 3) fail("schedule 'given' needs at least 3 knots in given_times", "given_times");
    if (a.size() != t.size()) fail("given_alpha has " + std::to_string(a.size()) + " entries, given_times " + std::to_string(t.size()), "given_alpha");
    if (s.size() != t.size()) fail("given_sigma has " + std::to_string(s.size()) + " entries, given_times " + std::to_string(t.size()), "given_sigma");
    if (t[0] != 0.0) fail(entry("given_times", 0, t[0]) + " must be 0", "given_times");
    if (a[0] != 1.0) fail(entry("given_alpha", 0, a[0]) + " must be 1 (x_0 is the data)", "given_alpha");
    if (s[0] != 0.0) fail(entry("given_sigma", 0, s[0]) + " must be 0 (x_0 is the data)", "given_sigma");
    for (std::size_t i = 1; i < t.size(); ++i) {
        if (!(t[i] > t[i - 1])) fail(entry("given_times", i, t[i]) + " is not above " + entry("given_times", i - 1, t[i - 1]), "given_times");
        if (!(a[i] > 0.0)) fail(entry("given_alpha", i, a[i]) + " must be positive", "given_alpha");
        if (!(s[i] / a[i] > s[i - 1] / a[i - 1]))
            fail("sigma/alpha must increase: at knot " + std::to_string(i) + " it is " + std::to_string(s[i] / a[i]) +
                     ", at knot " + std::to_string(i - 1) + " " + std::to_string(s[i - 1] / a[i - 1]),
                 "given_sigma");
    }
    if (t.back() < t_end)
        fail("the knots end at " + std::to_string(t.back()) + ", before t_end = " + std::to_string(t_end), "given_times");
    return InterpolantPath(CubicSpline(t, a), CubicSpline(t, s));
}

// A forward process on an interpolant path, ending at T < 1.
class InterpolantProcess : public ForwardProcess {
public:
    // The t_end parameter of both plugins. Default: alpha(T)/sigma(T) = 0.01 on the linear path
    // (log-SNR -9.2, the end of cosine's default range, -9.6, within half a unit).
    // `given_note` adds what the given schedule changes (interpolant only).
    static ParamSpec t_end_param(const std::string& given_note = "") {
        return real("t_end", 0.99,
                    "end time T, in (0, 1) since alpha(1) = 0" + given_note +
                        "; the default puts the linear path's alpha/sigma at 0.01 (log-SNR -9.2)")
            .greater_than(0.0);
    }
    // `plugin` names the process in the errors; the given schedule reads its lists from p.
    InterpolantProcess(InterpolantSchedule schedule, const Params& p, const std::string& plugin)
        : t_end_(checked_t_end(schedule, p, plugin)),
          path_(schedule == InterpolantSchedule::given ? given_path(p, t_end_, plugin) : InterpolantPath(schedule)) {}

    double t_end() const override { return t_end_; }
    double alpha(double t) const override { return path_.alpha(t); }
    double sigma(double t) const override { return path_.sigma(t); }
    double dlog_alpha_dt(double t) const override { return path_.dlog_alpha_dt(t); }
    double dsigma_dt(double t) const override { return path_.dsigma_dt(t); }
    double time_at_noise_ratio(double r) const override {
        if (path_.schedule() == InterpolantSchedule::given) return ForwardProcess::time_at_noise_ratio(r);
        return path_.time_at_noise_ratio(r);
    }
    // sqrt(alpha(T)^2 + sigma(T)^2): the marginal of data with unit variance, as the prior N(0, I) of
    // vp and cosine is; at T = 1 it would be the interpolant's source N(0, I). SamplerSettings::prior_std_at
    // then reads a data variance of 1 below T, as for vp and cosine.
    double prior_std() const override { return std::hypot(alpha(t_end_), sigma(t_end_)); }

private:
    // alpha(1) = 0 on the linear and trigonometric paths; a given path ends at its last knot.
    static double checked_t_end(InterpolantSchedule schedule, const Params& p, const std::string& plugin) {
        const double T = p.real("t_end");
        if (schedule != InterpolantSchedule::given && !(T < 1.0))
            throw InputError(plugin + ": t_end = " + std::to_string(T) +
                                 " must be below 1, where alpha = 0 and log alpha is infinite",
                             "t_end");
        return T;
    }

    double t_end_;
    InterpolantPath path_;
};

}  // namespace mdlab
