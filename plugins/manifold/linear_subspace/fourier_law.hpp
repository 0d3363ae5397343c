// The `fourier` law of linear_subspace: a density of set smoothness s on the cube [0, 1]^k (the
// paper's setting of arXiv 2303.01861: a density on a cube, bounded below, in a Besov ball),
// with independent coordinates of density
//   f(x) = 1 + a sum_{m=1}^{M} c_m cos(2 pi m x + phi_m),   c_m = m^{-(s+1/2)} / sum_j j^{-(s+1/2)},
// so |f - 1| <= a < 1 (bounded below by 1 - a) and the Fourier coefficients decay like
// m^{-(s+1/2)}: every dyadic block 2^j <= m < 2^{j+1} carries sum m^{2s} |f_m|^2 of the same
// size, the mark of the Besov space B^s_{2,inf} (the Sobolev norm of any order s' > s grows
// like M^{s'-s}). The phases are fixed, phi_m = 2 pi frac(m^2 g) with g the golden ratio: quadratic
// in m, so that the cosines do not all peak at one point (phases linear in m are a mere shift,
// and a common peak is a point singularity of another class). The law on [0, 1]^k is the
// product of f over the coordinates.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

#include <mdlab/rng.hpp>

namespace linear_subspace_detail {

class FourierLaw {
public:
    FourierLaw(double smoothness, std::size_t modes, double amplitude) : amplitude_(amplitude) {
        constexpr double golden = 0.6180339887498948482;
        double total = 0.0;
        for (std::size_t m = 1; m <= modes; ++m) total += std::pow(static_cast<double>(m), -(smoothness + 0.5));
        for (std::size_t m = 1; m <= modes; ++m) {
            coef_.push_back(std::pow(static_cast<double>(m), -(smoothness + 0.5)) / total);
            const double g = static_cast<double>(m * m) * golden;
            phase_.push_back(2.0 * pi * (g - std::floor(g)));
        }
    }

    // Density f(x) of one coordinate on [0, 1].
    double density(double x) const {
        double s = 0.0;
        for (std::size_t i = 0; i < coef_.size(); ++i) s += coef_[i] * std::cos(2.0 * pi * double(i + 1) * x + phase_[i]);
        return 1.0 + amplitude_ * s;
    }

    // One coordinate by rejection from U[0, 1] under the bound 1 + a (acceptance 1 / (1 + a)).
    double draw(mdlab::Rng& rng) const {
        for (;;) {
            const double x = rng.uniform();
            if ((1.0 + amplitude_) * rng.uniform() <= density(x)) return x;
        }
    }

private:
    static constexpr double pi = 3.14159265358979323846;
    double amplitude_;
    std::vector<double> coef_, phase_;
};

}  // namespace linear_subspace_detail
