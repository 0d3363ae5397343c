// DPM-Solver++(2M) SDE (Lu et al. 2022, "DPM-Solver++", section 5 and appendix; k-diffusion's
// sample_dpmpp_2m_sde) for a general Gaussian process p_t(x | x0) = N(alpha_t x0, sigma_t^2 I), in the
// half log-SNR lambda = log(alpha / sigma) (mdlab/dpm_solver.hpp). From t to s < t, h = lambda_s - lambda_t,
// he = (1 + eta) h and D_t = D(x_t, t):
//   x_s = (sigma_s / sigma_t) e^{-eta h} x_t + alpha_s (1 - e^{-he}) D_t + alpha_s C (D_t - D_prev) / r
//         + sigma_s sqrt(1 - e^{-2 eta h}) s_noise z,
// with r = h_prev / h and C = (1 - e^{-he}) / 2 (solver_type midpoint) or (e^{-he} - 1)/he + 1
// (heun); the first step has no C term (first order). eta = 0 is the ODE solver dpmpp_2m (midpoint);
// eta = 1 the DPM-Solver++ SDE. z of step i: run.step_noise (k-diffusion: the noise of the interval
// [sigma_i, sigma_{i+1}]); the last step takes no noise. One denoiser evaluation per step.
#include <cmath>
#include <string>

#include <mdlab/dpm_solver.hpp>

namespace {

class DpmppTwoMSde : public mdlab::GridSampler<DpmppTwoMSde> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::dpmpp_sde_spec("dpmpp_2m_sde",
                                     "DPM-Solver++(2M) SDE: second-order multistep reverse-SDE solver in log-SNR with "
                                     "stochasticity eta (1 score evaluation per step)",
                                     "dpmpp_2m")
            .param(mdlab::choice("solver_type", "midpoint", {"midpoint", "heun"},
                                 "second-order correction: midpoint (1 - e^{-he})/2 or heun (e^{-he} - 1)/he + 1, "
                                 "as k-diffusion's solver_type"));
    }

    explicit DpmppTwoMSde(const mdlab::Params& p)
        : GridSampler(p), eta_(p.real("eta")), s_noise_(p.real("s_noise")), heun_(p.string("solver_type") == "heun") {}

    struct State : mdlab::MultistepState {
        State(const DpmppTwoMSde&, const mdlab::SamplerRun& run) : MultistepState(run, 1) {}
    };

    void step(mdlab::SamplerRun& run, State& state, std::size_t i) const {
        state.step(run, i, [&](const mdlab::LogSnrStep& st, const mdlab::DenoiserHistory& history) {
            mdlab::MultistepUpdate u = mdlab::dpmpp_first_order(st, eta_, s_noise_, run.last(i));
            if (history.known() == 1) {
                // C / r with r = h_prev / h; midpoint C = phi_1 / 2 (u.w[0] = phi_1 so far).
                const double corr = heun_ ? mdlab::DpmppPhi((1.0 + eta_) * st.h).phi2 : 0.5 * u.w[0];
                const double c = corr * st.h / history.past_h(1);
                u.w[0] += c;
                u.w[1] = -c;
            }
            return u;
        });
    }

private:
    double eta_, s_noise_;
    bool heun_;
};

}  // namespace

MDLAB_PLUGINS(DpmppTwoMSde)
