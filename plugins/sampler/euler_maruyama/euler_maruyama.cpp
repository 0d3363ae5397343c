// Euler-Maruyama on the reverse SDE dx = [f - g^2 s(x, t)] dt + g dW_bar, from T down to t_min
// (SCIENCE.md section 3; Song et al. 2021, score_sde's EulerMaruyamaPredictor). With
// h = t_i - t_{i+1} > 0, one step is
//   x <- x - h (f(x, t_i) - g^2(t_i) s(x, t_i)) + sqrt(g^2(t_i) h) z,   z ~ N(0, I),
// and the last step takes no noise (it returns the step's mean, as score_sde's noise removal
// does), so a run to t_min -> 0 with the empirical score lands on training points. z is
// run.step_noise: independent draws, or with noise = "brownian" the increments of one Brownian
// path, whose strong (pathwise) order is then 1 for this additive noise (SCIENCE.md section 6).
#include <mdlab/euler_maruyama.hpp>
#include <mdlab/grid_sampler.hpp>

namespace {

class EulerMaruyama : public mdlab::GridSampler<EulerMaruyama> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("euler_maruyama", "1.1.0",
                                   "Euler-Maruyama on the reverse-time SDE, no noise on the last step", 500)
            .param(mdlab::noise_param());
    }

    using GridSampler::GridSampler;

    struct State {
        State(const EulerMaruyama&, const mdlab::SamplerRun& run)
            : noise(run.noise()), s(run.matrix()), z(run.matrix()) {}
        mdlab::RandomStream noise;
        mdlab::Matrix s, z;
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        run.score(run.x, run.t[i], st.s);
        const bool noisy = !run.last(i);
        if (noisy) run.step_noise(st.noise, i, st.z);
        mdlab::euler_maruyama_update(run.process, run.t[i], run.t[i] - run.t[i + 1], st.s, noisy ? &st.z : nullptr,
                                     run.x);
    }
};

}  // namespace

MDLAB_PLUGINS(EulerMaruyama)
