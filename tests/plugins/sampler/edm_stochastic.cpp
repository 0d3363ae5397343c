// The edm_stochastic sampler against k-diffusion's sample_euler / sample_heun with churn
// (transcribed below, fed the same sigmas, initial points and noise), against pf_ode_euler /
// pf_ode_heun without churn, and against the exact law of Gaussian data.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "edm_checks.hpp"
#include "error_key.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// k_diffusion.sampling.sample_euler / sample_heun (s_churn, s_tmin, s_tmax, s_noise) on EDM
// (alpha = 1, time = sigma) for every coordinate of x_T; step i's eps is randn * s_noise with
// randn the step's noise of the shared stream sampler/noise.
Matrix kdiffusion_sample(const TwoPointScore& est, const Matrix& x_T, const std::vector<double>& sigmas, double s_churn,
                         double s_tmin, double s_tmax, double s_noise, bool heun, mdlab::Context& ctx) {
    const std::size_t steps = sigmas.size() - 1;  // len(sigmas) - 1
    std::vector<Matrix> randn(steps, Matrix::from_shape(x_T.shape()));
    for (std::size_t i = 0; i < steps; ++i) mdlab::step_noise(ctx.shared_stream("sampler/noise"), i, randn[i]);
    auto den = [&](double x, double sigma) { return est.denoise(x, sigma); };
    Matrix x = x_T;
    for (std::size_t k = 0; k < x.size(); ++k) {
        double xk = x_T.data()[k];
        for (std::size_t i = 0; i < steps; ++i) {
            const double gamma = (s_tmin <= sigmas[i] && sigmas[i] <= s_tmax)
                                     ? std::min(s_churn / double(steps), std::sqrt(2.0) - 1.0)
                                     : 0.0;
            xk = kdiffusion_churn_step(den, xk, sigmas[i], sigmas[i + 1], gamma, randn[i].data()[k] * s_noise, heun);
        }
        x.data()[k] = xk;
    }
    return x;
}

// Karras's sigmas from smax down to smin (n of them), then 0: k-diffusion's get_sigmas_karras.
std::vector<double> karras_sigmas(std::size_t n, double smin, double smax, double rho = 7.0) {
    std::vector<double> s(n + 1, 0.0);
    const double hi = std::pow(smax, 1.0 / rho), lo = std::pow(smin, 1.0 / rho);
    for (std::size_t i = 0; i < n; ++i) s[i] = std::pow(hi + double(i) / double(n - 1) * (lo - hi), rho);
    return s;
}

std::string number_list(const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", v[i]);
        s += (i ? ", " : "") + std::string(buf);
    }
    return s + "]";
}

// The churn settings of a run.
struct Churn {
    double s_churn, s_tmin, s_tmax;
    std::string json() const {
        return "\"s_churn\": " + std::to_string(s_churn) + ", \"s_tmin\": " + std::to_string(s_tmin) +
               ", \"s_tmax\": " + (std::isinf(s_tmax) ? std::string("\"inf\"") : std::to_string(s_tmax));
    }
};

// The exact output variance of Algorithm 2 on Gaussian data N(0, s0^2) (per coordinate), karras
// grid with `steps`, t_min = 1e-3, prior draws: in xh = x / alpha the churn adds
// (lambda_hat^2 - lambda^2) to the variance and the ODE step from lambda_hat multiplies xh by
// gaussian_step_factor.
double churned_variance(const mdlab::ForwardProcess& p, double s0, int steps, bool heun, const Churn& c) {
    const std::vector<double> t = mdlab::time_grid(p, "karras", std::size_t(steps), 1e-3, 7.0);
    auto lambda = [&](double time) { return p.sigma(time) / p.alpha(time); };
    const double lambda_end = lambda(p.t_end()), v0 = s0 * s0;
    const double gamma = std::min(c.s_churn / double(steps), std::sqrt(2.0) - 1.0);
    double v = p.prior_std() * p.prior_std() / (p.alpha(t[0]) * p.alpha(t[0]));
    for (int i = 0; i < steps; ++i) {
        const double l = lambda(t[i]), ln = lambda(t[i + 1]);
        const double lh = (c.s_tmin <= l && l <= c.s_tmax) ? std::min(l * (1.0 + gamma), lambda_end) : l;
        v += lh * lh - l * l;
        const double factor = gaussian_step_factor(v0, lh, ln, heun);
        v *= factor * factor;
    }
    return v * p.alpha(t.back()) * p.alpha(t.back());
}

}  // namespace

