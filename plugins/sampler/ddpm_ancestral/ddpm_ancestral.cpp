// Ancestral sampling (Ho et al. 2020, DDPM; SCIENCE.md section 3) for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). Between consecutive grid times t > s the forward
// transition is x_t | x_s ~ N(alpha_{t|s} x_s, sigma_{t|s}^2 I) with
//   alpha_{t|s} = alpha_t / alpha_s,   sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2,
// and the Gaussian posterior q(x_s | x_t, x0) (Kingma et al. 2021, VDM, eq. 28-30) is
//   mean = (alpha_{t|s} sigma_s^2 / sigma_t^2) x_t + (alpha_s sigma_{t|s}^2 / sigma_t^2) x0,
//   var  = sigma_{t|s}^2 sigma_s^2 / sigma_t^2.
// One step replaces x0 by the Tweedie denoiser x0_hat = D(x_t, t) and draws from that posterior.
// The last step returns the mean (no noise), so a run to t_min -> 0 with the empirical score
// lands on training points. The noise of step i is step_noise(shared "sampler/noise", i), the
// same draws as ddim with eta = 1, which is then the same map up to rounding.
#include <algorithm>
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class DdpmAncestral : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("ddpm_ancestral", "1.0.0",
                               "ancestral sampling from the Gaussian posterior q(x_s | x_t, x0 = D(x_t, t)), "
                               "no noise on the last step");
        mdlab::SamplerSettings::declare(spec, 500);
        return spec;
    }

    explicit DdpmAncestral(const mdlab::Params& p) : settings_(p) {}

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
            const bool last = i + 1 == steps;
            const double at = process.alpha(t[i]), st = process.sigma(t[i]);
            const double as = process.alpha(t[i + 1]), ss = process.sigma(t[i + 1]);
            const double ats = at / as;
            // sigma_{t|s}^2 = alpha_t^2 (lambda_t^2 - lambda_s^2) with lambda = sigma/alpha, > 0 for t > s;
            // clamped against rounding when two grid times nearly coincide.
            const double sts2 = std::max(0.0, st * st - ats * ats * ss * ss);
            const double cx = ats * ss * ss / (st * st), c0 = as * sts2 / (st * st);
            const double sd = last ? 0.0 : std::sqrt(sts2 * ss * ss / (st * st));

            est->denoise(x, t[i], x0);
            score_evals += 1.0;
            if (!last) mdlab::step_noise(noise, i, z);
            mdlab::for_chunks(n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                for (std::size_t k = b * d; k < e * d; ++k) {
                    const double mean = cx * x.data()[k] + c0 * x0.data()[k];
                    x.data()[k] = last ? mean : mean + sd * z.data()[k];
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
};

}  // namespace

MDLAB_PLUGINS(DdpmAncestral)
