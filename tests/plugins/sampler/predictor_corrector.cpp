// The predictor_corrector sampler: the exact variance on Gaussian data and score_sde's PC sampler.
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

TEST_CASE("predictor_corrector with the exact Gaussian score samples N(0, s0^2 I) (VP and VE)",
          "[predictor_corrector]") {
    const double s0 = 0.5, snr = 0.16;
    const std::size_t n = 4000, d = 3, steps = 500;
    for (const char* name : {"vp", "ve"}) {
        const auto t0 = std::chrono::steady_clock::now();
        INFO("process " << name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
        const double V = pc_variance(*proc, *est, t, snr, 1, std::pow(proc->prior_std(), 2));
        // The Langevin corrector with an exact score is stationary at v (1 + snr^2), not v (the
        // unadjusted-Langevin bias of score_sde's step-size rule), and the sampler stops at
        // v(t_min), not s0^2: the scheme's bias stays within these two (plus 5% for the predictor).
        const double bias = std::abs(V - s0 * s0), vt = est->variance(1e-3);
        INFO("variance of the discrete scheme " << V << ", target " << s0 * s0 << ", bias " << bias
                                                << " = " << bias / se_var(s0 * s0, n) << " standard errors");
        REQUIRE(bias <= std::abs(vt - s0 * s0) + 1.05 * snr * snr * vt);

        const auto r = run("predictor_corrector", R"({"n": 4000, "steps": 500})", est);
        REQUIRE(mdlab::rows(r.samples) == n);
        REQUIRE(mdlab::cols(r.samples) == d);
        check_gaussian(r.samples, s0 * s0, bias);
        check_gaussian(r.samples, V);  // the scheme's exact variance: Monte Carlo error only
        CHECK(stat(r, "nfe") == 2 * steps);
        CHECK(stat(r, "steps") == steps);
        WARN("predictor_corrector on " << name << ": scheme variance " << V << " vs s0^2 = " << s0 * s0 << " ("
                                       << bias / se_var(s0 * s0, n) << " SE), " << seconds_since(t0) << " s");
    }
}

TEST_CASE("predictor_corrector samples the Gaussian under subvp, cosine, ou and edm",
          "[predictor_corrector][catalogue]") {
    const double s0 = 0.5, snr = 0.16;
    const std::size_t n = 4000, d = 2;
    struct Run {
        const char* process;
        const char* grid;
    };
    for (const Run& c : {Run{"subvp", "uniform"}, Run{"cosine", "uniform"}, Run{"ou", "log_snr"}, Run{"edm", "karras"}}) {
        INFO(c.process << " on the " << c.grid << " grid");
        auto proc = make_process(c.process);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::vector<double> t = mdlab::time_grid(*proc, c.grid, 500, 1e-3);
        const double V = pc_variance(*proc, *est, t, snr, 1, std::pow(proc->prior_std(), 2));
        const double bias = std::abs(V - s0 * s0);
        WARN("predictor_corrector on " << c.process << " (" << c.grid << "): scheme variance " << V << " ("
                                       << bias / se_var(s0 * s0, n) << " SE from s0^2)");
        REQUIRE(bias <= 2.0 * snr * snr * s0 * s0);
        const auto r = run("predictor_corrector",
                           std::string(R"({"n": 4000, "steps": 500, "grid": ")") + c.grid + "\"}", est);
        check_gaussian(r.samples, V);
        check_gaussian(r.samples, s0 * s0, bias);
    }
}

TEST_CASE("the Langevin corrector alone converges to the noised marginal at fixed t", "[predictor_corrector]") {
    // One predictor step over a tiny interval [T - 1e-9 T, T]: the output is the corrector chain at
    // t = T after `corrector_steps` updates, times the (exactly known) noise-free predictor factor m.
    const double s0 = 0.5, snr = 0.1;
    const std::size_t n = 4000, d = 2, K = 600;
    for (const char* name : {"vp", "ve"}) {
        auto proc = make_process(name, R"({"t_end": 0.3})");
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const double T = proc->t_end(), t_min = T * (1.0 - 1e-9), v = est->variance(T);
        const double m = 1.0 - (T - t_min) * (proc->drift_rate(T) + proc->g2(T) / v);
        mdlab::test::TestContext ctx(17);
        for (double start : {4.0, 0.25}) {
            INFO(name << ": start variance " << start << " v, v(T) = " << v);
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, normal_matrix(n, d, 91, std::sqrt(start * v)));
            const auto r = run("predictor_corrector",
                               "{\"steps\": 1, \"snr\": 0.1, \"corrector_steps\": 600, \"t_min\": " +
                                   exact(t_min) + ", " + with_init(init) + "}",
                               est, ctx);
            CHECK(stat(r, "nfe") == K + 1);
            const Matrix chain = r.samples / m;
            // Stationary variance of the chain: v (1 + snr^2) (the step-size bias, 1% here);
            // the memory of the start has decayed far below the Monte Carlo error.
            const double V = pc_variance(*proc, *est, {T, t_min}, snr, K, start * v) / (m * m);
            INFO("predicted chain variance " << V << ", stationary v (1 + snr^2) = " << v * (1 + snr * snr));
            CHECK(std::abs(V - v * (1 + snr * snr)) <= 0.01 * se_var(v, n));
            check_gaussian(chain, v, snr * snr * v);
            check_gaussian(chain, v * (1 + snr * snr));
        }
    }
}

