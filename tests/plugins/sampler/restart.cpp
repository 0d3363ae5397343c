// The restart sampler against a transcription of the authors' EDM code (Xu et al. 2023,
// benchmarks/generate_restart.py, fed the same sigmas, initial points and noise), against
// pf_ode_heun without restarts, and against the exact law of Gaussian data.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "edm_checks.hpp"
#include "error_key.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// One restart interval of restart_sampler's restart_info: [N_restart, K, t_min, t_max].
struct RestartInfo {
    std::size_t points, repeats;
    double t_min, t_max;
};

// restart_sampler (S_churn = 0, S_noise = 1) on EDM for every coordinate of x_T, with t_steps
// the main sigmas followed by 0: Heun steps (Euler to 0), and after the step that reaches the
// t_steps entry nearest to t_min, K times: x += randn * sqrt(new[0]^2 - new[-1]^2), then Heun over
// new = get_steps(t_steps[idx], t_max, N_restart, rho). randn of restart k is the noise of step k
// of the child "restart" of the shared stream sampler/noise.
Matrix reference_restart(const TwoPointScore& est, const Matrix& x_T, std::vector<double> t_steps, RestartInfo info,
                         double rho, mdlab::Context& ctx) {
    auto get_steps = [&](double min_t, double max_t, std::size_t num_steps) {
        std::vector<double> t(num_steps);
        for (std::size_t i = 0; i < num_steps; ++i)
            t[i] = std::pow(std::pow(max_t, 1 / rho) +
                                double(i) / double(num_steps - 1) * (std::pow(min_t, 1 / rho) - std::pow(max_t, 1 / rho)),
                            rho);
        return t;
    };
    t_steps.push_back(0.0);
    const std::size_t num_steps = t_steps.size() - 1;
    std::size_t idx = 0;
    for (std::size_t i = 0; i < t_steps.size(); ++i)
        if (std::abs(t_steps[i] - info.t_min) < std::abs(t_steps[idx] - info.t_min)) idx = i;
    std::vector<Matrix> randn(info.repeats, Matrix::from_shape(x_T.shape()));
    for (std::size_t k = 0; k < info.repeats; ++k)
        mdlab::step_noise(ctx.shared_stream("sampler/noise").child("restart"), k, randn[k]);
    auto den = [&](double x, double sigma) { return est.denoise(x, sigma); };
    auto heun = [&](double x, double t_cur, double t_next, bool second_order) {
        return kdiffusion_churn_step(den, x, t_cur, t_next, 0.0, 0.0, second_order);
    };

    Matrix x = x_T;
    for (std::size_t q = 0; q < x.size(); ++q) {
        double xq = x_T.data()[q];
        for (std::size_t i = 0; i < num_steps; ++i) {
            xq = heun(xq, t_steps[i], t_steps[i + 1], i < num_steps - 1);
            if (i + 1 != idx) continue;
            for (std::size_t k = 0; k < info.repeats; ++k) {
                const std::vector<double> nt = get_steps(t_steps[idx], info.t_max, info.points);
                xq = xq + randn[k].data()[q] * std::sqrt(nt.front() * nt.front() - nt.back() * nt.back());
                for (std::size_t j = 0; j + 1 < nt.size(); ++j) xq = heun(xq, nt[j], nt[j + 1], true);
            }
        }
        x.data()[q] = xq;
    }
    return x;
}

}  // namespace

TEST_CASE("restart equals the authors' restart_sampler on EDM", "[restart]") {
    auto proc = make<mdlab::ForwardProcess>("edm");  // sigma_max = 80
    auto est = std::make_shared<TwoPointScore>(proc, 2, 0.8);
    mdlab::test::TestContext ctx(9);
    const Matrix x_T = normal_matrix(10, 2, 43, proc->prior_std());
    const std::string init = write_init(ctx, x_T);
    // The CIFAR-10 EDM setting of benchmarks/params_cifar10_edm.txt, 18 {"0": [3, 2, 0.14, 0.30]},
    // and a wider interval with more repeats. Their 18 sigmas + [0] are our karras grid of 17
    // steps with denoise (the Tweedie step is their Euler step to 0).
    for (const RestartInfo info : {RestartInfo{3, 2, 0.14, 0.30}, RestartInfo{5, 4, 0.59, 1.92}}) {
        INFO("restart [" << info.points << ", " << info.repeats << ", " << info.t_min << ", " << info.t_max << "]");
        const std::vector<double> t = mdlab::time_grid(*proc, "karras", 17, 0.002, 7.0);
        const auto r = run("restart",
                           R"({"steps": 17, "grid": "karras", "t_min": 0.002, "denoise": true, "restart_sigma_min": )" +
                               std::to_string(info.t_min) + R"(, "restart_sigma_max": )" + std::to_string(info.t_max) +
                               R"(, "restarts": )" + std::to_string(info.repeats) + R"(, "restart_steps": )" +
                               std::to_string(info.points - 1) + R"(, "init": )" + init + "}",
                           est, ctx);
        const Matrix ref = reference_restart(*est, x_T, t, info, 7.0, ctx);
        const double diff = max_relative_difference(r.samples, ref);
        WARN("restart vs restart_sampler " << info.points << ", " << info.repeats << ", [" << info.t_min << ", "
                                           << info.t_max << "]: max relative difference " << diff);
        CHECK(diff < 1e-12);
        // 17 Heun steps, K back-integrations of N_restart - 1 Heun steps, the Tweedie step.
        CHECK(stat(r, "nfe") == double(2 * 17 + 2 * info.repeats * (info.points - 1) + 1));
    }
}

