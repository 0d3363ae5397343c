// The restart sampler against a transcription of the authors' EDM code (Xu et al. 2023,
// benchmarks/generate_restart.py, fed the same sigmas, initial points and noise), against
// pf_ode_heun without restarts, and against the exact law of Gaussian data.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

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

// The exact output variance of restart on Gaussian data N(0, s0^2) (per coordinate) on EDM, from
// the prior N(0, T^2): Heun steps on the karras grid (t_min = 1e-3) multiply xh by
// gaussian_step_factor; at the grid level nearest to la, K times: the jump adds lb^2 - la^2, then
// the back-integration's Heun steps. `at_a` receives the variance error at t_a after each restart
// (index 0: before the first).
double restart_variance(const mdlab::ForwardProcess& p, double s0, std::size_t steps, std::size_t K, double la,
                        double lb, std::size_t restart_steps, std::vector<double>& at_a) {
    const std::vector<double> t = mdlab::time_grid(p, "karras", steps, 1e-3, 7.0);
    auto lambda = [&](double time) { return p.sigma(time) / p.alpha(time); };
    std::size_t idx = 1;
    for (std::size_t i = 1; i <= steps; ++i)
        if (std::abs(lambda(t[i]) - la) < std::abs(lambda(t[idx]) - la)) idx = i;
    const double v0 = s0 * s0, l_a = lambda(t[idx]), rho = 7.0;
    std::vector<double> back(restart_steps + 1);
    for (std::size_t j = 0; j <= restart_steps; ++j)
        back[j] = std::pow(std::pow(lb, 1 / rho) + double(j) / double(restart_steps) *
                                                         (std::pow(l_a, 1 / rho) - std::pow(lb, 1 / rho)),
                           rho);
    double v = p.prior_std() * p.prior_std();
    for (std::size_t i = 0; i < steps; ++i) {
        const double f = gaussian_step_factor(v0, lambda(t[i]), lambda(t[i + 1]), true);
        v *= f * f;
        if (i + 1 != idx) continue;
        at_a.push_back(v - (v0 + l_a * l_a));
        for (std::size_t k = 0; k < K; ++k) {
            v += lb * lb - l_a * l_a;
            for (std::size_t j = 0; j < restart_steps; ++j) {
                const double g = gaussian_step_factor(v0, back[j], back[j + 1], true);
                v *= g * g;
            }
            at_a.push_back(v - (v0 + l_a * l_a));
        }
    }
    return v;
}

}  // namespace

TEST_CASE("restart equals the authors' restart_sampler on EDM", "[restart]") {
    EdmTranscription edm;
    // The CIFAR-10 EDM setting of benchmarks/params_cifar10_edm.txt, 18 {"0": [3, 2, 0.14, 0.30]},
    // and a wider interval with more repeats. Their 18 sigmas + [0] are our karras grid of 17
    // steps with denoise (the Tweedie step is their Euler step to 0).
    for (const RestartInfo info : {RestartInfo{3, 2, 0.14, 0.30}, RestartInfo{5, 4, 0.59, 1.92}}) {
        INFO("restart [" << info.points << ", " << info.repeats << ", " << info.t_min << ", " << info.t_max << "]");
        const std::vector<double> t = mdlab::time_grid(*edm.proc, "karras", 17, 0.002, 7.0);
        const auto r = run("restart",
                           R"({"steps": 17, "grid": "karras", "t_min": 0.002, "denoise": true, "restart_sigma_min": )" +
                               std::to_string(info.t_min) + R"(, "restart_sigma_max": )" + std::to_string(info.t_max) +
                               R"(, "restarts": )" + std::to_string(info.repeats) + R"(, "restart_steps": )" +
                               std::to_string(info.points - 1) + R"(, "init": )" + edm.init + "}",
                           edm.est, edm.ctx);
        const Matrix ref = reference_restart(*edm.est, edm.x_T, t, info, 7.0, edm.ctx);
        const double diff = max_relative_difference(r.samples, ref);
        WARN("restart vs restart_sampler " << info.points << ", " << info.repeats << ", [" << info.t_min << ", "
                                           << info.t_max << "]: max relative difference " << diff);
        CHECK(diff < 1e-12);
        // 17 Heun steps, K back-integrations of N_restart - 1 Heun steps, the Tweedie step.
        CHECK(stat(r, "nfe") == double(2 * 17 + 2 * info.repeats * (info.points - 1) + 1));
    }
}

