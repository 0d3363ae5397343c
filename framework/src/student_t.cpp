#include "mdlab/runtime/student_t.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace mdlab::runtime {

namespace {

// Continued fraction of the incomplete beta function (modified Lentz), valid for
// x < (a + 1) / (a + b + 2); the caller uses the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
double beta_continued_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 1000; ++m) {
        const double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        for (int half = 0; half < 2; ++half) {
            d = 1.0 + num * d;
            if (std::fabs(d) < tiny) d = tiny;
            c = 1.0 + num / c;
            if (std::fabs(c) < tiny) c = tiny;
            d = 1.0 / d;
            f *= c * d;
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        }
        if (std::fabs(c * d - 1.0) < 1e-16) break;
    }
    return f;
}

// Regularized incomplete beta I_x(a, b).
double incomplete_beta(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double log_front =
        std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
    return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

}  // namespace

double student_t_cdf(double t, double dof) {
    if (!(dof > 0.0)) throw std::invalid_argument("student_t_cdf: degrees of freedom must be positive");
    if (std::isnan(t)) return t;
    if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
    // P(|T| > |t|) = I_{dof/(dof+t^2)}(dof/2, 1/2); written with t^2/(dof+t^2) near 0 to keep precision.
    const double t2 = t * t;
    const double tail = dof > t2 ? 1.0 - incomplete_beta(0.5, dof / 2.0, t2 / (dof + t2))
                                 : incomplete_beta(dof / 2.0, 0.5, dof / (dof + t2));
    return t > 0 ? 1.0 - tail / 2.0 : tail / 2.0;
}

double student_t_quantile(double p, double dof) {
    if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument("student_t_quantile: p must be in (0, 1)");
    if (p < 0.5) return -student_t_quantile(1.0 - p, dof);
    if (p == 0.5) return 0.0;
    // Bracket, then bisect: the CDF is monotone, so this cannot fail, and 200 halvings reach
    // the resolution of a double.
    double lo = 0.0, hi = 1.0;
    while (student_t_cdf(hi, dof) < p) {
        lo = hi;
        hi *= 2.0;
        if (hi > 1e300) return std::numeric_limits<double>::infinity();
    }
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
        const double mid = 0.5 * (lo + hi);
        (student_t_cdf(mid, dof) < p ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

double t95(double dof) { return student_t_quantile(0.975, dof); }

}  // namespace mdlab::runtime
