// The Ornstein-Uhlenbeck process with rate theta (SCIENCE.md section 1):
// dx = -theta x dt + sqrt(2 theta) dW, so alpha = exp(-theta t), sigma^2 = 1 - exp(-2 theta t),
// and the stationary law is N(0, I).
#include <cmath>
#include <limits>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class OU : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("ou", "1.0.0",
                                 "Ornstein-Uhlenbeck process dx = -theta x dt + sqrt(2 theta) dW, "
                                 "alpha = exp(-theta t), sigma^2 = 1 - exp(-2 theta t)")
            .param(mdlab::real("theta", 1.0, "mean-reversion rate theta").greater_than(0.0))
            .param(mdlab::real("t_end", 5.0,
                               "end time T; the default gives alpha(T) = exp(-5 theta), close to vp's exp(-5.025)")
                       .greater_than(0.0));
    }

    explicit OU(const mdlab::Params& p) : theta_(p.real("theta")), t_end_(p.real("t_end")) {}

    double t_end() const override { return t_end_; }
    double alpha(double t) const override { return std::exp(-theta_ * t); }
    // sqrt(1 - exp(-2 theta t)) through expm1: no cancellation at tiny t.
    double sigma(double t) const override { return std::sqrt(-std::expm1(-2.0 * theta_ * t)); }
    double dlog_alpha_dt(double) const override { return -theta_; }
    // d sigma/dt = theta exp(-2 theta t) / sigma; sigma ~ sqrt(2 theta t), so it is infinite at t = 0.
    double dsigma_dt(double t) const override {
        const double s = sigma(t);
        if (s > 0.0) return theta_ * std::exp(-2.0 * theta_ * t) / s;
        return std::numeric_limits<double>::infinity();
    }
    // (sigma/alpha)^2 = exp(2 theta t) - 1: t = log1p(r^2) / (2 theta).
    double time_at_noise_ratio(double r) const override { return std::log1p(r * r) / (2.0 * theta_); }
    // N(0, I): the stationary law. For unit-variance data it is the exact marginal at every t.
    double prior_std() const override { return 1.0; }

private:
    double theta_, t_end_;
};

}  // namespace

MDLAB_PLUGINS(OU)
