// Annealed Langevin dynamics (Song and Ermon 2019, Algorithm 1; the NCSN sampler when the
// process is VE). The noise levels are the sampler's time grid T = t_0 > ... > t_N = t_min
// (N + 1 levels, sigma_i = sigma(t_i); a uniform grid on `ve` gives NCSN's geometric sigmas).
// At each level, `langevin_steps` updates
//   a_i = epsilon sigma_i^2 / sigma_N^2,   x <- x + (a_i / 2) s(x, t_i) + sqrt(a_i) z,   z ~ N(0, I).
// The very last update takes no noise (it returns its mean, like the other stochastic samplers);
// `denoise` adds the Tweedie step D(x, t_min) (NCSNv2's final denoising for VE).
// Noise: update k of level i draws step_noise(shared "sampler/noise", i * langevin_steps + k).
// No `noise` = "brownian" (mdlab::noise_param): the updates run at fixed levels, in Langevin's own
// step time rather than over intervals of the time grid, so a Brownian path of the process time
// has no increment to give them; they stay independent draws.
#include <cmath>
#include <string>

#include <mdlab/grid_sampler.hpp>

namespace {

class AnnealedLangevin : public mdlab::GridSampler<AnnealedLangevin> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("annealed_langevin", "1.0.0",
                                   "annealed Langevin dynamics (Song and Ermon 2019) over the noise levels sigma(t_i) "
                                   "of the time grid",
                                   100)
            .param(
                mdlab::integer("langevin_steps", 10, "Langevin updates per noise level (T in Algorithm 1)").at_least(1))
            .param(mdlab::real("epsilon", 2e-5,
                               "step size at the last level, a_i = epsilon sigma_i^2 / sigma(t_min)^2; 2e-5 is the "
                               "paper's value for sigma_min = 0.01 (keep epsilon / sigma(t_min)^2 near 0.2)")
                       .greater_than(0.0));
    }

    explicit AnnealedLangevin(const mdlab::Params& p)
        : GridSampler(p), langevin_steps_(p.count("langevin_steps")), epsilon_(p.real("epsilon")) {}

    // One step per noise level: steps + 1 levels t_0 .. t_N, the frame of level i at t_i.
    static constexpr bool on_levels = true;

    void prepare(mdlab::SamplerRun& run) const {
        const double sigma_last = run.process.sigma(run.t.back());
        if (!(sigma_last > 0.0))
            throw mdlab::InputError("annealed_langevin: sigma(t_min) = " + std::to_string(sigma_last) +
                                        " must be positive (it scales every step size)",
                                    run.settings.end_key());
        // For a Gaussian of variance v an update multiplies x by 1 - a/(2v): it overshoots when
        // a > 4v. Where p_t has variance sigma_i^2 (normal to a data manifold) that is epsilon > 4 sigma_N^2.
        if (epsilon_ > 4.0 * sigma_last * sigma_last)
            run.ctx.log("annealed_langevin: epsilon = " + std::to_string(epsilon_) +
                        " exceeds 4 sigma(t_min)^2 = " + std::to_string(4.0 * sigma_last * sigma_last) +
                        ": the Langevin steps may diverge in directions of noise-sized variance");
    }

    struct State {
        State(const AnnealedLangevin&, const mdlab::SamplerRun& run)
            : noise(run.noise()), s(run.matrix()), z(run.matrix()), sigma_last(run.process.sigma(run.t.back())) {}
        mdlab::RandomStream noise;
        mdlab::Matrix s, z;
        double sigma_last;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const std::size_t K = langevin_steps_, levels = run.t.size();
        const double sg = run.process.sigma(run.t[i]);
        const double a = epsilon_ * (sg / st.sigma_last) * (sg / st.sigma_last);
        const double half = 0.5 * a;
        for (std::size_t k = 0; k < K; ++k) {
            if (k > 0) run.check_cancelled();
            const bool last = i + 1 == levels && k + 1 == K;
            run.score(run.x, run.t[i], st.s);
            const double noise_scale = last ? 0.0 : std::sqrt(a);
            if (!last) mdlab::step_noise(st.noise, i * K + k, st.z);
            const double *s = st.s.data(), *z = st.z.data();
            double* x = run.x.data();
            mdlab::for_chunks(run.n, mdlab::random_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
                for (std::size_t q = b * run.d; q < e * run.d; ++q) {
                    x[q] += half * s[q];
                    if (!last) x[q] += noise_scale * z[q];
                }
            });
            if (k + 1 < K) mdlab::check_finite(run.x, i, run.t[i]);  // the base checks after the last update
        }
    }

private:
    std::size_t langevin_steps_;
    double epsilon_;
};

}  // namespace

MDLAB_PLUGINS(AnnealedLangevin)
