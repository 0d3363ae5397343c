// The cosine schedule of Nichol and Dhariwal (2021) in continuous time (SCIENCE.md section 1):
//   alpha(t) = cos((t + s)/(1 + s) pi/2) / cos(s/(1 + s) pi/2),  sigma^2 = 1 - alpha^2,
// a variance-preserving process with beta(t) = -2 d log alpha/dt = pi/(1 + s) tan((t + s)/(1 + s) pi/2).
//
// With k = pi / (2 (1 + s)) every quantity is evaluated in a form without cancellation:
//   alpha = sin(k (1 - t)) / cos(k s)                 (cos near pi/2 written as a sine of a small angle)
//   sigma^2 = sin(k (2s + t)) sin(k t) / cos^2(k s)   (cos^2 a - cos^2 b = sin(b + a) sin(b - a))
//   d log alpha/dt = -k / tan(k (1 - t)).
// alpha(1) = 0, so log alpha and beta blow up at t = 1: the end time must stay below 1.
#include <cmath>
#include <limits>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

constexpr double pi = 3.14159265358979323846;

class Cosine : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("cosine", "1.0.0",
                                 "cosine schedule (Nichol and Dhariwal 2021), alpha = cos((t+s)/(1+s) pi/2) / "
                                 "cos(s/(1+s) pi/2), sigma^2 = 1 - alpha^2")
            .param(mdlab::real("s", 0.008, "offset s that keeps beta finite at t = 0").at_least(0.0))
            .param(mdlab::real("t_end", 0.9946,
                               "end time T, in (0, 1) since alpha(1) = 0; the default is DPM-Solver's choice "
                               "(alpha(T) = 0.0084, log-SNR -9.6)")
                       .greater_than(0.0));
    }

    explicit Cosine(const mdlab::Params& p)
        : s_(p.real("s")), t_end_(p.real("t_end")), k_(pi / (2.0 * (1.0 + s_))), c0_(std::cos(k_ * s_)) {
        if (!(t_end_ < 1.0))
            throw mdlab::InputError("cosine: t_end = " + std::to_string(t_end_) +
                                        " must be below 1, where alpha = 0 and log alpha is infinite",
                                    "t_end");
    }

    double t_end() const override { return t_end_; }
    double alpha(double t) const override { return std::sin(k_ * (1.0 - t)) / c0_; }
    double sigma(double t) const override {
        return std::sqrt(std::sin(k_ * (2.0 * s_ + t)) * std::sin(k_ * t)) / c0_;
    }
    double dlog_alpha_dt(double t) const override { return -k_ / std::tan(k_ * (1.0 - t)); }
    // d sigma/dt = -alpha^2 (d log alpha/dt) / sigma. At t = 0: infinite when s > 0
    // (sigma ~ sqrt(2 k tan(k s) t)), and k when s = 0 (sigma ~ k t).
    double dsigma_dt(double t) const override {
        const double sg = sigma(t);
        if (sg > 0.0) {
            const double a = alpha(t);
            return -a * a * dlog_alpha_dt(t) / sg;
        }
        return s_ > 0.0 ? std::numeric_limits<double>::infinity() : k_;
    }
    // With u = k (t + s): (sigma/alpha)^2 = cos^2(k s) / cos^2 u - 1, so tan u = sqrt(r^2 + sin^2(k s)) / cos(k s)
    // = a, and k t = atan a - atan b with b = tan(k s), taken as atan((a - b) / (1 + a b)) with
    // a - b = r^2 / (cos(k s) (sqrt(r^2 + sin^2(k s)) + sin(k s))): no cancellation at small t.
    double time_at_noise_ratio(double r) const override {
        const double sn = std::sin(k_ * s_), root = std::sqrt(r * r + sn * sn);
        const double a = root / c0_, b = sn / c0_, a_minus_b = r * r / (c0_ * (root + sn));
        return std::atan(a_minus_b / (1.0 + a * b)) / k_;
    }
    // N(0, I), as for vp: the variance-preserving prior; sigma(T)^2 = 1 - 7e-5 at the defaults.
    double prior_std() const override { return 1.0; }

private:
    double s_, t_end_, k_, c0_;
};

}  // namespace

MDLAB_PLUGINS(Cosine)
