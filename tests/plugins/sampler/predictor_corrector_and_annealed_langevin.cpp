// What predictor_corrector and annealed_langevin share, checked for both in each test case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "langevin_checks.hpp"

TEST_CASE("langevin samplers: init files, denoise, trajectories", "[predictor_corrector][annealed_langevin][init]") {
    auto proc = make_process("ve");
    const double s0 = 0.5;
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    mdlab::test::TestContext ctx(13, "node7");
    const Matrix x0 = normal_matrix(300, 3, 61, proc->prior_std());
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);
    for (const char* name : {"predictor_corrector", "annealed_langevin"}) {
        INFO(name);
        const std::string common = "\"n\": 1000, \"steps\": 10, \"t_min\": 0.05, " + with_init(init);
        const auto a = run(name, "{" + common + "}", est, ctx);
        const auto b = run(name, "{" + common + "}", est, ctx);
        const auto prior = run(name, R"({"n": 300, "steps": 10, "t_min": 0.05})", est, ctx);
        REQUIRE(mdlab::rows(a.samples) == 300);  // the file's rows, not n
        CHECK(identical(a.samples, b.samples));
        CHECK(!identical(a.samples, prior.samples));

        // denoise: the Tweedie factor of the Gaussian at t_min on the same run, one more evaluation.
        const auto den = run(name, "{" + common + ", \"denoise\": true}", est, ctx);
        const double factor = est->denoise_factor(0.05);
        for (std::size_t k = 0; k < a.samples.size(); ++k)
            CHECK(den.samples.data()[k] == Approx(factor * a.samples.data()[k]).epsilon(1e-12));
        CHECK(stat(den, "nfe") == stat(a, "nfe") + 1);

        // record_every = 3: frames at steps 0, 3, 6, 9 and the last one, each n x D.
        const auto rec = run(name, "{" + common + ", \"record_every\": 3}", est, ctx);
        CHECK(identical(rec.samples, a.samples));
        const NpyArray traj = read_npy(ctx.output_dir() / "node7.trajectory.npy");
        const NpyArray times = read_npy(ctx.output_dir() / "node7.trajectory_t.npy");
        REQUIRE(traj.shape == std::vector<std::size_t>{5, 300, 3});
        REQUIRE(times.shape == std::vector<std::size_t>{5});
        CHECK(std::equal(x0.data(), x0.data() + x0.size(), traj.values.begin()));
        CHECK(std::equal(a.samples.data(), a.samples.data() + a.samples.size(), traj.values.end() - 900));
        CHECK(times.values.front() == proc->t_end());
        CHECK(times.values.back() == 0.05);
        for (std::size_t f = 1; f < 5; ++f) CHECK(times.values[f] <= times.values[f - 1]);
    }
}

TEST_CASE("langevin samplers give identical results with 1 and 2 threads",
          "[predictor_corrector][annealed_langevin][threads]") {
    auto proc = make_process("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 71));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    for (const char* sampler : {"predictor_corrector", "annealed_langevin"}) {
        INFO(sampler);
        mdlab::SampleResult one, two;
        const bool pc = std::string(sampler) == "predictor_corrector";
        // 1200 rows: five noise chunks and two chunks of the corrector's ordered norm sums.
        const std::string params = R"({"n": 1200, "steps": 20, "langevin_steps": 2, "denoise": true})";
        const std::string p = pc ? R"({"n": 1200, "steps": 20, "denoise": true})" : params;
        tbb::task_arena(1).execute([&] { one = run(sampler, p, est, 21); });
        tbb::task_arena(2).execute([&] { two = run(sampler, p, est, 21); });
        CHECK(identical(one.samples, two.samples));
    }
}

TEST_CASE("langevin samplers report progress, honour cancellation and catch divergence",
          "[predictor_corrector][annealed_langevin]") {
    auto proc = make_process("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    struct S {
        const char* name;
        std::size_t reports;  // progress reports for 10 steps: per step, or per noise level (11)
    };
    for (const S& sm : {S{"predictor_corrector", 10}, S{"annealed_langevin", 11}}) {
        INFO(sm.name);
        RecordingContext ctx(3);
        run(sm.name, R"({"n": 10, "steps": 10})", est, ctx);
        REQUIRE(ctx.fractions.size() == sm.reports);
        for (std::size_t i = 0; i < sm.reports; ++i) CHECK(ctx.fractions[i] == Approx(double(i + 1) / sm.reports));

        RecordingContext stop(3);
        stop.cancel = true;
        CHECK_THROWS_WITH(run(sm.name, R"({"n": 10, "steps": 10})", est, stop), Contains("cancelled"));
        CHECK_THROWS_WITH(run(sm.name, R"({"n": 10, "steps": 10})", broken), Contains("diverged"));
    }
    // Parameter ranges.
    CHECK_THROWS(run("predictor_corrector", R"({"snr": 0})", est));
    CHECK_THROWS(run("predictor_corrector", R"({"corrector_steps": -1})", est));
    CHECK_THROWS(run("annealed_langevin", R"({"langevin_steps": 0})", est));
    CHECK_THROWS(run("annealed_langevin", R"({"epsilon": 0})", est));
}