TEST_CASE("predictor_corrector is score_sde's PC sampler (transcription with the same noise)",
          "[predictor_corrector][reference]") {
    // get_pc_sampler with EulerMaruyamaPredictor and LangevinCorrector, written out with plain loops
    // on our time grid; alpha = alpha(t_i)^2 / alpha(t_{i+1})^2 stands for score_sde's VP alphas[timestep].
    const double s0 = 0.8, snr = 0.16;
    const std::size_t n = 600, d = 3, steps = 20, K = 2;  // 600 rows: three noise chunks
    for (const char* name : {"vp", "subvp", "ve"}) {
        INFO(name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::uint64_t seed = 29;
        mdlab::test::TestContext ctx(seed);
        const Matrix x0 = normal_matrix(n, d, 93, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto r = run("predictor_corrector",
                           "{\"steps\": 20, \"corrector_steps\": 2, \"t_min\": 0.01, " + with_init(init) + "}", est,
                           ctx);

        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 0.01);
        const mdlab::RandomStream pred_noise(seed, "shared/sampler/noise"),
            corr_noise(seed, "shared/sampler/corrector_noise");
        std::vector<double> x(x0.data(), x0.data() + x0.size()), x_mean(x.size());
        Matrix xm, grad;
        for (std::size_t i = 0; i < steps; ++i) {
            const double ti = t[i], dt = t[i + 1] - t[i];  // dt < 0
            const double alpha = std::pow(proc->alpha(ti) / proc->alpha(t[i + 1]), 2);
            for (std::size_t j = 0; j < K; ++j) {  // LangevinCorrector.update_fn
                xm = Matrix::from_shape({n, d});
                std::copy(x.begin(), x.end(), xm.data());
                est->score(xm, ti, grad);
                const std::vector<double> g(grad.data(), grad.data() + grad.size());
                const std::vector<double> noise = noise_of(corr_noise, i * K + j, n, d);
                const double grad_norm = mean_norm(g, n, d), noise_norm = mean_norm(noise, n, d);
                const double step_size = std::pow(snr * noise_norm / grad_norm, 2) * 2 * alpha;
                for (std::size_t k = 0; k < x.size(); ++k) {
                    x_mean[k] = x[k] + step_size * g[k];
                    x[k] = x_mean[k] + std::sqrt(step_size * 2) * noise[k];
                }
            }
            // EulerMaruyamaPredictor.update_fn on the reverse SDE: drift = f - g^2 s.
            xm = Matrix::from_shape({n, d});
            std::copy(x.begin(), x.end(), xm.data());
            est->score(xm, ti, grad);
            const double g2 = proc->g2(ti), f_rate = proc->drift_rate(ti);
            const bool last = i + 1 == steps;
            const std::vector<double> z = last ? std::vector<double>(x.size(), 0.0) : noise_of(pred_noise, i, n, d);
            for (std::size_t k = 0; k < x.size(); ++k) {
                x_mean[k] = x[k] + (f_rate * x[k] - g2 * grad.data()[k]) * dt;
                x[k] = x_mean[k] + std::sqrt(g2) * std::sqrt(-dt) * z[k];
            }
        }
        // The last step's mean is returned (score_sde's noise removal); here x == x_mean.
        const double diff = max_rel_diff(r.samples, x_mean);
        INFO("max relative difference " << diff);
        CHECK(diff <= 1e-12);
        CHECK(stat(r, "nfe") == steps * (K + 1));
    }

    // The VP factor against score_sde's alphas[timestep] = 1 - beta(t_i) / N on its uniform grid:
    // alpha(t_i)^2 / alpha(t_{i+1})^2 = exp(-int beta) = 1 - beta h + (beta' + beta^2) h^2 / 2 + O(h^3).
    auto vp = make_process("vp");
    const std::size_t N = 1000;
    const std::vector<double> t = mdlab::time_grid(*vp, "uniform", N, 1e-3);
    for (std::size_t i = 0; i < N; i += 37) {
        const double h = t[i] - t[i + 1], beta = 0.1 + 19.9 * t[i];
        const double a = std::pow(vp->alpha(t[i]) / vp->alpha(t[i + 1]), 2);
        CHECK(std::abs(a - (1.0 - beta * h)) <= (19.9 + beta * beta) * h * h);
        CHECK(a > 0.0);
        CHECK(a < 1.0);
    }
}

TEST_CASE("predictor_corrector with corrector_steps = 0 is euler_maruyama", "[predictor_corrector]") {
    auto proc = make_process("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const std::string params = R"({"n": 700, "steps": 40, "t_min": 0.01)";
    const auto pc = run("predictor_corrector", params + R"(, "corrector_steps": 0})", est, 5);
    const auto em = run("euler_maruyama", params + "}", est, 5);
    CHECK(identical(pc.samples, em.samples));
    CHECK(stat(pc, "nfe") == 40);
    // With the corrector on, the output differs.
    CHECK(!identical(run("predictor_corrector", params + "}", est, 5).samples, em.samples));
}
