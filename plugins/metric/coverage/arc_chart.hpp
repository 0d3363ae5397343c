// The arc-length chart of a closed curve M (k = 1: circle, curve), read through the Manifold
// interface: the quadrature's nodes run once around M in increasing intrinsic coordinate theta
// (both plugins place them at theta_i = 2 pi i / R), so the cumulative chord length between
// consecutive nodes gives the arc length s(theta_i) (the chord error is O(L / R^2) per step) and
// the cumulative quadrature weight gives mu_data's distribution function along M.
//   position(x): s of the projection of x onto M, by linear interpolation in theta;
//   mass(a, b): mu_data of the arc [a, b] (b - a <= L; wrapping around), from F(s), the
//               piecewise-linear function with F(s_i) = w_0 + ... + w_{i-1} + w_i / 2.
// A geodesic ball of M of radius r centred at s = c is the arc [c - r, c + r] (r <= L / 2).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>

namespace mdlab_coverage {

class ArcChart {
public:
    ArcChart(const mdlab::Manifold& m, std::size_t resolution) : m_(m) {
        if (m.intrinsic_dim() != 1)
            throw mdlab::InputError("coverage: the manifold has intrinsic dimension " +
                                        std::to_string(m.intrinsic_dim()) +
                                        "; geodesic balls are implemented for closed curves (k = 1: circle, curve)",
                                    "manifold");
        const mdlab::Quadrature q = m.quadrature(resolution);
        const mdlab::Matrix theta = m.intrinsic_coords(q.nodes);
        const std::size_t r = mdlab::rows(q.nodes), d = mdlab::cols(q.nodes);
        theta_.resize(r);
        s_.resize(r + 1);
        f_.resize(r + 1);
        double s = 0.0, f = 0.0;
        for (std::size_t i = 0; i < r; ++i) {
            theta_[i] = theta(i, 0);
            // Unwrap across the seam (node 0 may come back as 2 pi - epsilon, node 1 as a small angle).
            while (i > 0 && theta_[i] < theta_[i - 1] - 0.5 * two_pi) theta_[i] += two_pi;
            if (i > 0 && !(theta_[i] > theta_[i - 1]))
                throw mdlab::InputError("coverage: the manifold's quadrature nodes do not run around it in increasing "
                                            "intrinsic coordinate (node " + std::to_string(i) +
                                            "): not a closed curve parametrised by an angle",
                                        "manifold");
            s_[i] = s;
            f_[i] = f + 0.5 * q.weights(i);
            f += q.weights(i);
            const std::size_t next = (i + 1) % r;
            double c = 0.0;
            for (std::size_t a = 0; a < d; ++a) c += (q.nodes(next, a) - q.nodes(i, a)) * (q.nodes(next, a) - q.nodes(i, a));
            s += std::sqrt(c);
        }
        length_ = s;
        period_ = theta_.front() + two_pi;  // theta of node 0 once around
        s_[r] = length_;
        f_[r] = 1.0 + f_[0];
        if (!(theta_.back() < period_))
            throw mdlab::InputError("coverage: the manifold's intrinsic coordinate does not span one period 2 pi", "manifold");
    }

    double length() const { return length_; }

    // Arc length of the projections of the rows of x, in [0, L).
    std::vector<double> positions(const mdlab::Matrix& x) const {
        const mdlab::Matrix t = m_.intrinsic_coords(m_.project(x));
        std::vector<double> p(mdlab::rows(x));
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = at(t(i, 0));
        return p;
    }

    // mu_data of the arc [a, b], a <= b <= a + L, positions taken modulo L.
    double mass(double a, double b) const { return cdf(b) - cdf(a); }

private:
    static constexpr double two_pi = 6.283185307179586476925286766559;

    // s(theta), theta reduced into [theta_0, theta_0 + 2 pi).
    double at(double theta) const {
        theta = theta_.front() + std::fmod(std::fmod(theta - theta_.front(), two_pi) + two_pi, two_pi);
        const std::size_t i = static_cast<std::size_t>(std::upper_bound(theta_.begin(), theta_.end(), theta) - theta_.begin()) - 1;
        const double t1 = i + 1 < theta_.size() ? theta_[i + 1] : period_;
        const double u = (theta - theta_[i]) / (t1 - theta_[i]);
        return std::min(s_[i] + u * (s_[i + 1] - s_[i]), std::nextafter(length_, 0.0));
    }

    // F extended to the real line: F(s + L) = F(s) + 1.
    double cdf(double s) const {
        const double turns = std::floor(s / length_);
        s -= turns * length_;
        // f_ runs from F(s_0) = w_0 / 2 to F(s_R) = 1 + w_0 / 2: F(0) = F(L) - 1 is f_[0].
        const std::size_t i = std::min<std::size_t>(
            static_cast<std::size_t>(std::upper_bound(s_.begin(), s_.end(), s) - s_.begin()) - 1, s_.size() - 2);
        const double u = (s - s_[i]) / (s_[i + 1] - s_[i]);
        return turns + f_[i] + u * (f_[i + 1] - f_[i]);
    }

    const mdlab::Manifold& m_;
    std::vector<double> theta_, s_, f_;
    double length_ = 0.0, period_ = 0.0;
};

}  // namespace mdlab_coverage
