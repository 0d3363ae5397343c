// First-order Euler on the probability-flow ODE dx/dt = f - g^2 s / 2, in the scaled variables
// of pf_ode_heun (Karras et al. 2022, eq. 4 and Algorithm 1 with its corrector removed):
//   xh = x / alpha(t),   lambda = sigma(t) / alpha(t),   d xh/d lambda = (xh - D(x, t)) / lambda,
// where the slope equals -sigma(t) s(x, t) (the noise prediction) and is evaluated in that form,
// without the cancellation in xh - D at small lambda. One step from lambda_i to lambda_{i+1}:
//   xh <- xh + (lambda_{i+1} - lambda_i) (-sigma_i s(alpha_i xh, t_i)),
// and the result is x = alpha(t_min) xh. For VE and EDM (alpha = 1, lambda = sigma) this is
// k-diffusion's sample_euler with s_churn = 0 on the same sigmas. In these variables the Euler
// step is also DDIM with eta = 0 (Song et al. 2021, section 4.3): the same map, another rounding.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class PfOdeEuler : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("pf_ode_euler", "1.0.0",
                               "first-order Euler on the probability-flow ODE in x/alpha and sigma/alpha "
                               "(1 score evaluation per step)");
        mdlab::SamplerSettings::declare(spec, 100);
        return spec;
    }

    explicit PfOdeEuler(const mdlab::Params& p) : settings_(p) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x), size = n * d;
        mdlab::Matrix xh = x / process.alpha(t[0]);
        mdlab::Matrix arg = mdlab::Matrix::from_shape({n, d});  // alpha xh: where the score is asked
        mdlab::Matrix s = mdlab::Matrix::from_shape({n, d});
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

            each([&](std::size_t k) { arg.data()[k] = a0 * xh.data()[k]; });
            est->score(arg, t[i], s);
            score_evals += 1.0;
            each([&](std::size_t k) { xh.data()[k] += dl * (-s0 * s.data()[k]); });
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

MDLAB_PLUGINS(PfOdeEuler)
