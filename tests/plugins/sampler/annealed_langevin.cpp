// The annealed_langevin sampler: the exact variance on Gaussian data and Song and Ermon's Algorithm 1.
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

TEST_CASE("annealed_langevin with the exact Gaussian score samples N(0, s0^2 I) (VE)", "[annealed_langevin]") {
    const auto t0 = std::chrono::steady_clock::now();
    const double s0 = 0.5, epsilon = 1e-4;
    const std::size_t n = 4000, d = 2, steps = 200, K = 20;
    auto proc = make_process("ve");
    auto est = std::make_shared<GaussianScore>(proc, d, s0);
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
    const double V = al_variance(*proc, *est, t, K, epsilon, std::pow(proc->prior_std(), 2));
    const double bias = std::abs(V - s0 * s0);
    INFO("variance of the discrete scheme " << V << ", target " << s0 * s0);
    REQUIRE(bias <= 0.5 * se_var(s0 * s0, n));
    const auto r = run("annealed_langevin", R"({"n": 4000, "steps": 200, "langevin_steps": 20, "epsilon": 1e-4})", est);
    REQUIRE(mdlab::rows(r.samples) == n);
    check_gaussian(r.samples, s0 * s0, bias);
    check_gaussian(r.samples, V);
    CHECK(stat(r, "nfe") == (steps + 1) * K);
    CHECK(stat(r, "steps") == steps);

    // The paper's settings (epsilon = 2e-5 for sigma_min = 0.01) with too few updates per level
    // leave the variance visibly high; the recursion predicts by how much and the samples agree.
    const std::vector<double> t100 = mdlab::time_grid(*proc, "uniform", 100, 1e-3);
    const double V_short = al_variance(*proc, *est, t100, 10, 2e-5, std::pow(proc->prior_std(), 2));
    const auto short_run = run("annealed_langevin", R"({"n": 4000})", est);
    INFO("defaults (101 levels x 10 updates): predicted variance " << V_short);
    REQUIRE(V_short - s0 * s0 >= 3.0 * se_var(s0 * s0, n));
    check_gaussian(short_run.samples, V_short);
    CHECK(stat(short_run, "nfe") == 1010);
    WARN("annealed_langevin: scheme variance " << V << " (" << bias / se_var(s0 * s0, n) << " SE from s0^2); at the "
                                               << "defaults " << V_short << "; " << seconds_since(t0) << " s");
}

TEST_CASE("annealed_langevin is Song and Ermon's Algorithm 1 (transcription with the same noise)",
          "[annealed_langevin][reference]") {
    const double s0 = 0.7, epsilon = 2e-5;
    const std::size_t n = 520, d = 2, steps = 6, K = 4;
    for (const char* name : {"ve", "vp"}) {
        INFO(name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::uint64_t seed = 31;
        mdlab::test::TestContext ctx(seed);
        const Matrix x0 = normal_matrix(n, d, 95, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto r = run("annealed_langevin", "{\"steps\": 6, \"langevin_steps\": 4, " + with_init(init) + "}", est, ctx);

        // for i = 1..L: alpha_i = eps sigma_i^2 / sigma_L^2; for t = 1..T: x += alpha_i/2 s(x, sigma_i) + sqrt(alpha_i) z.
        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
        const mdlab::RandomStream noise(seed, "shared/sampler/noise");
        const double sigma_L = proc->sigma(t.back());
        Matrix x = x0, s;
        for (std::size_t i = 0; i <= steps; ++i) {
            const double alpha_i = epsilon * proc->sigma(t[i]) * proc->sigma(t[i]) / (sigma_L * sigma_L);
            for (std::size_t k = 0; k < K; ++k) {
                const bool last = i == steps && k + 1 == K;  // the final update returns its mean
                const std::vector<double> z = last ? std::vector<double>(n * d, 0.0) : noise_of(noise, i * K + k, n, d);
                est->score(x, t[i], s);
                for (std::size_t q = 0; q < n * d; ++q)
                    x.data()[q] = x.data()[q] + alpha_i / 2 * s.data()[q] + std::sqrt(alpha_i) * z[q];
            }
        }
        const double diff = max_rel_diff(r.samples, std::vector<double>(x.data(), x.data() + x.size()));
        INFO("max relative difference " << diff);
        CHECK(diff <= 1e-13);
        CHECK(stat(r, "nfe") == (steps + 1) * K);
    }
}
