// The pf_ode_heun sampler against the exact probability-flow map and k-diffusion's sample_heun.
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

using namespace mdlab::test;
using mdlab::Matrix;

TEST_CASE("pf_ode_heun with the exact Gaussian score samples N(0, s0^2 I) (VP and VE)", "[pf_ode_heun]") {
    const double s0 = 0.5;
    for (const char* name : {"vp", "ve"}) {
        for (const char* grid : {"uniform", "karras"}) {
            const auto t0 = std::chrono::steady_clock::now();
            INFO("process " << name << ", grid " << grid);
            auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
            auto est = std::make_shared<GaussianScore>(proc, 3, s0);
            const auto r = run("pf_ode_heun", std::string(R"({"n": 4000, "steps": 40, "grid": ")") + grid + "\"}", est);
            REQUIRE(mdlab::rows(r.samples) == 4000);
            check_gaussian(r.samples, s0 * s0);
            CHECK(stat(r, "nfe") == 80);
            CHECK(stat(r, "steps") == 40);
            WARN("pf_ode_heun Gaussian test (" << name << ", " << grid << "): " << seconds_since(t0) << " s");
        }
    }
    // Stopped early, the PF-ODE (same marginals as the SDE) gives p_{t_min} = N(0, (alpha^2 s0^2 + sigma^2) I).
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    const auto r = run("pf_ode_heun", R"({"n": 4000, "steps": 40, "t_min": 0.3})", est);
    INFO("stopped at t = 0.3: alpha = " << proc->alpha(0.3) << ", target variance " << est->variance(0.3));
    check_gaussian(r.samples, est->variance(0.3));
}

TEST_CASE("pf_ode_heun converges to the exact flow with order 2", "[pf_ode_heun][convergence]") {
    const double s0 = 0.5, t_min = 1e-3;
    for (const char* name : {"vp", "ve"}) {
        for (const char* grid : {"uniform", "karras"}) {
            auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
            auto est = std::make_shared<GaussianScore>(proc, 2, s0);
            mdlab::test::TestContext ctx(5);
            const Matrix x_T = normal_matrix(64, 2, 41, proc->prior_std());
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, x_T);
            // Exact PF-ODE map for Gaussian data: x(t_min) = x(T) sqrt(var(t_min) / var(T)).
            const Matrix exact = x_T * std::sqrt(est->variance(t_min) / est->variance(proc->t_end()));

            std::vector<double> errors;
            std::string ratios;
            for (int steps : {8, 16, 32, 64, 128}) {
                const auto r = run("pf_ode_heun",
                                   "{\"steps\": " + std::to_string(steps) + ", \"grid\": \"" + grid +
                                       "\", \"init\": \"" + init.string() + "\"}",
                                   est, ctx);
                double err = 0.0, scale = 0.0;
                for (std::size_t k = 0; k < exact.size(); ++k) {
                    err = std::max(err, std::abs(r.samples.data()[k] - exact.data()[k]));
                    scale = std::max(scale, std::abs(exact.data()[k]));
                }
                errors.push_back(err / scale);
            }
            // Least-squares slope of log(error) against log(step size) and the successive ratios.
            double sx = 0, sy = 0, sxx = 0, sxy = 0;
            const std::size_t m = errors.size();
            for (std::size_t i = 0; i < m; ++i) {
                const double lx = -std::log(8.0 * std::pow(2.0, double(i))), ly = std::log(errors[i]);
                sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
            }
            const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
            for (std::size_t i = 0; i + 1 < m; ++i) ratios += std::to_string(errors[i] / errors[i + 1]) + " ";
            INFO(name << " / " << grid << ": errors " << errors.front() << " .. " << errors.back()
                      << ", ratios " << ratios << ", fitted order " << slope);
            WARN(name << " / " << grid << ": relative errors " << errors.front() << " (8 steps) .. "
                      << errors.back() << " (128 steps), ratios " << ratios << ", fitted order " << slope);
            CHECK(slope == Approx(2.0).margin(0.25));
            // The last halvings are in the asymptotic regime.
            for (std::size_t i = m - 3; i + 1 < m; ++i) {
                CHECK(errors[i] / errors[i + 1] >= 3.2);
                CHECK(errors[i] / errors[i + 1] <= 4.8);
            }
        }
    }
}

TEST_CASE("pf_ode_heun on VE is k-diffusion's sample_heun without churn", "[pf_ode_heun]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("ve");
    const double s0 = 0.7, t_min = 2e-3;
    const std::size_t steps = 12;
    auto est = std::make_shared<GaussianScore>(proc, 2, s0);
    mdlab::test::TestContext ctx(9);
    const Matrix x_T = normal_matrix(10, 2, 43, proc->prior_std());
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x_T);
    const auto r = run("pf_ode_heun",
                       R"({"steps": 12, "grid": "karras", "t_min": 0.002, "init": ")" + init.string() + "\"}",
                       est, ctx);

    // k_diffusion.sampling.sample_heun (s_churn = 0) with sigmas from the same grid and the
    // Gaussian denoiser D(x, sigma) = s0^2 x / (s0^2 + sigma^2).
    const std::vector<double> t = mdlab::time_grid(*proc, "karras", steps, t_min, 7.0);
    auto denoiser = [&](double x, double sigma) { return s0 * s0 * x / (s0 * s0 + sigma * sigma); };
    for (std::size_t k = 0; k < x_T.size(); ++k) {
        double x = x_T.data()[k];
        for (std::size_t i = 0; i < steps; ++i) {
            const double sig = proc->sigma(t[i]), sig_next = proc->sigma(t[i + 1]);
            const double dd = (x - denoiser(x, sig)) / sig;
            const double dt = sig_next - sig;
            const double x2 = x + dd * dt;
            const double d2 = (x2 - denoiser(x2, sig_next)) / sig_next;
            x = x + (dd + d2) / 2 * dt;
        }
        CHECK(r.samples.data()[k] == Approx(x).epsilon(1e-12));
    }
}
