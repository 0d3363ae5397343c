// The time at which a forward process reaches a noise level.
#pragma once
#include <mdlab/mdlab.hpp>

namespace mdlab::test {

// The time at which sigma(t)^2 = target (sigma increasing in t), by bisection.
inline double time_for_variance(const mdlab::ForwardProcess& p, double target) {
    double lo = 0.0, hi = p.t_end();
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        (p.sigma(mid) * p.sigma(mid) < target ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

}  // namespace mdlab::test
