// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), the multistep second-order
// solver of the probability-flow ODE in data prediction, for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I). With the half log-SNR lambda_t = log(alpha_t / sigma_t)
// the exact solution from t to s < t is
//   x_s = (sigma_s / sigma_t) x_t + sigma_s  integral_{lambda_t}^{lambda_s} e^lambda D(x_lambda) d lambda,
// and with h = lambda_s - lambda_t > 0 and D held at a value D' over the step:
//   x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D'.
// Step 0 uses D' = D_t (first order, DDIM); later steps extrapolate linearly in lambda from the
// previous step's denoiser output, with r = h_prev / h:
//   D' = (1 + 1/(2r)) D_t - (1/(2r)) D_prev.
// One denoiser evaluation per step. With alpha = 1 (VE, EDM) lambda = -log sigma and this is
// k-diffusion's sample_dpmpp_2m on the same sigmas, except that k-diffusion's step to sigma = 0
// (a plain x = denoised) is our denoise = true at t_min = sigma_min (see docs/plugins.md).
#include <cmath>
#include <string>
#include <utility>

#include <mdlab/mdlab.hpp>

namespace {

class DpmppTwoM : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("dpmpp_2m", "1.0.0",
                               "DPM-Solver++(2M): second-order multistep probability-flow solver in log-SNR "
                               "(1 score evaluation per step)");
        mdlab::SamplerSettings::declare(spec, 50);
        return spec;
    }

    explicit DpmppTwoM(const mdlab::Params& p) : settings_(p) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x), size = n * d;
        mdlab::Matrix den = mdlab::Matrix::from_shape({n, d});   // D(x_t, t)
        mdlab::Matrix prev = mdlab::Matrix::from_shape({n, d});  // the previous step's D
        double score_evals = 0.0, h_prev = 0.0;
        mdlab::Trajectory trajectory(settings_, steps);
        trajectory.record(0, t[0], x);

        auto each = [&](auto&& f) { mdlab::for_each_index(size, f); };

        for (std::size_t i = 0; i < steps; ++i) {
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            const double at = process.alpha(t[i]), st = process.sigma(t[i]);
            const double as = process.alpha(t[i + 1]), ss = process.sigma(t[i + 1]);
            const double h = std::log(as / ss) - std::log(at / st);  // lambda_s - lambda_t > 0
            const double cx = ss / st, cd = -as * std::expm1(-h);

            est->denoise(x, t[i], den);
            score_evals += 1.0;
            if (i == 0) {
                each([&](std::size_t k) { x.data()[k] = cx * x.data()[k] + cd * den.data()[k]; });
            } else {
                const double w = h / (2.0 * h_prev);  // 1/(2r)
                each([&](std::size_t k) {
                    const double dd = (1.0 + w) * den.data()[k] - w * prev.data()[k];
                    x.data()[k] = cx * x.data()[k] + cd * dd;
                });
            }
            std::swap(den, prev);
            h_prev = h;
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

MDLAB_PLUGINS(DpmppTwoM)
