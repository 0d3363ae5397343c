#include "mdlab/runtime/student_t.hpp"

#include <cmath>
#include <stdexcept>

#include <boost/math/distributions/students_t.hpp>

namespace mdlab::runtime {

double student_t_cdf(double t, double dof) {
    if (!(dof > 0.0)) throw std::invalid_argument("student_t_cdf: degrees of freedom must be positive");
    if (std::isnan(t)) return t;  // Boost's default policy would throw on NaN
    return boost::math::cdf(boost::math::students_t(dof), t);
}

double student_t_quantile(double p, double dof) {
    if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument("student_t_quantile: p must be in (0, 1)");
    if (!(dof > 0.0)) throw std::invalid_argument("student_t_quantile: degrees of freedom must be positive");
    return boost::math::quantile(boost::math::students_t(dof), p);
}

double t95(double dof) { return student_t_quantile(0.975, dof); }

}  // namespace mdlab::runtime
