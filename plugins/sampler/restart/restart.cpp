// Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes",
// Algorithm 1; the authors' EDM code, benchmarks/generate_restart.py, with one restart interval).
// The main run is Heun on the probability-flow ODE (pf_ode_heun) over the sampler's grid. When it
// reaches the restart interval's lower end t_a, it restarts K times:
//   forward jump t_a -> t_b in one exact step of the forward process,
//     x <- (alpha_b/alpha_a) x + sqrt(sigma_b^2 - (alpha_b/alpha_a)^2 sigma_a^2) z,
//   then Heun on the ODE back from t_b to t_a with its own restart_steps steps,
// and continues the main run. With an exact score every restart maps p_{t_a} to itself; the jump's
// noise contracts the error accumulated before t_a (the paper's Theorem 2), at the cost of
// 2 K restart_steps extra score evaluations.
//
// As in the reference, the interval is given in noise levels sigma/alpha (EDM's sigma; lambda
// below, mdlab/scaled_ode_step.hpp): t_a is the main grid's time whose level is nearest to
// restart_sigma_min (the reference's argmin over t_steps), t_b the time of restart_sigma_max, and
// the back-integration's grid is Karras's in lambda from lambda_b down to lambda_a with the
// sampler's rho (the reference's get_steps; its N_restart grid points are restart_steps + 1).
// In xh = x / alpha the jump is xh <- xh + sqrt(lambda_b^2 - lambda_a^2) z, the same map.
// Noise: restart k draws step_noise(child "restart" of "sampler/noise", k).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <mdlab/grid_sampler.hpp>
#include <mdlab/scaled_ode_step.hpp>

namespace {

class Restart : public mdlab::GridSampler<Restart> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("restart", "1.0.0",
                                   "Restart sampling (Xu et al. 2023): Heun on the probability-flow ODE with K forward "
                                   "noise jumps over a restart interval, each followed by its own ODE run back",
                                   50)
            .param(mdlab::real("restart_sigma_min", 0.14,
                               "lower end of the restart interval, a noise level sigma/alpha (EDM's t_min); snapped "
                               "to the main grid's nearest level")
                       .greater_than(0.0))
            .param(mdlab::real("restart_sigma_max", 0.30,
                               "upper end of the restart interval, a noise level sigma/alpha (EDM's t_max), at most "
                               "sigma(T)/alpha(T)")
                       .greater_than(0.0))
            .param(mdlab::integer("restarts", 2, "K: number of restarts (jump up and integrate back); 0: pf_ode_heun")
                       .at_least(0))
            .param(mdlab::integer("restart_steps", 2,
                                  "Heun steps of each integration back over the interval (the reference's N_restart "
                                  "- 1)")
                       .at_least(1));
    }

    explicit Restart(const mdlab::Params& p)
        : GridSampler(p),
          sigma_a_(p.real("restart_sigma_min")),
          sigma_b_(p.real("restart_sigma_max")),
          restarts_(p.count("restarts")),
          restart_steps_(p.count("restart_steps")) {
        if (!(sigma_a_ < sigma_b_))
            throw mdlab::InputError("restart: restart_sigma_max = " + std::to_string(sigma_b_) +
                                        " must be above restart_sigma_min = " + std::to_string(sigma_a_),
                                    "restart_sigma_max");
    }

    // run.x holds xh = x / alpha during the loop (mdlab::ScaledState).
    struct State : mdlab::ScaledState {
        State(const Restart& r, mdlab::SamplerRun& run)
            : ScaledState(run), ode(run), noise(run.noise().child("restart")), z(run.matrix()) {
            at = r.restart_index(run);
            if (at == 0) {
                run.ctx.log("restart: the run ends at sigma/alpha = " +
                            std::to_string(mdlab::noise_ratio(run.process, run.t.back())) +
                            ", above the restart interval: no restarts");
                return;
            }
            back = r.back_grid(run, run.t[at]);
            lambda_a = mdlab::noise_ratio(run.process, back.back());
            lambda_b = mdlab::noise_ratio(run.process, back.front());
            run.ctx.log("restart: interval sigma/alpha in [" + std::to_string(lambda_a) + ", " +
                        std::to_string(lambda_b) + "] (restart_sigma_min snapped to main grid level " +
                        std::to_string(at) + "), " + std::to_string(r.restarts_) + " restarts of " +
                        std::to_string(r.restart_steps_) + " Heun steps");
        }
        mdlab::ScaledOdeStep ode;
        mdlab::RandomStream noise;
        mdlab::Matrix z;
        std::size_t at = 0;        // the main grid index of t_a (0: the run ends above the interval)
        std::vector<double> back;  // times of the back-integration, t_b down to t_a
        double lambda_a = 0.0, lambda_b = 0.0;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        st.ode(run, run.t[i], run.t[i + 1], mdlab::OdeSolver::heun);
        if (i + 1 != st.at) return;
        for (std::size_t k = 0; k < restarts_; ++k) {
            run.check_cancelled();
            run.step_noise(st.noise, k, st.z);
            mdlab::raise_noise_level(run, st.lambda_a, st.lambda_b, 1.0, st.z);
            for (std::size_t j = 0; j + 1 < st.back.size(); ++j)
                st.ode(run, st.back[j], st.back[j + 1], mdlab::OdeSolver::heun);
        }
    }

