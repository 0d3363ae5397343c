// What euler_maruyama and pf_ode_heun share, checked for both in each test case: init files,
// denoising, thread independence, progress and cancellation, trajectories.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "raw_npy.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

TEST_CASE("samplers start from a .npy init file", "[euler_maruyama][pf_ode_heun][init]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const double s0 = 0.5;
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    mdlab::test::TestContext ctx(13);
    const Matrix x0 = normal_matrix(300, 3, 61);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);
    const std::string with_init = "\"init\": \"" + init.string() + "\"";

    // Two runs from the file are identical, have the file's row count (not n), and differ from
    // a run from prior draws.
    const auto a = run("euler_maruyama", "{\"n\": 1000, \"steps\": 50, " + with_init + "}", est, ctx);
    const auto b = run("euler_maruyama", "{\"n\": 1000, \"steps\": 50, " + with_init + "}", est, ctx);
    const auto prior = run("euler_maruyama", R"({"n": 300, "steps": 50})", est, ctx);
    REQUIRE(mdlab::rows(a.samples) == 300);
    CHECK(identical(a.samples, b.samples));
    CHECK(!identical(a.samples, prior.samples));

    // One step is the noise-free last step: x1 = x0 - h (f(x0, T) - g^2(T) s(x0, T)), from the file's points.
    const auto one = run("euler_maruyama", "{\"steps\": 1, \"t_min\": 0.5, " + with_init + "}", est, ctx);
    const double T = proc->t_end(), h = T - 0.5;
    const double factor = 1.0 - h * (proc->drift_rate(T) + proc->g2(T) / est->variance(T));
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(one.samples.data()[k] == Approx(factor * x0.data()[k]).epsilon(1e-13));

    // pf_ode_heun reads it too: deterministic, so identical runs and the file's points are used.
    const auto h1 = run("pf_ode_heun", "{\"steps\": 200, " + with_init + "}", est, ctx);
    const auto h2 = run("pf_ode_heun", "{\"steps\": 200, " + with_init + "}", est, ctx);
    REQUIRE(mdlab::rows(h1.samples) == 300);
    CHECK(identical(h1.samples, h2.samples));
    const double ratio = std::sqrt(est->variance(1e-3) / est->variance(T));
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(h1.samples.data()[k] == Approx(ratio * x0.data()[k]).epsilon(1e-3));

    // A file of the wrong dimension is refused.
    const auto bad = ctx.output_dir() / "bad.npy";
    mdlab::npy::write(bad, normal_matrix(5, 2, 62));
    CHECK_THROWS_AS(run("euler_maruyama", "{\"init\": \"" + bad.string() + "\"}", est, ctx), mdlab::InputError);
}

TEST_CASE("denoise applies the Tweedie step at t_min", "[euler_maruyama][pf_ode_heun][denoise]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const double t_min = 0.05;
    const double factor = est->denoise_factor(t_min);
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        const std::string common = R"("n": 500, "steps": 30, "t_min": 0.05)";
        const auto plain = run(sampler, "{" + common + "}", est);
        const auto den = run(sampler, "{" + common + R"(, "denoise": true})", est);
        const double per_step = std::string(sampler) == "pf_ode_heun" ? 2.0 : 1.0;
        CHECK(stat(plain, "nfe") == per_step * 30);
        CHECK(stat(den, "nfe") == per_step * 30 + 1);
        for (std::size_t k = 0; k < plain.samples.size(); ++k)
            CHECK(den.samples.data()[k] == Approx(factor * plain.samples.data()[k]).epsilon(1e-12));
    }
}

TEST_CASE("samplers give identical results with 1 and 2 threads", "[euler_maruyama][pf_ode_heun][threads]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 71));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        mdlab::SampleResult one, two;
        const std::string params = R"({"n": 2000, "steps": 40, "denoise": true})";
        tbb::task_arena(1).execute([&] { one = run(sampler, params, est, 21); });
        tbb::task_arena(2).execute([&] { two = run(sampler, params, est, 21); });
        CHECK(identical(one.samples, two.samples));
    }
}

