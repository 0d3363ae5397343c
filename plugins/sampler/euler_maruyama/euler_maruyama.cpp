// Euler-Maruyama on the reverse SDE dx = [f - g^2 s(x, t)] dt + g dW_bar, from T down to t_min
// (SCIENCE.md section 3; Song et al. 2021, score_sde's EulerMaruyamaPredictor). With
// h = t_i - t_{i+1} > 0, one step is
//   x <- x - h (f(x, t_i) - g^2(t_i) s(x, t_i)) + sqrt(g^2(t_i) h) z,   z ~ N(0, I),
// and the last step takes no noise (it returns the step's mean, as score_sde's noise removal
// does), so a run to t_min -> 0 with the empirical score lands on training points.
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class EulerMaruyama : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("euler_maruyama", "1.0.0",
                               "Euler-Maruyama on the reverse-time SDE, no noise on the last step");
        mdlab::SamplerSettings::declare(spec, 500);
        return spec;
    }

    explicit EulerMaruyama(const mdlab::Params& p) : settings_(p) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t steps = settings_.steps;

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        const mdlab::RandomStream noise = ctx.shared_stream("sampler/noise");
        mdlab::Matrix s = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix z = mdlab::Matrix::from_shape({n, d});
        double score_evals = 0.0;
        mdlab::Trajectory trajectory(settings_, steps);
        trajectory.record(0, t[0], x);

        for (std::size_t i = 0; i < steps; ++i) {
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            const double ti = t[i], h = t[i] - t[i + 1];
            const bool last = i + 1 == steps;
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

        // The trajectory holds the states on the grid; the optional denoised output is not a frame.
        trajectory.save(ctx);
        settings_.finish(x, *est, score_evals);
        return mdlab::SampleResult{std::move(x), {{"nfe", score_evals}, {"steps", double(steps)}}};
    }

private:
    mdlab::SamplerSettings settings_;
};

}  // namespace

MDLAB_PLUGINS(EulerMaruyama)