TEST_CASE("edm_stochastic equals k-diffusion's sample_euler and sample_heun with churn", "[edm_stochastic]") {
    EdmTranscription edm;
    for (const char* solver : {"euler", "heun"}) {
        const bool heun = std::string(solver) == "heun";
        {
            INFO("karras grid without the final 0, " << solver);
            // k-diffusion's sigmas = our karras grid's sigma(t_i) (= t_i on EDM), no final 0:
            // N = steps. s_tmax = 50 leaves the first level (80) unchurned, as in Karras et al.
            const std::size_t steps = 12;
            const std::vector<double> t = mdlab::time_grid(*edm.proc, "karras", steps, 0.002, 7.0);
            const auto r = run("edm_stochastic",
                               std::string(R"({"steps": 12, "grid": "karras", "t_min": 0.002, "s_churn": 8, )") +
                                   R"("s_tmin": 0, "s_tmax": 50, "s_noise": 1.007, "solver": ")" + solver +
                                   R"(", "init": )" + edm.init + "}",
                               edm.est, edm.ctx);
            const Matrix ref = kdiffusion_sample(*edm.est, edm.x_T, t, 8.0, 0.0, 50.0, 1.007, heun, edm.ctx);
            const double diff = max_relative_difference(r.samples, ref);
            WARN("edm_stochastic (" << solver << ", karras, 12 steps) vs k-diffusion: max relative difference " << diff);
            CHECK(diff < 1e-12);
            CHECK(stat(r, "nfe") == (heun ? 24 : 12));
        }
        {
            INFO("given sigmas ending in 0, s_tmax inf, " << solver);
            // get_sigmas_karras(10, 0.002, 50) + [0], starting below T: N = len(sigmas) - 1 = 10 =
            // steps + 1 (the Tweedie step at 0.002 is k-diffusion's Euler step to 0, unchurned
            // since s_tmin = 0.05 > 0.002).
            const std::vector<double> sigmas = karras_sigmas(10, 0.002, 50.0);
            const auto r = run("edm_stochastic",
                               R"({"grid": "given", "steps": 9, "sigmas": )" + number_list(sigmas) +
                                   R"(, "s_churn": 3, "s_tmin": 0.05, "s_tmax": "inf", "solver": ")" + solver +
                                   R"(", "init": )" + edm.init + "}",
                               edm.est, edm.ctx);
            const Matrix ref = kdiffusion_sample(*edm.est, edm.x_T, sigmas, 3.0, 0.05, std::numeric_limits<double>::infinity(),
                                                 1.0, heun, edm.ctx);
            const double diff = max_relative_difference(r.samples, ref);
            WARN("edm_stochastic (" << solver << ", given sigmas + [0]) vs k-diffusion: max relative difference " << diff);
            CHECK(diff < 1e-12);
            CHECK(stat(r, "nfe") == (heun ? 19 : 10));  // 9 steps + the Tweedie step
        }
    }
}

TEST_CASE("edm_stochastic without churn is pf_ode_euler / pf_ode_heun", "[edm_stochastic]") {
    for_each_ode_case([](auto est, mdlab::Context& ctx, const std::string& common) {
        for (const char* solver : {"euler", "heun"}) {
            INFO(solver);
            // No churn: s_churn = 0, or no level in [s_tmin, s_tmax].
            for (const char* off : {R"("s_churn": 0)", R"("s_tmin": 1e6, "s_tmax": "inf")"})
                check_same_run("edm_stochastic", common + R"(, "solver": ")" + solver + "\", " + off + "}",
                               std::string("pf_ode_") + solver, common + "}", est, ctx);
        }
    });
}

