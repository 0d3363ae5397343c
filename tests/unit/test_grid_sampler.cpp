// The SDK base of time-grid samplers (mdlab/grid_sampler.hpp) on a toy sampler, and the one
// Euler-Maruyama update (mdlab/euler_maruyama.hpp) against its formula.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <mdlab/euler_maruyama.hpp>
#include <mdlab/grid_sampler.hpp>

#include "sampler_check.hpp"

using mdlab::Matrix;
using mdlab::test::GaussianScore;
using mdlab::test::RecordingContext;

namespace {

mdlab::Params settings(std::int64_t steps, std::int64_t record_every, bool denoise) {
    mdlab::Params p;
    p.set("n", std::int64_t{20});
    p.set("steps", steps);
    p.set("t_min", 1e-2);
    p.set("grid", std::string("uniform"));
    p.set("rho", 7.0);
    p.set("denoise", denoise);
    p.set("init", std::string());
    p.set("record_every", record_every);
    return p;
}

// x <- x / 2 per step, one score call per step; the state counts its steps.
template <bool Levels>
class Halving : public mdlab::GridSampler<Halving<Levels>> {
public:
    using mdlab::GridSampler<Halving<Levels>>::GridSampler;
    static constexpr bool on_levels = Levels;
    struct State {
        State(const Halving&, const mdlab::SamplerRun& run) : s(run.matrix()) {}
        Matrix s;
        std::size_t taken = 0;
    };
    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        CHECK(i == st.taken++);
        run.score(run.x, run.t[i], st.s);
        run.each([&](std::size_t k) { run.x.data()[k] *= 0.5; });
    }
};

template <bool Levels>
mdlab::SampleResult run_halving(mdlab::Context& ctx, std::int64_t steps, std::int64_t record_every, bool denoise) {
    Halving<Levels> sampler(settings(steps, record_every, denoise));
    mdlab::Inputs in;
    in.set("score", std::make_shared<GaussianScore>(mdlab::test::make<mdlab::ForwardProcess>("ve"), 2, 1.0));
    return sampler.sample(in, ctx);
}

}  // namespace

TEST_CASE("the grid base runs the steps from the prior draws, counts score calls and reports progress") {
    RecordingContext ctx(5);
    const auto r = run_halving<false>(ctx, 6, 0, false);
    mdlab::SamplerSettings s(settings(6, 0, false));
    GaussianScore est(mdlab::test::make<mdlab::ForwardProcess>("ve"), 2, 1.0);
    RecordingContext ctx0(5);
    const Matrix x0 = s.initial_points(est, ctx0);
    REQUIRE(mdlab::rows(r.samples) == 20);
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(r.samples.data()[k] == x0.data()[k] / 64.0);
    CHECK(mdlab::test::stat(r, "nfe") == 6.0);
    CHECK(mdlab::test::stat(r, "steps") == 6.0);
    REQUIRE(ctx.fractions.size() == 6);
    CHECK(ctx.fractions.back() == 1.0);

    RecordingContext ctx_d(5);
    CHECK(mdlab::test::stat(run_halving<false>(ctx_d, 6, 0, true), "nfe") == 7.0);  // + the Tweedie step
}

TEST_CASE("the grid base records frames at the grid times, on levels at t_i") {
    for (const bool levels : {false, true}) {
        INFO("on_levels " << levels);
        RecordingContext ctx(5);
        const auto r = levels ? run_halving<true>(ctx, 4, 2, false) : run_halving<false>(ctx, 4, 2, false);
        const std::size_t count = levels ? 5 : 4;
        CHECK(ctx.fractions.size() == count);
        CHECK(mdlab::test::stat(r, "nfe") == double(count));
        const Matrix t = mdlab::npy::read(ctx.output_dir() / (ctx.node_id() + ".trajectory_t.npy"));
        mdlab::SamplerSettings s(settings(4, 2, false));
        const auto grid = s.times(*mdlab::test::make<mdlab::ForwardProcess>("ve"));
        // Frames 0, 2, 4 (and 5 on levels); frame f is at t_f, on levels at t_{f-1}.
        const std::vector<double> want =
            levels ? std::vector<double>{grid[0], grid[1], grid[3], grid[4]} : std::vector<double>{grid[0], grid[2], grid[4]};
        REQUIRE(t.size() == want.size());
        for (std::size_t f = 0; f < want.size(); ++f) CHECK(t.data()[f] == want[f]);
    }
}

TEST_CASE("the grid base stops on cancel") {
    RecordingContext ctx(5);
    ctx.cancel = true;
    CHECK_THROWS_WITH(run_halving<false>(ctx, 4, 0, false), Catch::Contains("cancelled"));
}

TEST_CASE("euler_maruyama_update is x - h (f - g^2 s) + sqrt(g^2 h) z, and the mean without noise") {
    auto vp = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const Matrix x0 = mdlab::test::normal_matrix(300, 3, 9), s = mdlab::test::normal_matrix(300, 3, 10);
    const mdlab::RandomStream noise(4, "noise");
    const double t = 0.4, h = 0.01, rate = vp->drift_rate(t), g2 = vp->g2(t);
    Matrix z = Matrix::from_shape({300, 3}), want_z = Matrix::from_shape({300, 3});
    mdlab::step_noise(noise, 7, want_z);
    for (const bool noisy : {true, false}) {
        INFO("noisy " << noisy);
        Matrix x = x0;
        mdlab::euler_maruyama_update(*vp, t, h, s, noisy ? &noise : nullptr, 7, z, x);
        double worst = 0.0;
        for (std::size_t k = 0; k < x.size(); ++k) {
            const double mean = x0.data()[k] - h * (rate * x0.data()[k] - g2 * s.data()[k]);
            const double want = noisy ? mean + std::sqrt(g2 * h) * want_z.data()[k] : mean;
            worst = std::max(worst, std::abs(x.data()[k] - want));
        }
        CHECK(worst <= 1e-15);
    }
}
