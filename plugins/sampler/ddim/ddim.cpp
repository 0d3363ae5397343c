// DDIM (Song, Meng and Ermon 2021, eq. 12 and 16) written for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). From t to the next grid time s < t:
//   x0_hat  = D(x_t, t)                          (Tweedie denoiser),
//   eps_hat = (x_t - alpha_t x0_hat) / sigma_t   (the implied noise),
//   x_s     = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z,   z ~ N(0, I),
//   c       = eta sqrt(sigma_{t|s}^2 sigma_s^2 / sigma_t^2),
// with alpha_{t|s} = alpha_t/alpha_s and sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2: c^2 is eta^2
// times the variance of the DDPM posterior q(x_s | x_t, x0). eta = 0 is the deterministic DDIM
// (the Euler step of the probability-flow ODE in x/alpha and sigma/alpha, i.e. pf_ode_euler);
// eta = 1 is ancestral sampling (ddpm_ancestral). Substituting eps_hat, the update is evaluated as
//   x_s = (k / sigma_t) x_t + (alpha_s - k alpha_t / sigma_t) x0_hat + c z,   k = sqrt(sigma_s^2 - c^2).
// The last step takes no noise (c z dropped). Noise of step i: step_noise(shared "sampler/noise", i),
// the same draws as ddpm_ancestral, so eta = 1 reproduces it up to rounding.
#include <algorithm>
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class Ddim : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("ddim", "1.0.0",
                               "DDIM with stochasticity eta (0: deterministic probability-flow step, "
                               "1: ancestral), no noise on the last step");
        mdlab::SamplerSettings::declare(spec, 100);
        spec.param(mdlab::real("eta", 0.0,
                               "noise level as a fraction of the DDPM posterior standard deviation "
                               "(0: deterministic DDIM, 1: ancestral DDPM)")
                       .at_least(0.0)
                       .at_most(1.0));
        return spec;
    }

    explicit Ddim(const mdlab::Params& p) : settings_(p), eta_(p.real("eta")) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        const mdlab::RandomStream noise = ctx.shared_stream("sampler/noise");
        mdlab::Matrix x0 = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix z = mdlab::Matrix::from_shape({n, d});
        double score_evals = 0.0;
        mdlab::Trajectory trajectory(settings_, steps);
        trajectory.record(0, t[0], x);

        for (std::size_t i = 0; i < steps; ++i) {
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            const bool noisy = eta_ > 0.0 && i + 1 != steps;
            const double at = process.alpha(t[i]), st = process.sigma(t[i]);
            const double as = process.alpha(t[i + 1]), ss = process.sigma(t[i + 1]);
            const double ats = at / as;
            const double sts2 = std::max(0.0, st * st - ats * ats * ss * ss);
            const double c = eta_ * std::sqrt(sts2 * ss * ss / (st * st));
            // c <= sigma_s since sigma_{t|s} <= sigma_t; the clamp only guards rounding at eta = 1.
            const double k = std::sqrt(std::max(0.0, ss * ss - c * c));
            const double cx = k / st, c0 = as - k * at / st;
            const double cz = noisy ? c : 0.0;

            est->denoise(x, t[i], x0);
            score_evals += 1.0;
            if (noisy) mdlab::step_noise(noise, i, z);
            mdlab::for_chunks(n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                for (std::size_t q = b * d; q < e * d; ++q) {
                    const double mean = cx * x.data()[q] + c0 * x0.data()[q];
                    x.data()[q] = noisy ? mean + cz * z.data()[q] : mean;
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
    double eta_;
};

}  // namespace

MDLAB_PLUGINS(Ddim)
