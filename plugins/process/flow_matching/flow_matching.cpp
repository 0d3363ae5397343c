// Flow matching / rectified flow (Lipman et al. 2023; Liu et al. 2023) as a forward process:
// the linear path x_t = (1 - t) x0 + t eps, alpha = 1 - t, sigma = t (SCIENCE.md section 6).
// As an SDE of section 1: f = -x / (1 - t), g^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2
// = 2t + 2t^2 / (1 - t) = 2t / (1 - t). alpha(1) = 0, so the end time T stays below 1 (as for
// cosine). The same path as `interpolant` with schedule = linear (mdlab/interpolant_path.hpp).
#include <mdlab/interpolant_path.hpp>
#include <mdlab/mdlab.hpp>

namespace {

class FlowMatching : public mdlab::InterpolantProcess {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("flow_matching", "1.0.0",
                                 "flow matching / rectified flow path, alpha = 1 - t, sigma = t, on [0, T], T < 1")
            .param(InterpolantProcess::t_end_param());
    }

    explicit FlowMatching(const mdlab::Params& p)
        : InterpolantProcess(mdlab::InterpolantSchedule::linear, p, "flow_matching") {}
};

}  // namespace

MDLAB_PLUGINS(FlowMatching)
