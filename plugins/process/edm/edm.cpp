// The EDM process of Karras et al. (2022): alpha = 1, sigma(t) = t, so dx = sqrt(2t) dW and the
// time is the noise level itself. Runs from sigma = t_min up to T = sigma_max.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class EDM : public mdlab::ForwardProcess {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("edm", "1.0.0", "EDM (Karras et al. 2022) process, alpha = 1, sigma(t) = t, g^2 = 2t")
            .param(mdlab::real("sigma_max", 80.0, "largest noise level; also the end time T, since sigma(t) = t")
                       .greater_than(0.0));
    }

    explicit EDM(const mdlab::Params& p) : t_end_(p.real("sigma_max")) {}

    double t_end() const override { return t_end_; }
    double alpha(double) const override { return 1.0; }
    double sigma(double t) const override { return t; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 1.0; }
    // sigma/alpha = t.
    double time_at_noise_ratio(double r) const override { return r; }
    // prior_std stays sigma(T) = sigma_max: EDM's prior N(0, sigma_max^2 I).

private:
    double t_end_;
};

}  // namespace

MDLAB_PLUGINS(EDM)
