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
// step_noise(shared "sampler/corrector_noise", i * corrector_steps + j).
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

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

class PredictorCorrector : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("predictor_corrector", "1.0.0",
                               "reverse-SDE Euler-Maruyama predictor with score_sde's Langevin corrector "
                               "(step size set by a signal-to-noise ratio)");
        mdlab::SamplerSettings::declare(spec, 500);
        spec.param(mdlab::real("snr", 0.16,
                               "target signal-to-noise ratio r of the corrector: eps = 2 a_i (r |z| / |s|)^2")
                       .greater_than(0.0))
            .param(mdlab::integer("corrector_steps", 1,
                                  "Langevin corrector updates before each predictor step (0: predictor only)")
                       .at_least(0));
        return spec;
    }

    explicit PredictorCorrector(const mdlab::Params& p)
        : settings_(p), snr_(p.real("snr")), corrector_steps_(p.count("corrector_steps")) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps, K = corrector_steps_;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        const mdlab::RandomStream noise = ctx.shared_stream("sampler/noise");
        const mdlab::RandomStream corrector_noise = ctx.shared_stream("sampler/corrector_noise");
        mdlab::Matrix s = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix z = mdlab::Matrix::from_shape({n, d});
        mdlab::Trajectory trajectory(settings_, steps);
        trajectory.record(0, t[0], x);
        double score_evals = 0.0;

        for (std::size_t i = 0; i < steps; ++i) {
            const double ti = t[i], h = t[i] - t[i + 1];
            const bool last = i + 1 == steps;

            // Langevin corrector at t_i.
            const double ratio = process.alpha(ti) / process.alpha(t[i + 1]);
            const double a_i = ratio * ratio;
            for (std::size_t j = 0; j < K; ++j) {
                if (ctx.cancelled()) throw mdlab::Error("cancelled");
                est->score(x, ti, s);
                score_evals += 1.0;
                mdlab::step_noise(corrector_noise, i * K + j, z);
                const double grad_norm = mean_row_norm(s), noise_norm = mean_row_norm(z);
                // A score that vanishes on the whole batch gives no direction: skip the update
                // rather than take an infinite step.
                const double q = grad_norm > 0.0 ? snr_ * noise_norm / grad_norm : 0.0;
                const double eps = 2.0 * a_i * q * q, noise_scale = std::sqrt(2.0 * eps);
                mdlab::for_chunks(n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                    for (std::size_t k = b * d; k < e * d; ++k)
                        x.data()[k] += eps * s.data()[k] + noise_scale * z.data()[k];
                });
                mdlab::check_finite(x, i, ti);
            }

            // Euler-Maruyama predictor from t_i to t_{i+1}.
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            est->score(x, ti, s);
            score_evals += 1.0;
            const double rate = process.drift_rate(ti), g2 = process.g2(ti);
            const double noise_scale = last ? 0.0 : std::sqrt(g2 * h);
            if (!last) mdlab::step_noise(noise, i, z);
            mdlab::for_chunks(n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                for (std::size_t k = b * d; k < e * d; ++k) {
                    double& xk = x.data()[k];
                    const double mean = xk - h * (rate * xk - g2 * s.data()[k]);
                    xk = last ? mean : mean + noise_scale * z.data()[k];
                }
            });
            mdlab::check_finite(x, i, t[i + 1]);
            trajectory.record(i + 1, t[i + 1], x);
            ctx.progress(double(i + 1) / double(steps));
        }

        trajectory.save(ctx);
        settings_.finish(x, *est, score_evals);
        return mdlab::SampleResult{std::move(x), {{"nfe", score_evals}, {"steps", double(steps)}}};
    }

private:
    mdlab::SamplerSettings settings_;
    double snr_;
    std::size_t corrector_steps_;
};

}  // namespace

MDLAB_PLUGINS(PredictorCorrector)