TEST_CASE("restart without restarts is pf_ode_heun", "[restart]") {
    for_each_ode_case([](auto est, mdlab::Context& ctx, const std::string& common) {
        for (const char* denoise : {"false", "true"}) {
            INFO("denoise " << denoise);
            const std::string json = common + R"(, "denoise": )" + denoise;
            check_same_run("restart", json + R"(, "restarts": 0})", "pf_ode_heun", json + "}", est, ctx);
        }
    });
    // A run that stops above the interval (VE at t_min = 0.5: sigma = 0.71 > 0.30) has nothing to restart.
    mdlab::test::TestContext ctx(6);
    check_same_run("restart", R"({"n": 20, "steps": 10, "t_min": 0.5})", "pf_ode_heun",
                   R"({"n": 20, "steps": 10, "t_min": 0.5})",
                   std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("ve"), 3, 0.7), ctx);
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

TEST_CASE("restart contracts the error of a coarse main run (Xu et al. 2023, Theorem 2)", "[restart]") {
    // 8 Heun steps on EDM leave the variance far from s0^2; each restart over [0.13, 5] maps the
    // error at t_a to about (s0^2 + lambda_a^2) / (s0^2 + lambda_b^2) = 1/95 of itself (for this
    // linear flow), down to the back-integration's own error. The sampler's variance is the
    // recursion's, within sampling error.
    const double s0 = 0.5;
    auto proc = make<mdlab::ForwardProcess>("edm");
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    const double exact = est->variance(1e-3);
    std::vector<double> errors;
    for (std::size_t K : {0, 1, 2, 4}) {
        std::vector<double> at_a;
        const double predicted = restart_variance(*proc, s0, 8, K, 0.3, 5.0, 10, at_a);
        INFO(K << " restarts: variance " << predicted << " predicted, exact " << exact);
        const auto r = run("restart",
                           R"({"n": 4000, "grid": "karras", "steps": 8, "restart_sigma_min": 0.3, "restart_sigma_max": 5, )"
                           R"("restart_steps": 10, "restarts": )" + std::to_string(K) + "}",
                           est);
        check_gaussian(r.samples, predicted);
        CHECK(stat(r, "nfe") == double(16 + 20 * K));
        errors.push_back(std::abs(predicted - exact));
        if (K == 2) {
            // The first restart takes the error at t_a from 0.18 to 0.012; the second approaches the fixed point.
            REQUIRE(at_a.size() == 3);
            CHECK(std::abs(at_a[1]) < 0.1 * std::abs(at_a[0]));
            CHECK(std::abs(at_a[2] - at_a[1]) < 0.05 * std::abs(at_a[1] - at_a[0]));
        }
    }
    WARN("restart on 8 main Heun steps (EDM, interval [0.13, 5], 10 back steps): output variance error "
         << errors[0] << " (K = 0, pf_ode_heun), " << errors[1] << " (K = 1), " << errors[2] << " (K = 2), " << errors[3]
         << " (K = 4)");
    CHECK(errors[1] < 0.1 * errors[0]);
    CHECK(errors[2] < errors[1]);
}

TEST_CASE("restart is the same on 1 and 2 threads, and refuses intervals off the grid", "[restart]") {
    auto proc = make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<TwoPointScore>(proc, 3, 0.6);
    check_thread_independent("restart", R"({"n": 3000, "steps": 10, "restarts": 2})", est);

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
