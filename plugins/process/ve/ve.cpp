// The variance-exploding SDE of Song et al. (2021): alpha = 1,
// sigma(t) = sigma_min (sigma_max / sigma_min)^t, dx = sqrt(d(sigma^2)/dt) dW.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class VE : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("ve", "1.0.0",
                                 "variance-exploding SDE, alpha = 1, sigma(t) = sigma_min (sigma_max/sigma_min)^t, "
                                 "g^2 = d(sigma^2)/dt")
            .param(mdlab::real("sigma_min", 0.01, "sigma(0), smallest noise level").greater_than(0.0))
            .param(mdlab::real("sigma_max", 50.0, "sigma(1), largest noise level (> sigma_min)").greater_than(0.0))
            .param(mdlab::real("t_end", 1.0, "end time T of the forward process").greater_than(0.0));
    }

    explicit VE(const mdlab::Params& p)
        : smin_(p.real("sigma_min")), smax_(p.real("sigma_max")), t_end_(p.real("t_end")),
          log_ratio_(std::log(smax_ / smin_)) {
        if (!(smax_ > smin_))
            throw mdlab::InputError("ve: sigma_max = " + std::to_string(smax_) + " must be greater than sigma_min = " +
                                        std::to_string(smin_),
                                    "sigma_max");
    }

    double t_end() const override { return t_end_; }
    double alpha(double) const override { return 1.0; }
    double sigma(double t) const override { return smin_ * std::exp(t * log_ratio_); }
    double dlog_alpha_dt(double) const override { return 0.0; }
    // d sigma/dt = sigma log(sigma_max / sigma_min); g^2 = 2 sigma^2 log(sigma_max / sigma_min).
    double dsigma_dt(double t) const override { return sigma(t) * log_ratio_; }
    // sigma/alpha = sigma: t = log(r / sigma_min) / log(sigma_max / sigma_min).
    double time_at_noise_ratio(double r) const override { return std::log(r / smin_) / log_ratio_; }
    // prior_std stays sigma(T) (= sigma_max at T = 1, score_sde's VESDE prior).

private:
    double smin_, smax_, t_end_, log_ratio_;
};

}  // namespace

MDLAB_PLUGINS(VE)
