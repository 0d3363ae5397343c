// Root finding for increasing functions of time, shared by the time grids and the forward
// processes' default inverse of the noise-to-signal ratio.
#pragma once

namespace mdlab {

// Solves h(t) = target for t in [lo, hi] by bisection, h increasing in t, down to adjacent
// doubles (full relative precision also at small t).
template <class H>
double invert_increasing(H&& h, double target, double lo, double hi) {
    for (int it = 0; it < 2200; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        (h(mid) < target ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

}  // namespace mdlab
