// Example metric plugin: the p-th moment of the samples' Euclidean norms, E|y|^p.
// On a sphere of radius r centred at the origin it is exactly r^p.
#include <cmath>
#include <vector>

#include <mdlab/mdlab.hpp>

#include "squared_norms.hpp"

namespace {

class NormMoment : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("norm_moment", "1.0.0", "p-th moment of the samples' norms, mean of |y|^p")
            .param(mdlab::integer("p", 2, "order of the moment").at_least(1).at_most(16))
            .input("samples", mdlab::ValueKind::points, "points Y (M x D)");
    }

    explicit NormMoment(const mdlab::Params& params) : p_(static_cast<double>(params.integer("p"))) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context&) const override {
        const auto y = inputs.points("samples");
        const std::size_t m = mdlab::rows(*y), d = mdlab::cols(*y);
        if (m == 0) throw mdlab::InputError("norm_moment: no samples", "samples");
        // |y_i|^2 by the kernel of this CPU's instruction-set path (squared_norms.hpp).
        std::vector<double> norms2(m);
        norm_moment::squared_norms(y->data(), m, d, norms2.data());
        // ordered_sum adds fixed chunks in a fixed order: the same result on any thread count.
        const double total =
            mdlab::ordered_sum(m, [&](std::size_t i) { return std::pow(std::sqrt(norms2[i]), p_); });
        return {{"moment", total / double(m)}, {"n", double(m)}};
    }

private:
    double p_;
};

}  // namespace

MDLAB_PLUGINS(NormMoment)