private:
    // The main grid index (1 .. steps) whose level is nearest to restart_sigma_min, or 0 when the
    // run stops above the whole interval (an early t_min: nothing to restart); refuses an interval
    // that leaves the time axis or is empty once snapped.
    std::size_t restart_index(const mdlab::SamplerRun& run) const {
        const double lambda_end = mdlab::noise_ratio(run.process, run.process.t_end());
        if (sigma_b_ > lambda_end)
            throw mdlab::InputError("restart: restart_sigma_max = " + std::to_string(sigma_b_) +
                                        " is above the process's largest noise level sigma(T)/alpha(T) = " +
                                        std::to_string(lambda_end),
                                    "restart_sigma_max");
        if (sigma_b_ <= mdlab::noise_ratio(run.process, run.t.back())) return 0;
        std::size_t best = 1;
        for (std::size_t i = 1; i < run.t.size(); ++i)
            if (std::abs(mdlab::noise_ratio(run.process, run.t[i]) - sigma_a_) <
                std::abs(mdlab::noise_ratio(run.process, run.t[best]) - sigma_a_))
                best = i;
        const double snapped = mdlab::noise_ratio(run.process, run.t[best]);
        if (!(snapped < sigma_b_))
            throw mdlab::InputError("restart: restart_sigma_min = " + std::to_string(sigma_a_) +
                                        " snaps to the main grid's level " + std::to_string(snapped) +
                                        ", not below restart_sigma_max = " + std::to_string(sigma_b_) +
                                        ": widen the interval or refine the grid",
                                    "restart_sigma_min");
        return best;
    }

    // Karras's grid in lambda from restart_sigma_max down to lambda(t_a) (restart_steps steps),
    // as times; the ends are t_b and t_a themselves.
    std::vector<double> back_grid(const mdlab::SamplerRun& run, double t_a) const {
        const double rho = run.settings.rho;
        const double hi = std::pow(sigma_b_, 1.0 / rho), lo = std::pow(mdlab::noise_ratio(run.process, t_a), 1.0 / rho);
        std::vector<double> t(restart_steps_ + 1);
        for (std::size_t j = 0; j < restart_steps_; ++j)
            t[j] = mdlab::time_at_ratio(run.process,
                                        std::pow(hi + double(j) / double(restart_steps_) * (lo - hi), rho));
        t.back() = t_a;
        return t;
    }

    double sigma_a_, sigma_b_;
    std::size_t restarts_, restart_steps_;
};

}  // namespace

MDLAB_PLUGINS(Restart)
