// The nearest point of the ellipse (u/a)^2 + (v/b)^2 = 1, a >= b > 0, to a point (u, v) of its
// plane, by D. Eberly's method ("Distance from a Point to an Ellipse, an Ellipsoid, or a
// Hyperellipsoid", Geometric Tools, 2013): in the first quadrant the nearest point is
// (a^2 u / (t + a^2), b^2 v / (t + b^2)) for the one root t of
//   F(t) = (a u / (t + a^2))^2 + (b v / (t + b^2))^2 - 1
// on the interval where F decreases, found by bisection to the last bit (no tolerance to
// choose, no divergence); the other quadrants follow by symmetry.
#pragma once
#include <cmath>

namespace ellipse {

struct PlanePoint {
    double u, v;
};

// Root of G(s) = (r0 z0 / (s + r0))^2 + (z1 / (s + 1))^2 - 1 with r0 = (a / b)^2, z = (u / a, v / b),
// g = G(0) = |z|^2 - 1: t = b^2 s.
inline double bisect_root(double r0, double z0, double z1, double g) {
    const double n0 = r0 * z0;
    double s0 = z1 - 1.0, s1 = g < 0.0 ? 0.0 : std::hypot(n0, z1) - 1.0, s = 0.0;
    for (int i = 0; i < 1100; ++i) {  // at most about 1075 halvings before s0 and s1 are adjacent doubles
        s = 0.5 * (s0 + s1);
        if (s == s0 || s == s1) break;
        const double r_0 = n0 / (s + r0), r_1 = z1 / (s + 1.0);
        const double gs = r_0 * r_0 + r_1 * r_1 - 1.0;
        if (gs > 0.0)
            s0 = s;
        else if (gs < 0.0)
            s1 = s;
        else
            break;
    }
    return s;
}

// The nearest point for (u, v) >= 0.
inline PlanePoint nearest_first_quadrant(double a, double b, double u, double v) {
    if (v > 0.0) {
        if (u > 0.0) {
            const double z0 = u / a, z1 = v / b, g = z0 * z0 + z1 * z1 - 1.0;
            if (g == 0.0) return {u, v};
            const double r0 = (a / b) * (a / b), s = bisect_root(r0, z0, z1, g);
            return {r0 * u / (s + r0), v / (s + 1.0)};
        }
        return {0.0, b};
    }
    // On the major axis: inside the evolute's cusp the nearest point leaves the axis.
    const double num = a * u, den = a * a - b * b;
    if (num < den) {
        const double c = num / den;
        return {a * c, b * std::sqrt(1.0 - c * c)};
    }
    return {a, 0.0};
}

// The nearest point for any (u, v). Points with several nearest points (on the major axis inside
// the evolute, the centre) get the one with v >= 0.
inline PlanePoint nearest(double a, double b, double u, double v) {
    const PlanePoint p = nearest_first_quadrant(a, b, std::abs(u), std::abs(v));
    return {u < 0.0 ? -p.u : p.u, v < 0.0 ? -p.v : p.v};
}

}  // namespace ellipse