TEST_CASE("restart without restarts is pf_ode_heun", "[restart]") {
    for (const char* name : {"edm", "vp"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<TwoPointScore>(proc, 3, 0.6);
        mdlab::test::TestContext ctx(4);
        const std::string init = write_init(ctx, normal_matrix(30, 3, 7, proc->prior_std()));
        for (const char* grid : {"uniform", "karras"}) {
            for (const char* denoise : {"false", "true"}) {
                INFO(name << ", " << grid << ", denoise " << denoise);
                const std::string common = std::string(R"({"steps": 15, "grid": ")") + grid + R"(", "denoise": )" +
                                           denoise + R"(, "init": )" + init;
                const auto ode = run("pf_ode_heun", common + "}", est, ctx);
                const auto r = run("restart", common + R"(, "restarts": 0})", est, ctx);
                CHECK(identical(r.samples, ode.samples));
                CHECK(stat(r, "nfe") == stat(ode, "nfe"));
            }
        }
    }
}

TEST_CASE("restart with the exact Gaussian score samples N(0, s0^2 I)", "[restart]") {
    const double s0 = 0.5;
    for (const char* name : {"edm", "vp", "ve"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 3, s0);
        // The default interval [0.14, 0.30] and a wide one reaching sigma = 5 (20 s0).
        for (const char* interval : {R"("restarts": 2, "restart_steps": 2)",
                                     R"("restart_sigma_min": 0.3, "restart_sigma_max": 5, "restarts": 4, "restart_steps": 6)"}) {
            const auto t0 = std::chrono::steady_clock::now();
            INFO(name << ", " << interval);
            const auto r = run("restart", std::string(R"({"n": 4000, "grid": "karras", "steps": 30, )") + interval + "}",
                               est);
            check_gaussian(r.samples, s0 * s0);
            const auto ode = run("pf_ode_heun", R"({"n": 4000, "grid": "karras", "steps": 30})", est);
            CHECK(max_relative_difference(r.samples, ode.samples) > 0.1);  // the restarts moved the points
            WARN("restart Gaussian law (" << name << ", " << interval << "): nfe " << stat(r, "nfe") << ", "
                                          << seconds_since(t0) << " s");
        }
    }
    // NFE: 2 per main step, 2 per back-integration step and restart, 1 for the Tweedie step.
    auto est = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("vp"), 2, s0);
    const auto r = run("restart", R"({"n": 10, "steps": 20, "restarts": 3, "restart_steps": 5, "denoise": true})", est);
    CHECK(stat(r, "nfe") == 2 * 20 + 2 * 3 * 5 + 1);
    CHECK(stat(r, "steps") == 20);
}

TEST_CASE("restart is the same on 1 and 2 threads, and refuses intervals off the grid", "[restart]") {
    auto proc = make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<TwoPointScore>(proc, 3, 0.6);
    const std::string params = R"({"n": 3000, "steps": 10, "restarts": 2})";
    Matrix one, two;
    {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
        one = run("restart", params, est).samples;
    }
    {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
        two = run("restart", params, est).samples;
    }
    CHECK(identical(one, two));

    CHECK(error_key([] {
              make<mdlab::Sampler>("restart", R"({"restart_sigma_min": 0.5, "restart_sigma_max": 0.5})");
          }) == "restart_sigma_max");
    CHECK(error_key([] { make<mdlab::Sampler>("restart", R"({"restart_steps": 0})"); }) == "restart_steps");
    CHECK(error_key([] { make<mdlab::Sampler>("restart", R"({"restarts": -1})"); }) == "restarts");
    // VE's largest level is sigma_max = 50.
    auto ve = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("ve"), 2, 0.5);
    CHECK(error_key([&] { run("restart", R"({"n": 5, "restart_sigma_min": 1, "restart_sigma_max": 60})", ve); }) ==
          "restart_sigma_max");
    // Two karras steps on EDM: levels 80, 2.2, 0.001; 1.5 snaps to 2.2, above restart_sigma_max = 2.
    auto edm = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("edm"), 2, 0.5);
    CHECK(error_key([&] {
              run("restart", R"({"n": 5, "steps": 2, "grid": "karras", "restart_sigma_min": 1.5, "restart_sigma_max": 2})",
                  edm);
          }) == "restart_sigma_min");
}
