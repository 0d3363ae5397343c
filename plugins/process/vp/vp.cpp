// The variance-preserving SDE of Song et al. (2021) with a linear noise schedule:
// dx = -beta(t) x / 2 dt + sqrt(beta(t)) dW, beta(t) = beta_min + t (beta_max - beta_min).
#include <cmath>
#include <limits>
#include <string>

#include <mdlab/mdlab.hpp>
#include <mdlab/schedules.hpp>

namespace {

class VP : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("vp", "1.0.0",
                               "variance-preserving SDE, beta(t) = beta_min + t (beta_max - beta_min), "
                               "alpha = exp(-B(t)/2), sigma^2 = 1 - alpha^2");
        mdlab::LinearBetaSchedule::declare(spec);
        return spec;
    }

    explicit VP(const mdlab::Params& p) : schedule_(p, "vp") {}

    double t_end() const override { return schedule_.t_end(); }

    double beta(double t) const { return schedule_.beta(t); }
    // B(t) = integral_0^t beta = beta_min t + (beta_max - beta_min) t^2 / 2.
    double big_b(double t) const { return schedule_.big_b(t); }

    double alpha(double t) const override { return std::exp(-0.5 * big_b(t)); }
    // sigma = sqrt(1 - exp(-B)) through expm1: no cancellation at tiny t.
    double sigma(double t) const override { return std::sqrt(-std::expm1(-big_b(t))); }
    double dlog_alpha_dt(double t) const override { return -0.5 * beta(t); }
    // d sigma/dt = beta exp(-B) / (2 sigma); infinite at t = 0 when beta_min > 0 (sigma ~ sqrt(beta_min t)).
    double dsigma_dt(double t) const override {
        const double s = sigma(t);
        if (s > 0.0) return beta(t) * std::exp(-big_b(t)) / (2.0 * s);
        if (schedule_.beta_min() > 0.0) return std::numeric_limits<double>::infinity();
        return std::sqrt(0.5 * (schedule_.beta_max() - schedule_.beta_min()));  // beta_min = 0: sigma ~ t sqrt(beta_max / 2)
    }
    // (sigma/alpha)^2 = exp(B) - 1: B = log1p(r^2), then t from the schedule's quadratic.
    double time_at_noise_ratio(double r) const override { return schedule_.time_at(std::log1p(r * r)); }
    // N(0, I): the stationary law of the VP SDE and the prior of score_sde's VPSDE
    // (prior_sampling = randn); for data of unit variance it is also the exact marginal variance,
    // since alpha^2 + sigma^2 = 1. It differs from sigma(T)^2 = 1 - exp(-B(T)) by 4e-5 at the defaults.
    double prior_std() const override { return 1.0; }

private:
    mdlab::LinearBetaSchedule schedule_;
};

}  // namespace

MDLAB_PLUGINS(VP)
