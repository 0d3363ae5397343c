// Predictor-corrector sampling (Song et al. 2021, Algorithms 2-5; score_sde's get_pc_sampler with
// the euler_maruyama predictor and the langevin corrector). On the grid T = t_0 > ... > t_N = t_min,
// step i first runs `corrector_steps` Langevin updates at t_i, then one Euler-Maruyama step of the
// reverse SDE from t_i to t_{i+1}.
//
// Corrector (score_sde's LangevinCorrector.update_fn), per update:
//   g = s(x, t_i),  z ~ N(0, I),
//   |g|, |z| = the per-sample Euclidean norms over all coordinates, averaged over the batch,
//   eps = 2 a_i (snr |z| / |g|)^2   (one step size for the whole batch, as in score_sde),
//   x <- x + eps g + sqrt(2 eps) z.
// a_i is score_sde's `alphas[timestep]` = 1 - beta_i, the per-step DDPM factor, for VP (and
// sub-VP) and 1 otherwise. Through the process interface it is the DDPM factor between adjacent
// grid times, a_i = alpha(t_i)^2 / alpha(t_{i+1})^2 = exp(-integral_{t_{i+1}}^{t_i} beta):
// 1 - beta(t_i) h + O((beta h)^2) for VP with h = t_i - t_{i+1} (score_sde's 1 - beta(t_i)/N on its
// uniform grid of N steps), exactly 1 for VE and EDM (alpha = 1), and always in (0, 1], so it
// stays positive for coarse grids where 1 - beta h would not.
//
// Predictor (as the euler_maruyama plugin, the same noise stream):
//   x <- x - h (f(x, t_i) - g^2(t_i) s(x, t_i)) + sqrt(g^2(t_i) h) z,
// with no noise on the last step (score_sde's noise removal returns that step's mean).
//
// Noise: predictor step i draws step_noise(shared "sampler/noise", i) (so with corrector_steps = 0
// this is exactly euler_maruyama); corrector update j of step i draws
// step_noise(shared "sampler/corrector_noise", i * corrector_steps + j). With noise = "brownian"
// the predictor's z is the normalised increment of one Brownian path over [t_{i+1}, t_i]
// (run.step_noise); the corrector's draws stay independent: its updates run at a fixed t_i, in
// Langevin's own step time, where no increment of the path applies.
#include <cmath>

#include <mdlab/euler_maruyama.hpp>
#include <mdlab/grid_sampler.hpp>

namespace {

// Mean over rows of the Euclidean row norms, summed in fixed chunks (thread-count independent).
double mean_row_norm(const mdlab::Matrix& m) {
    const std::size_t n = mdlab::rows(m), d = mdlab::cols(m);
    const double total = mdlab::ordered_sum(n, [&](std::size_t i) {
        const double* r = m.data() + i * d;
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) s += r[j] * r[j];
        return std::sqrt(s);
    });
    return total / double(n);
}

class PredictorCorrector : public mdlab::GridSampler<PredictorCorrector> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("predictor_corrector", "1.1.0",
                                   "reverse-SDE Euler-Maruyama predictor with score_sde's Langevin corrector "
                                   "(step size set by a signal-to-noise ratio)",
                                   500)
            .param(
                mdlab::real("snr", 0.16, "target signal-to-noise ratio r of the corrector: eps = 2 a_i (r |z| / |s|)^2")
                    .greater_than(0.0))
            .param(mdlab::integer("corrector_steps", 1,
                                  "Langevin corrector updates before each predictor step (0: predictor only)")
                       .at_least(0))
            .param(mdlab::noise_param());
    }

    explicit PredictorCorrector(const mdlab::Params& p)
        : GridSampler(p), snr_(p.real("snr")), corrector_steps_(p.count("corrector_steps")) {}

    struct State {
        State(const PredictorCorrector&, const mdlab::SamplerRun& run)
            : noise(run.noise()),
              corrector_noise(run.noise("sampler/corrector_noise")),
              s(run.matrix()),
              z(run.matrix()) {}
        mdlab::RandomStream noise, corrector_noise;
        mdlab::Matrix s, z;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double ti = run.t[i];
        const std::size_t K = corrector_steps_;

        // Langevin corrector at t_i.
        const double ratio = run.process.alpha(ti) / run.process.alpha(run.t[i + 1]);
        const double a_i = ratio * ratio;
        for (std::size_t j = 0; j < K; ++j) {
            if (j > 0) run.check_cancelled();
            run.score(run.x, ti, st.s);
            mdlab::step_noise(st.corrector_noise, i * K + j, st.z);
            const double grad_norm = mean_row_norm(st.s), noise_norm = mean_row_norm(st.z);
            // A score that vanishes on the whole batch gives no direction: skip the update
            // rather than take an infinite step.
            const double q = grad_norm > 0.0 ? snr_ * noise_norm / grad_norm : 0.0;
            const double eps = 2.0 * a_i * q * q, noise_scale = std::sqrt(2.0 * eps);
            const double *s = st.s.data(), *z = st.z.data();
            double* x = run.x.data();
            mdlab::for_chunks(run.n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                for (std::size_t k = b * run.d; k < e * run.d; ++k) x[k] += eps * s[k] + noise_scale * z[k];
            });
            mdlab::check_finite(run.x, i, ti);
        }

        // Euler-Maruyama predictor from t_i to t_{i+1}.
        if (K > 0) run.check_cancelled();
        run.score(run.x, ti, st.s);
        const bool noisy = !run.last(i);
        if (noisy) run.step_noise(st.noise, i, st.z);
        mdlab::euler_maruyama_update(run.process, ti, ti - run.t[i + 1], st.s, noisy ? &st.z : nullptr, run.x);
    }

private:
    double snr_;
    std::size_t corrector_steps_;
};

}  // namespace

MDLAB_PLUGINS(PredictorCorrector)
