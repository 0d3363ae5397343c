// EDM's second-order Heun solver (Karras et al. 2022, Algorithm 1 without churn) for the
// probability-flow ODE dx/dt = f - g^2 s / 2, written in the scaled variables
//   xh = x / alpha(t),   lambda = sigma(t) / alpha(t)   (the noise-to-signal ratio).
//
// Derivation (SCIENCE.md: f = (alpha'/alpha) x, g^2 = (sigma^2)' - 2 (alpha'/alpha) sigma^2):
//   d xh/dt = x'/alpha - (alpha'/alpha) xh = -g^2 s / (2 alpha)            (the f terms cancel)
//   g^2 / 2 = sigma^2 (sigma'/sigma - alpha'/alpha) = sigma^2 lambda'/lambda,  so
//   d xh/d lambda = -sigma^2 s / (alpha lambda) = (xh - D(x, t)) / lambda,
// using Tweedie, sigma^2 s = alpha D - x = alpha (D - xh). Equivalently the slope is
// (xh - D)/lambda = -sigma(t) s(x, t) (the noise prediction eps), which is how it is evaluated
// below: the same number without the cancellation in xh - D at small lambda.
//
// Heun step from lambda_i to lambda_{i+1} (lambda > 0 throughout since t_min > 0):
//   d_i = (xh - D(alpha_i xh, t_i)) / lambda_i,     xe = xh + (lambda_{i+1} - lambda_i) d_i,
//   d'  = (xe - D(alpha_{i+1} xe, t_{i+1})) / lambda_{i+1},
//   xh <- xh + (lambda_{i+1} - lambda_i) (d_i + d') / 2,
// and the result is x = alpha(t_min) xh. For VE and EDM (alpha = 1, lambda = sigma) this is
// exactly k-diffusion's sample_heun with s_churn = 0.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class PfOdeHeun : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("pf_ode_heun", "1.0.0",
                               "EDM second-order Heun on the probability-flow ODE in x/alpha and sigma/alpha "
                               "(2 score evaluations per step)");
        mdlab::SamplerSettings::declare(spec, 50);
        return spec;
    }

    explicit PfOdeHeun(const mdlab::Params& p) : settings_(p) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x), size = n * d;
        mdlab::Matrix xh = x / process.alpha(t[0]);
        mdlab::Matrix xe = mdlab::Matrix::from_shape({n, d});   // Euler predictor (scaled)
        mdlab::Matrix arg = mdlab::Matrix::from_shape({n, d});  // alpha xh: where the score is asked
        mdlab::Matrix s = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix slope = mdlab::Matrix::from_shape({n, d});  // d_i
        double score_evals = 0.0;

        // Elementwise loops over all values, chunked for the thread pool (deterministic: no reductions).
        auto each = [&](auto&& f) { mdlab::for_each_index(size, f); };

        // Frames are in the original variable x = alpha xh, converted only when a frame is taken
        // (x still holds the initial points exactly at step 0).
        mdlab::Trajectory trajectory(settings_, steps);
        auto record = [&](std::size_t step) {
            if (!trajectory.wants(step)) return;
            if (step > 0) {
                const double a = process.alpha(t[step]);
                each([&](std::size_t k) { x.data()[k] = a * xh.data()[k]; });
            }
            trajectory.record(step, t[step], x);
        };
        record(0);

        for (std::size_t i = 0; i < steps; ++i) {
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            const double a0 = process.alpha(t[i]), s0 = process.sigma(t[i]);
            const double a1 = process.alpha(t[i + 1]), s1 = process.sigma(t[i + 1]);
            const double dl = s1 / a1 - s0 / a0;  // lambda_{i+1} - lambda_i < 0

            // d_i = -sigma_i s(alpha_i xh, t_i); Euler predictor.
            each([&](std::size_t k) { arg.data()[k] = a0 * xh.data()[k]; });
            est->score(arg, t[i], s);
            score_evals += 1.0;
            each([&](std::size_t k) {
                slope.data()[k] = -s0 * s.data()[k];
                xe.data()[k] = xh.data()[k] + dl * slope.data()[k];
                arg.data()[k] = a1 * xe.data()[k];
            });
            // d' = -sigma_{i+1} s(alpha_{i+1} xe, t_{i+1}); trapezoidal corrector.
            est->score(arg, t[i + 1], s);
            score_evals += 1.0;
            each([&](std::size_t k) {
                xh.data()[k] += dl * 0.5 * (slope.data()[k] - s1 * s.data()[k]);
            });
            mdlab::check_finite(xh, i, t[i + 1]);
            record(i + 1);
            ctx.progress(double(i + 1) / double(steps));
        }

        const double a_end = process.alpha(t[steps]);
        each([&](std::size_t k) { x.data()[k] = a_end * xh.data()[k]; });
        trajectory.save(ctx);
        settings_.finish(x, *est, score_evals);
        return mdlab::SampleResult{std::move(x), {{"nfe", score_evals}, {"steps", double(steps)}}};
    }

private:
    mdlab::SamplerSettings settings_;
};

}  // namespace

MDLAB_PLUGINS(PfOdeHeun)
