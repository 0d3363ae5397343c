// Noise schedules shared by process plugins.
#pragma once
#include <cmath>
#include <string>

#include "mdlab/error.hpp"
#include "mdlab/params.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

// The linear schedule of the VP family (Song et al. 2021): beta(t) = beta_min + t (beta_max - beta_min),
// B(t) = integral_0^t beta = beta_min t + (beta_max - beta_min) t^2 / 2.
class LinearBetaSchedule {
public:
    // Adds beta_min, beta_max and t_end to a process's spec.
    static void declare(PluginSpec& spec) {
        spec.param(real("beta_min", 0.1, "beta(0), noise rate at t = 0").at_least(0.0))
            .param(real("beta_max", 20.0, "beta(1), noise rate at t = 1 (>= beta_min)").greater_than(0.0))
            .param(real("t_end", 1.0, "end time T of the forward process").greater_than(0.0));
    }
    // `plugin` names the process in the error on beta_max < beta_min.
    LinearBetaSchedule(const Params& p, const std::string& plugin)
        : b0_(p.real("beta_min")), b1_(p.real("beta_max")), t_end_(p.real("t_end")) {
        if (b1_ < b0_)
            throw InputError(plugin + ": beta_max = " + std::to_string(b1_) + " must be at least beta_min = " +
                                 std::to_string(b0_),
                             "beta_max");
    }

    double beta_min() const { return b0_; }
    double beta_max() const { return b1_; }
    double t_end() const { return t_end_; }
    double beta(double t) const { return b0_ + t * (b1_ - b0_); }
    double big_b(double t) const { return t * (b0_ + 0.5 * t * (b1_ - b0_)); }
    // The t >= 0 with big_b(t) = b: the positive root of (b1 - b0)/2 t^2 + b0 t - b = 0, written
    // 2b / (b0 + sqrt(b0^2 + 2 (b1 - b0) b)) so that it has no cancellation (and holds for b1 = b0).
    double time_at(double b) const {
        if (!(b > 0.0)) return 0.0;
        return 2.0 * b / (b0_ + std::sqrt(b0_ * b0_ + 2.0 * (b1_ - b0_) * b));
    }

private:
    double b0_, b1_, t_end_;
};

}  // namespace mdlab