TEST_CASE("samplers report progress, honour cancellation and catch divergence", "[euler_maruyama][pf_ode_heun]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        RecordingContext ctx(3);
        run(sampler, R"({"n": 10, "steps": 10})", est, ctx);
        REQUIRE(ctx.fractions.size() == 10);
        for (std::size_t i = 0; i < 10; ++i) CHECK(ctx.fractions[i] == Approx(double(i + 1) / 10.0));

        RecordingContext stop(3);
        stop.cancel = true;
        CHECK_THROWS_WITH(run(sampler, R"({"n": 10, "steps": 10})", est, stop), Contains("cancelled"));

        CHECK_THROWS_WITH(run(sampler, R"({"n": 10, "steps": 10})", broken), Contains("diverged"));
    }
}


TEST_CASE("record_every writes the trajectory (frames x n x D) and its times", "[euler_maruyama][pf_ode_heun][trajectory]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const std::size_t n = 7, d = 2, steps = 10;
    const double t_min = 0.01;
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, t_min);
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        mdlab::test::TestContext ctx(17, "node7");
        const Matrix x0 = normal_matrix(n, d, 81);
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto traj = ctx.output_dir() / "node7.trajectory.npy";
        const auto traj_t = ctx.output_dir() / "node7.trajectory_t.npy";
        const std::string common = "\"steps\": 10, \"t_min\": 0.01, \"init\": \"" + init.string() + "\"";

        // Off by default: no file.
        run(sampler, "{" + common + "}", est, ctx);
        CHECK(!std::filesystem::exists(traj));

        // Every 3 steps: frames at steps 0, 3, 6, 9 and the last step 10.
        const auto r = run(sampler, "{" + common + ", \"record_every\": 3}", est, ctx);
        const RawNpy frames = read_raw_npy(traj);
        const std::vector<std::size_t> at{0, 3, 6, 9, 10};
        REQUIRE(frames.shape == std::vector<std::size_t>{at.size(), n, d});
        const Matrix times = mdlab::npy::read(traj_t);
        REQUIRE(mdlab::rows(times) == at.size());
        for (std::size_t f = 0; f < at.size(); ++f) CHECK(times(f, 0) == t[at[f]]);
        // First frame: the init file; last frame: the output.
        for (std::size_t k = 0; k < n * d; ++k) {
            CHECK(frames.data[k] == x0.data()[k]);
            CHECK(frames.data[(at.size() - 1) * n * d + k] == r.samples.data()[k]);
        }
        // pf_ode_heun is deterministic: frame f is the state of a run of at[f] steps to t[at[f]]
        // on the same (uniform) grid.
        if (std::string(sampler) == "pf_ode_heun") {
            for (std::size_t f = 1; f + 1 < at.size(); ++f) {
                std::ostringstream p;
                p.precision(17);
                p << "{\"steps\": " << at[f] << ", \"t_min\": " << t[at[f]] << ", \"init\": \"" << init.string() << "\"}";
                const auto part = run(sampler, p.str(), est, ctx);
                for (std::size_t k = 0; k < n * d; ++k)
                    CHECK(frames.data[f * n * d + k] == Approx(part.samples.data()[k]).epsilon(1e-11));
            }
        }
        // With denoise, the frames stay on the grid: the last frame is the state before D(x, t_min).
        const auto den = run(sampler, "{" + common + ", \"record_every\": 3, \"denoise\": true}", est, ctx);
        const RawNpy frames2 = read_raw_npy(traj);
        REQUIRE(frames2.shape == frames.shape);
        for (std::size_t k = 0; k < n * d; ++k)
            CHECK(den.samples.data()[k] ==
                  Approx(est->denoise_factor(t_min) * frames2.data[(at.size() - 1) * n * d + k]).epsilon(1e-12));

        // record_every beyond the step count: the first and the last state only.
        run(sampler, "{" + common + ", \"record_every\": 50}", est, ctx);
        CHECK(read_raw_npy(traj).shape == std::vector<std::size_t>{2, n, d});
    }
}
