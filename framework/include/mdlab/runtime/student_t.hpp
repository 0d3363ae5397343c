// Student's t distribution: the CDF and quantiles used for confidence intervals, by
// Boost.Math's students_t.
#pragma once

namespace mdlab::runtime {

// P(T <= t) for T with `dof` degrees of freedom (dof > 0, not necessarily an integer).
double student_t_cdf(double t, double dof);
// The t with P(T <= t) = p, for 0 < p < 1 (Boost.Math: accurate to a few ulp).
double student_t_quantile(double p, double dof);
// Half-width multiplier of a two-sided 95% interval: t_{0.975, dof}.
double t95(double dof);

}  // namespace mdlab::runtime
