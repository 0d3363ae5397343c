// Annealed Langevin dynamics (Song and Ermon 2019, Algorithm 1; the NCSN sampler when the
// process is VE). The noise levels are the sampler's time grid T = t_0 > ... > t_N = t_min
// (N + 1 levels, sigma_i = sigma(t_i); a uniform grid on `ve` gives NCSN's geometric sigmas).
// At each level, `langevin_steps` updates
//   a_i = epsilon sigma_i^2 / sigma_N^2,   x <- x + (a_i / 2) s(x, t_i) + sqrt(a_i) z,   z ~ N(0, I).
// The very last update takes no noise (it returns its mean, like the other stochastic samplers);
// `denoise` adds the Tweedie step D(x, t_min) (NCSNv2's final denoising for VE).
// Noise: update k of level i draws step_noise(shared "sampler/noise", i * langevin_steps + k).
#include <cmath>
#include <string>

#include <mdlab/mdlab.hpp>

namespace {

class AnnealedLangevin : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("annealed_langevin", "1.0.0",
                               "annealed Langevin dynamics (Song and Ermon 2019) over the noise levels sigma(t_i) "
                               "of the time grid");
        mdlab::SamplerSettings::declare(spec, 100);
        spec.param(mdlab::integer("langevin_steps", 10, "Langevin updates per noise level (T in Algorithm 1)")
                       .at_least(1))
            .param(mdlab::real("epsilon", 2e-5,
                               "step size at the last level, a_i = epsilon sigma_i^2 / sigma(t_min)^2; 2e-5 is the "
                               "paper's value for sigma_min = 0.01 (keep epsilon / sigma(t_min)^2 near 0.2)")
                       .greater_than(0.0));
        return spec;
    }

    explicit AnnealedLangevin(const mdlab::Params& p)
        : settings_(p), langevin_steps_(p.count("langevin_steps")), epsilon_(p.real("epsilon")) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const mdlab::ForwardProcess& process = est->process();
        const std::vector<double> t = settings_.times(process);
        const std::size_t levels = settings_.steps + 1, K = langevin_steps_;
        const double sigma_last = process.sigma(t.back());
        if (!(sigma_last > 0.0))
            throw mdlab::InputError("annealed_langevin: sigma(t_min) = " + std::to_string(sigma_last) +
                                        " must be positive (it scales every step size)",
                                    "t_min");
        // For a Gaussian of variance v an update multiplies x by 1 - a/(2v): it overshoots when
        // a > 4v. Where p_t has variance sigma_i^2 (normal to a data manifold) that is epsilon > 4 sigma_N^2.
        if (epsilon_ > 4.0 * sigma_last * sigma_last)
            ctx.log("annealed_langevin: epsilon = " + std::to_string(epsilon_) + " exceeds 4 sigma(t_min)^2 = " +
                    std::to_string(4.0 * sigma_last * sigma_last) +
                    ": the Langevin steps may diverge in directions of noise-sized variance");

        mdlab::Matrix x = settings_.initial_points(*est, ctx);
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        const mdlab::RandomStream noise = ctx.shared_stream("sampler/noise");
        mdlab::Matrix s = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix z = mdlab::Matrix::from_shape({n, d});
        mdlab::Trajectory trajectory(settings_, levels);
        trajectory.record(0, t[0], x);
        double score_evals = 0.0;

        for (std::size_t i = 0; i < levels; ++i) {
            const double sg = process.sigma(t[i]);
            const double a = epsilon_ * (sg / sigma_last) * (sg / sigma_last);
            const double half = 0.5 * a;
            for (std::size_t k = 0; k < K; ++k) {
                if (ctx.cancelled()) throw mdlab::Error("cancelled");
                const bool last = i + 1 == levels && k + 1 == K;
                est->score(x, t[i], s);
                score_evals += 1.0;
                const double noise_scale = last ? 0.0 : std::sqrt(a);
                if (!last) mdlab::step_noise(noise, i * K + k, z);
                mdlab::for_chunks(n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                    for (std::size_t q = b * d; q < e * d; ++q) {
                        double& xq = x.data()[q];
                        xq += half * s.data()[q];
                        if (!last) xq += noise_scale * z.data()[q];
                    }
                });
                mdlab::check_finite(x, i, t[i]);
            }
            trajectory.record(i + 1, t[i], x);
            ctx.progress(double(i + 1) / double(levels));
        }

        trajectory.save(ctx);
        settings_.finish(x, *est, score_evals);
        return mdlab::SampleResult{std::move(x), {{"nfe", score_evals}, {"steps", double(settings_.steps)}}};
    }

private:
    mdlab::SamplerSettings settings_;
    std::size_t langevin_steps_;
    double epsilon_;
};

}  // namespace

MDLAB_PLUGINS(AnnealedLangevin)
