// DPM-Solver++(3M) SDE (k-diffusion's sample_dpmpp_3m_sde; the SDE form of Lu et al. 2022,
// "DPM-Solver++") for a general Gaussian process p_t(x | x0) = N(alpha_t x0, sigma_t^2 I), in the half
// log-SNR lambda = log(alpha / sigma). From t to s < t, h = lambda_s - lambda_t, he = (1 + eta) h:
//   x_s = (sigma_s / sigma_t) e^{-eta h} x_t + alpha_s [(1 - e^{-he}) D_t + phi_2 d1 - phi_3 d2]
//         + sigma_s sqrt(1 - e^{-2 eta h}) s_noise z,
// phi_2 = (e^{-he} - 1)/he + 1, phi_3 = phi_2/he - 1/2, and d1, d2 the first and second divided
// differences of the last three denoiser outputs in lambda (mdlab/dpm_solver.hpp, dpmpp_3m_update);
// the first step is first order, the second second order. `coefficients` = reference (the default)
// is k-diffusion's phi_3 weight, which integrates half of the D'' term; third_order integrates it
// exactly (twice the weight; mdlab/dpm_solver.hpp). eta = 0 is dpmpp_3m with the same coefficients.
// z of step i: run.step_noise; the last step takes no noise. One denoiser evaluation per step.
#include <mdlab/dpm_solver.hpp>

namespace {

class DpmppThreeMSde : public mdlab::GridSampler<DpmppThreeMSde> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::dpmpp_sde_spec("dpmpp_3m_sde",
                                     "DPM-Solver++(3M) SDE: three-step multistep reverse-SDE solver in log-SNR with "
                                     "stochasticity eta (1 score evaluation per step)",
                                     "dpmpp_3m")
            .param(mdlab::dpmpp_3m_coefficients_param("reference"));
    }

    explicit DpmppThreeMSde(const mdlab::Params& p)
        : GridSampler(p), eta_(p.real("eta")), s_noise_(p.real("s_noise")), coefficients_(mdlab::dpmpp_3m_coefficients(p)) {}

    struct State : mdlab::MultistepState {
        State(const DpmppThreeMSde&, const mdlab::SamplerRun& run) : MultistepState(run, 2) {}
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        state.step(run, i, [&](const mdlab::LogSnrStep& st, const mdlab::DenoiserHistory& history) {
            return mdlab::dpmpp_3m_update(st, history, eta_, s_noise_, run.last(i), coefficients_);
        });
    }

private:
    double eta_, s_noise_;
    mdlab::Dpmpp3mCoefficients coefficients_;
};

}  // namespace

MDLAB_PLUGINS(DpmppThreeMSde)
