// The sub-VP SDE of Song et al. (2021, eq. 34), with the linear schedule of `vp`:
// dx = -beta(t) x / 2 dt + sqrt(beta(t) (1 - exp(-2 B(t)))) dW, B = integral_0^t beta.
// Same mean as VP, alpha = exp(-B/2), and a smaller variance sigma^2 = (1 - alpha^2)^2.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>
#include <mdlab/schedules.hpp>

namespace {

class SubVP : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("subvp", "1.0.0",
                               "sub-VP SDE, beta(t) = beta_min + t (beta_max - beta_min), alpha = exp(-B(t)/2), "
                               "sigma = 1 - alpha^2, g^2 = beta (1 - exp(-2B))");
        mdlab::LinearBetaSchedule::declare(spec);
        return spec;
    }

    explicit SubVP(const mdlab::Params& p) : schedule_(p, "subvp") {}

    double t_end() const override { return schedule_.t_end(); }

    double beta(double t) const { return schedule_.beta(t); }
    double big_b(double t) const { return schedule_.big_b(t); }

    double alpha(double t) const override { return std::exp(-0.5 * big_b(t)); }
    // sigma = 1 - exp(-B) = -expm1(-B): accurate at tiny t, where sigma ~ beta_min t.
    double sigma(double t) const override { return -std::expm1(-big_b(t)); }
    double dlog_alpha_dt(double t) const override { return -0.5 * beta(t); }
    // d sigma/dt = beta exp(-B): finite everywhere (beta_min at t = 0).
    double dsigma_dt(double t) const override { return beta(t) * std::exp(-big_b(t)); }
    // sigma/alpha = (1 - exp(-B)) exp(B/2) = 2 sinh(B/2): B = 2 asinh(r/2), then t from the
    // schedule's quadratic.
    double time_at_noise_ratio(double r) const override { return schedule_.time_at(2.0 * std::asinh(0.5 * r)); }
    // N(0, I), as score_sde's subVPSDE.prior_sampling (randn). sigma(T) = 1 - exp(-B(T)) differs
    // from 1 by 4e-5 at the defaults, and the marginal variance of unit-variance data,
    // alpha^2 + sigma^2 = 1 - e^{-B} + e^{-2B}, by the same amount.
    double prior_std() const override { return 1.0; }

private:
    mdlab::LinearBetaSchedule schedule_;
};

}  // namespace

MDLAB_PLUGINS(SubVP)