TEST_CASE("edm_stochastic with the exact Gaussian score samples N(0, s0^2 I)", "[edm_stochastic]") {
    const double s0 = 0.5;
    for (const char* name : {"edm", "vp", "ve"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 3, s0);
        const double exact = est->variance(1e-3);  // the law at t_min: N(0, alpha^2 s0^2 + sigma^2)
        // Karras et al.'s churn window, and every level churned (s_tmax inf; the first level, T,
        // is capped at lambda(T) and so left unchurned).
        for (const Churn churn : {Churn{40.0, 0.05, 50.0}, Churn{40.0, 0.0, std::numeric_limits<double>::infinity()}}) {
            for (const char* solver : {"heun", "euler"}) {
                const auto t0 = std::chrono::steady_clock::now();
                const bool heun = std::string(solver) == "heun";
                // Coarse: the output variance is the algorithm's own (the recursion), far from
                // the exact one; fine: it is the exact law, up to the recursion's small bias.
                for (const int steps : {heun ? 20 : 50, heun ? 100 : 800}) {
                    const double predicted = churned_variance(*proc, s0, steps, heun, churn);
                    INFO(name << ", s_tmin " << churn.s_tmin << ", " << solver << ", " << steps << " steps: variance "
                              << predicted << " predicted, " << exact << " exact");
                    const auto r = run("edm_stochastic",
                                       R"({"n": 4000, "grid": "karras", "steps": )" + std::to_string(steps) +
                                           R"(, "solver": ")" + solver + "\", " + churn.json() + "}",
                                       est);
                    check_gaussian(r.samples, predicted);
                    if (steps >= 100) check_gaussian(r.samples, exact, std::abs(predicted - exact));
                    CHECK(stat(r, "nfe") == (heun ? 2 : 1) * steps);
                    // It is stochastic: the deterministic sampler from the same prior draws differs.
                    const auto ode = run(std::string("pf_ode_") + solver,
                                         R"({"n": 4000, "grid": "karras", "steps": )" + std::to_string(steps) + "}", est);
                    CHECK(max_relative_difference(r.samples, ode.samples) > 0.1);
                }
                WARN("edm_stochastic Gaussian law (" << name << ", s_tmin " << churn.s_tmin << ", " << solver
                                                     << "): " << seconds_since(t0) << " s");
            }
        }
    }
}

TEST_CASE("edm_stochastic's Euler and Heun converge in law with orders 1 and 2", "[edm_stochastic][convergence]") {
    // The variance recursion (checked against the sampler above) as the steps double, in the
    // regime S_churn / N < sqrt(2) - 1 where gamma shrinks with the step.
    const double s0 = 0.5;
    for (const char* name : {"edm", "vp"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        const double exact = proc->alpha(1e-3) * proc->alpha(1e-3) * s0 * s0 + proc->sigma(1e-3) * proc->sigma(1e-3);
        for (const bool heun : {false, true}) {
            std::vector<double> errors;
            for (const int steps : {200, 400, 800, 1600})
                errors.push_back(std::abs(churned_variance(*proc, s0, steps, heun, Churn{40.0, 0.05, 50.0}) - exact));
            std::string ratios;
            for (std::size_t i = 0; i + 1 < errors.size(); ++i) ratios += std::to_string(errors[i] / errors[i + 1]) + " ";
            WARN("edm_stochastic " << (heun ? "heun" : "euler") << " on " << name << ": variance error "
                                   << errors.front() << " (200 steps) .. " << errors.back() << " (1600), ratios " << ratios);
            const double last = errors[errors.size() - 2] / errors.back();
            CHECK(last == Approx(heun ? 4.0 : 2.0).epsilon(0.1));
        }
    }
}

TEST_CASE("edm_stochastic is the same on 1 and 2 threads, and refuses an empty churn window", "[edm_stochastic]") {
    auto proc = make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<TwoPointScore>(proc, 3, 0.6);
    check_thread_independent("edm_stochastic", R"({"n": 3000, "steps": 10, "s_tmin": 0, "s_tmax": "inf"})", est);
    CHECK(error_key([] { make<mdlab::Sampler>("edm_stochastic", R"({"s_tmin": 2, "s_tmax": 1})"); }) == "s_tmin");
    CHECK(error_key([] { make<mdlab::Sampler>("edm_stochastic", R"({"solver": "rk4"})"); }) == "solver");
    CHECK(error_key([] { make<mdlab::Sampler>("edm_stochastic", R"({"s_tmax": "none"})"); }) == "s_tmax");
    CHECK(error_key([] { make<mdlab::Sampler>("edm_stochastic", R"({"s_noise": 0})"); }) == "s_noise");
}
