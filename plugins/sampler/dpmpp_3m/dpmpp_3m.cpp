// DPM-Solver++(3M) (Lu et al. 2022, "DPM-Solver++", the multistep third-order data-prediction
// solver of the probability-flow ODE; diffusers' DPMSolverMultistepScheduler with solver_order = 3
// and algorithm_type dpmsolver++, without its lower_order_final) for a general Gaussian process, in
// the half log-SNR lambda = log(alpha / sigma). From t to s < t, h = lambda_s - lambda_t:
//   x_s = (sigma_s / sigma_t) x_t + alpha_s [(1 - e^{-h}) D_t + phi_2 d1 - phi_3 d2],
// phi_2 = (e^{-h} - 1)/h + 1, phi_3 = phi_2/h - 1/2, d1 and d2 the first and second divided
// differences of the last three denoiser outputs (mdlab/dpm_solver.hpp); first order on the first
// step, second order on the second. d2 estimates h^2 D''/2, so the exact integral of the quadratic
// interpolant of D weighs it with -2 phi_3: `coefficients` = third_order (the default, third order as
// measured). The code of DPM-Solver, diffusers and k-diffusion weighs it with -phi_3 (reference): a
// second-order method on smooth problems (error ratio 4 per halving, tests/plugins/sampler/dpmpp_sde_laws.cpp),
// equal to k-diffusion's sample_dpmpp_3m_sde at eta = 0. Either is dpmpp_3m_sde at eta = 0 with the same
// coefficients. One denoiser evaluation per step.
#include <mdlab/dpm_solver.hpp>

namespace {

class DpmppThreeM : public mdlab::GridSampler<DpmppThreeM> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("dpmpp_3m", "1.0.0",
                                   "DPM-Solver++(3M): third-order multistep probability-flow solver in log-SNR "
                                   "(1 score evaluation per step)",
                                   50)
            .param(mdlab::dpmpp_3m_coefficients_param("third_order"));
    }

    explicit DpmppThreeM(const mdlab::Params& p) : GridSampler(p), coefficients_(mdlab::dpmpp_3m_coefficients(p)) {}

    struct State : mdlab::MultistepState {
        State(const DpmppThreeM&, const mdlab::SamplerRun& run) : MultistepState(run, 2) {}
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        state.step(run, i, [&](const mdlab::LogSnrStep& st, const mdlab::DenoiserHistory& history) {
            return mdlab::dpmpp_3m_update(st, history, 0.0, 0.0, true, coefficients_);
        });
    }

private:
    mdlab::Dpmpp3mCoefficients coefficients_;
};

}  // namespace

MDLAB_PLUGINS(DpmppThreeM)
