// Densities on a manifold's intrinsic coordinates, shared by the built-in manifolds.
//
// A coordinate u in [0, 1) (an angle theta = 2 pi u, or a position along an interval) gets one of
//   uniform     p(u) = 1
//   von_mises   p(u) = exp(kappa cos(2 pi (u - u0))) / I0(kappa)          smooth and unimodal
//   irregular   p(u) = (1/4 + |sin(2 pi u)|) / (1/4 + 2/pi)               continuous, with kinks
//                                                                        at u = 0 and 1/2
// The irregular one is non-differentiable on purpose: the theory is most interesting when the
// density is rough and the support smooth. Sampling is exact rejection from the uniform law.
#pragma once
#include <cmath>
#include <string>

#include "mdlab/error.hpp"
#include "mdlab/params.hpp"
#include "mdlab/rng.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

class CoordinateDensity {
public:
    enum class Shape { uniform, von_mises, irregular };

    // Adds `density`, `kappa` and `mode` to a manifold's spec.
    static void declare(PluginSpec& spec, const std::string& coordinate) {
        spec.param(choice("density", "uniform", {"uniform", "von_mises", "irregular"},
                          "density of the " + coordinate +
                              ": uniform, von_mises (smooth, unimodal) or irregular (1/4 + |sin|, with kinks)"))
            .param(real("kappa", 2.0, "concentration of the von_mises density").at_least(0.0).at_most(50.0))
            .param(real("mode", 0.5, "position of the von_mises mode, as a fraction of the " + coordinate + "'s range")
                       .at_least(0.0)
                       .less_than(1.0));
    }

    CoordinateDensity() = default;
    explicit CoordinateDensity(const Params& p)
        : shape_(parse(p.string("density"))), kappa_(p.real("kappa")), mode_(p.real("mode")) {}
    CoordinateDensity(Shape shape, double kappa, double mode) : shape_(shape), kappa_(kappa), mode_(mode) {}

    Shape shape() const { return shape_; }

    // Normalised density at u in [0, 1).
    double pdf(double u) const {
        switch (shape_) {
        case Shape::uniform: return 1.0;
        case Shape::von_mises: return std::exp(kappa_ * (std::cos(two_pi * (u - mode_)) - 1.0)) / scaled_i0();
        case Shape::irregular: return (0.25 + std::abs(std::sin(two_pi * u))) / (0.25 + 2.0 / pi);
        }
        return 0.0;
    }
    // Largest value of pdf, the rejection envelope.
    double max_pdf() const {
        switch (shape_) {
        case Shape::uniform: return 1.0;
        case Shape::von_mises: return 1.0 / scaled_i0();
        case Shape::irregular: return 1.25 / (0.25 + 2.0 / pi);
        }
        return 1.0;
    }
    // One draw of u in [0, 1).
    double sample(Rng& rng) const {
        if (shape_ == Shape::uniform) return rng.uniform();
        const double m = max_pdf();
        for (;;) {
            const double u = rng.uniform();
            if (rng.uniform() * m < pdf(u)) return u;
        }
    }

    static constexpr double pi = 3.141592653589793238462643383279502884;
    static constexpr double two_pi = 2.0 * pi;

private:
    static Shape parse(const std::string& s) {
        if (s == "uniform") return Shape::uniform;
        if (s == "von_mises") return Shape::von_mises;
        if (s == "irregular") return Shape::irregular;
        throw InputError("unknown density '" + s + "'", "density");
    }
    // exp(-kappa) I0(kappa), computed without overflow.
    double scaled_i0() const { return std::exp(-kappa_) * std::cyl_bessel_i(0.0, kappa_); }

    Shape shape_ = Shape::uniform;
    double kappa_ = 0.0, mode_ = 0.5;
};

}  // namespace mdlab
