// A stochastic-interpolant path (Albergo and Vanden-Eijnden 2023; Albergo, Boffi and
// Vanden-Eijnden 2023) x_t = alpha(t) x0 + sigma(t) eps with a chosen schedule (SCIENCE.md
// section 6): linear (alpha = 1 - t, sigma = t, the flow_matching path) or trigonometric
// (alpha = cos(pi t / 2), sigma = sin(pi t / 2), variance preserving: the cosine process with
// s = 0) or given (alpha and sigma as lists on knot times, natural cubic splines). The noise level gamma of the interpolant's SDE belongs to the sampler
// (velocity_euler, velocity_heun). Formulas and their cancellation-free forms are in
// mdlab/interpolant_path.hpp.
#include <mdlab/interpolant_path.hpp>
#include <mdlab/mdlab.hpp>

namespace {

mdlab::InterpolantSchedule schedule_of(const std::string& name) {
    if (name == "trigonometric") return mdlab::InterpolantSchedule::trigonometric;
    return name == "given" ? mdlab::InterpolantSchedule::given : mdlab::InterpolantSchedule::linear;
}

class Interpolant : public mdlab::InterpolantProcess {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("interpolant", "1.0.0",
                               "stochastic-interpolant path alpha x0 + sigma eps with a linear (1 - t, t), "
                               "trigonometric (cos, sin of pi t / 2) or given (splines through lists) schedule");
        spec.param(mdlab::choice("schedule", "linear", {"linear", "trigonometric", "given"},
                                 "linear: alpha = 1 - t, sigma = t; trigonometric: alpha = cos(pi t/2), "
                                 "sigma = sin(pi t/2); given: natural cubic splines through given_alpha and given_sigma"))
            .param(InterpolantProcess::t_end_param(" (schedule given: at most the last knot)"));
        mdlab::declare_given_path(spec);
        return spec;
    }

    explicit Interpolant(const mdlab::Params& p)
        : InterpolantProcess(schedule_of(p.string("schedule")), p, "interpolant") {}
};

}  // namespace

MDLAB_PLUGINS(Interpolant)
