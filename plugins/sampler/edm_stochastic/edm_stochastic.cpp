// EDM's stochastic sampler (Karras et al. 2022, Algorithm 2; k-diffusion's sample_euler and
// sample_heun with s_churn > 0). Each step first "churns": it raises the noise level from
// sigma_i to sigma_hat = sigma_i (1 + gamma_i) by adding fresh noise, then takes an ODE step
// from sigma_hat down to sigma_{i+1}:
//   gamma_i = min(S_churn / N, sqrt(2) - 1)   if S_tmin <= sigma_i <= S_tmax, else 0,
//   x_hat = x + sqrt(sigma_hat^2 - sigma_i^2) S_noise z,   z = step_noise("sampler/noise", i),
//   d = (x_hat - D(x_hat, sigma_hat)) / sigma_hat,   x <- x_hat + (sigma_{i+1} - sigma_hat) d,
// plus Heun's correction (solver heun) with d' = (x' - D(x', sigma_{i+1})) / sigma_{i+1}.
// The churn is an exact forward jump of the process, so with an exact score and S_noise = 1 the
// marginals stay exact as the steps shrink (a Langevin-like correction of accumulated error).
//
// Any process: in xh = x / alpha and lambda = sigma / alpha every Gaussian process is EDM's
// (xh_t = x0 + lambda eps), so the algorithm runs on lambda as on EDM's sigma, as pf_ode_heun
// does (mdlab/scaled_ode_step.hpp); sigma_hat is a level lambda_hat, evaluated at the time
// t_hat = time_at_noise_ratio(lambda_hat). For EDM and VE (alpha = 1) lambda = sigma.
//
// Conventions (docs/plugins.md): N = len(sigmas) - 1 of k-diffusion, i.e. steps, + 1 when the run
// ends with the Tweedie step (denoise, or a given list ending in 0), which is k-diffusion's step
// to sigma = 0. That Tweedie step takes no churn (no noise on a sampler's last step, SCIENCE.md
// section 3). lambda_hat is capped at lambda(T), where the process's time axis ends.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <mdlab/grid_sampler.hpp>
#include <mdlab/scaled_ode_step.hpp>

namespace {

class EdmStochastic : public mdlab::GridSampler<EdmStochastic> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("edm_stochastic", "1.0.0",
                                   "EDM stochastic sampler (Karras et al. 2022, Algorithm 2): churn the noise level up, "
                                   "then an Euler or Heun step of the probability-flow ODE (k-diffusion's "
                                   "sample_euler / sample_heun with s_churn)",
                                   50)
            .param(mdlab::choice("solver", "heun", {"euler", "heun"},
                                 "ODE step after the churn: euler (sample_euler, 1 score evaluation per step) or heun "
                                 "(sample_heun, 2)"))
            .param(mdlab::real("s_churn", 40.0,
                               "S_churn: total churn, gamma_i = min(s_churn / N, sqrt(2) - 1) with N = steps (+1 with "
                               "denoise); 0 gives pf_ode_euler / pf_ode_heun")
                       .at_least(0.0))
            .param(mdlab::real("s_tmin", 0.05, "S_tmin: churn only levels sigma/alpha >= s_tmin").at_least(0.0))
            .param(mdlab::real_or_choice("s_tmax", 50.0, {"inf"},
                                         "S_tmax: churn only levels sigma/alpha <= s_tmax (inf: no upper bound, "
                                         "k-diffusion's default)")
                       .at_least(0.0))
            .param(mdlab::real("s_noise", 1.0, "S_noise: scale of the churn noise (1: the exact forward jump)")
                       .greater_than(0.0));
    }

    explicit EdmStochastic(const mdlab::Params& p)
        : GridSampler(p),
          solver_(mdlab::ode_solver(p.string("solver"))),
          s_churn_(p.real("s_churn")),
          s_tmin_(p.real("s_tmin")),
          s_tmax_(p.is_choice("s_tmax") ? std::numeric_limits<double>::infinity() : p.real("s_tmax")),
          s_noise_(p.real("s_noise")) {
        if (s_tmin_ > s_tmax_)
            throw mdlab::InputError("edm_stochastic: s_tmin = " + std::to_string(s_tmin_) + " is above s_tmax = " +
                                        std::to_string(s_tmax_) + ": no level would be churned (s_churn = 0 turns "
                                        "churn off)",
                                    "s_tmin");
    }

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState).
    struct State : mdlab::ScaledState {
        State(const EdmStochastic& s, mdlab::SamplerRun& run)
            : ScaledState(run),
              ode(run),
              noise(run.noise()),
              z(run.matrix()),
              lambda_end(mdlab::noise_ratio(run.process, run.process.t_end())),
              gamma(std::min(s.s_churn_ / double(run.settings.steps + (run.settings.denoise ? 1 : 0)),
                             std::sqrt(2.0) - 1.0)) {}
        mdlab::ScaledOdeStep ode;
        mdlab::RandomStream noise;
        mdlab::Matrix z;
        double lambda_end;  // lambda(T): the churned level stays on the time axis
        double gamma;       // min(S_churn / N, sqrt(2) - 1)
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double lambda = mdlab::noise_ratio(run.process, run.t[i]);
        const bool churn = st.gamma > 0.0 && s_tmin_ <= lambda && lambda <= s_tmax_;
        const double lambda_hat = churn ? std::min(lambda * (1.0 + st.gamma), st.lambda_end) : lambda;
        double t_hat = run.t[i];
        if (lambda_hat > lambda) {
            run.step_noise(st.noise, i, st.z);
            mdlab::raise_noise_level(run, lambda, lambda_hat, s_noise_, st.z);
            t_hat = mdlab::time_at_ratio(run.process, lambda_hat);
        }
        st.ode(run, t_hat, run.t[i + 1], solver_);
    }

private:
    mdlab::OdeSolver solver_;
    double s_churn_, s_tmin_, s_tmax_, s_noise_;
};

}  // namespace

MDLAB_PLUGINS(EdmStochastic)
