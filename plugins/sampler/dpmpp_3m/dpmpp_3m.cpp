// DPM-Solver++(3M) (Lu et al. 2022, "DPM-Solver++", the multistep third-order data-prediction
// solver of the probability-flow ODE; diffusers' DPMSolverMultistepScheduler with solver_order = 3
// and algorithm_type dpmsolver++, without its lower_order_final) for a general Gaussian process, in
// the half log-SNR lambda = log(alpha / sigma). From t to s < t, h = lambda_s - lambda_t:
//   x_s = (sigma_s / sigma_t) x_t + alpha_s [(1 - e^{-h}) D_t + phi_2 d1 - phi_3 d2],
// phi_2 = (e^{-h} - 1)/h + 1, phi_3 = phi_2/h - 1/2, d1 and d2 the first and second divided
// differences of the last three denoiser outputs (mdlab/dpm_solver.hpp); first order on the first
// step, second order on the second. It is dpmpp_3m_sde at eta = 0 (k-diffusion's
// sample_dpmpp_3m_sde with eta = 0). One denoiser evaluation per step; third order.
#include <mdlab/dpm_solver.hpp>

namespace {

class DpmppThreeM : public mdlab::GridSampler<DpmppThreeM> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("dpmpp_3m", "1.0.0",
                                   "DPM-Solver++(3M): third-order multistep probability-flow solver in log-SNR "
                                   "(1 score evaluation per step)",
                                   50);
    }

    using GridSampler::GridSampler;

    struct State : mdlab::MultistepState {
        State(const DpmppThreeM&, const mdlab::SamplerRun& run) : MultistepState(run, 2) {}
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        state.step(run, i, [](const mdlab::LogSnrStep& st, const mdlab::DenoiserHistory& history) {
            return mdlab::dpmpp_3m_update(st, history, 0.0, 0.0, true);
        });
    }
};

}  // namespace

MDLAB_PLUGINS(DpmppThreeM)
