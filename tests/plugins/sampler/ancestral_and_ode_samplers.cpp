// The ddpm_ancestral, ddim, pf_ode_euler and dpmpp_2m samplers against closed forms and
// independent computations: Gaussian data N(0, s0^2 I) has the exact score
// s(x, t) = -x / (alpha^2 s0^2 + sigma^2), an exact probability-flow map, and for a linear score
// every sampler here is a linear recursion whose discrete variance is computed in the test.
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

namespace {

std::string num(double v) {
    std::ostringstream o;
    o.precision(17);
    o << v;
    return o.str();
}



// Exact variance after the discrete DDIM / ancestral recursion for Gaussian data, written from
// Song et al. 2021 eq. 12: with D(x, t) = f_t x (f_t = denoise_factor), eps_hat = (x - alpha_t D)/sigma_t,
// x_s = alpha_s D + sqrt(sigma_s^2 - c^2) eps_hat + c z, c^2 = eta^2 sigma_{t|s}^2 sigma_s^2 / sigma_t^2;
// so var_s = m^2 var_t + c^2 with m = alpha_s f_t + sqrt(sigma_s^2 - c^2) (1 - alpha_t f_t) / sigma_t,
// and no c^2 on the last step.
double ddim_variance(const GaussianScore& g, const std::vector<double>& t, double eta) {
    const auto& p = g.process();
    double v = p.prior_std() * p.prior_std();
    for (std::size_t i = 0; i + 1 < t.size(); ++i) {
        const double at = p.alpha(t[i]), st = p.sigma(t[i]), as = p.alpha(t[i + 1]), ss = p.sigma(t[i + 1]);
        const double post = (st * st - (at / as) * (at / as) * ss * ss) * ss * ss / (st * st);
        const double c2 = i + 2 == t.size() ? 0.0 : eta * eta * post;
        const double f = g.denoise_factor(t[i]);
        const double m = as * f + std::sqrt(ss * ss - eta * eta * post) * (1.0 - at * f) / st;
        v = m * m * v + c2;
    }
    return v;
}

std::shared_ptr<mdlab::ScoreEstimator> empirical(std::shared_ptr<mdlab::ForwardProcess> proc,
                                                 std::shared_ptr<const Matrix> data) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(std::move(proc)));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

const char* const all_samplers[] = {"ddpm_ancestral", "ddim", "pf_ode_euler", "dpmpp_2m"};

}  // namespace

TEST_CASE("deterministic samplers with the exact Gaussian score sample N(0, s0^2 I) (VP and VE)",
          "[pf_ode_euler][ddim][dpmpp_2m][gaussian]") {
    const double s0 = 0.5, v0 = s0 * s0;
    const std::size_t n = 4000, d = 3;
    const double se = v0 * std::sqrt(2.0 / double(n));  // standard error of a sample variance
    for (const char* name : {"vp", "ve"}) {
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        struct Case {
            const char* sampler;
            const char* extra;
            int steps;
        };
        for (const Case& c : {Case{"pf_ode_euler", "", 1000}, Case{"ddim", "", 1000}, Case{"dpmpp_2m", "", 200}}) {
            const auto t0 = std::chrono::steady_clock::now();
            INFO(name << " / " << c.sampler << ", " << c.steps << " steps");
            const std::string params = "\"steps\": " + std::to_string(c.steps) + c.extra;
            // The scheme is linear: its factor F (output for a starting point 1) fixes the output law
            // N(0, F^2 prior_std^2 I). F must be close to the exact flow factor; the rest of the gap
            // to v0 is a discretisation offset added to the tolerance.
            mdlab::test::TestContext ctx(3);
            const auto one_file = ctx.output_dir() / "one.npy";
            Matrix ones = Matrix::from_shape({1, d});
            for (std::size_t j = 0; j < d; ++j) ones(0, j) = 1.0;
            mdlab::npy::write(one_file, ones);
            const auto one = run(c.sampler, "{" + params + ", " + init_param(one_file) + "}", est, ctx);
            const double F = one.samples(0, 0);
            const double exact = exact_flow_factor(*est, proc->t_end(), 1e-3);
            INFO("scheme factor " << F << ", exact " << exact);
            CHECK(std::abs(F - exact) <= 0.01 * exact);
            const double bias = std::abs(F * F * proc->prior_std() * proc->prior_std() - v0);
            INFO("discretisation offset of the variance " << bias << " = " << bias / se << " standard errors");
            REQUIRE(bias <= se);

            const auto r = run(c.sampler, "{\"n\": 4000, " + params + "}", est, ctx);
            REQUIRE(mdlab::rows(r.samples) == n);
            REQUIRE(mdlab::cols(r.samples) == d);
            check_gaussian(r.samples, v0, bias);
            CHECK(stat(r, "nfe") == c.steps);
            CHECK(stat(r, "steps") == c.steps);
            WARN(name << " / " << c.sampler << ": variance offset " << bias / se << " SE, " << seconds_since(t0) << " s");
        }
    }
}

TEST_CASE("stochastic samplers with the exact Gaussian score sample N(0, s0^2 I) (VP and VE)",
          "[ddpm_ancestral][ddim][gaussian]") {
    const double s0 = 0.5, v0 = s0 * s0;
    const std::size_t n = 4000, d = 3, steps = 1000;
    const double se = v0 * std::sqrt(2.0 / double(n));
    for (const char* name : {"vp", "ve"}) {
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
        struct Case {
            const char* sampler;
            const char* extra;
            double eta;
        };
        Matrix first;
        for (const Case& c : {Case{"ddpm_ancestral", "", 1.0}, Case{"ddim", R"(, "eta": 1)", 1.0},
                              Case{"ddim", R"(, "eta": 0.5)", 0.5}}) {
            const auto t0 = std::chrono::steady_clock::now();
            INFO(name << " / " << c.sampler << c.extra);
            // The exact variance of the discrete scheme: its gap to v0 (the posterior step ignores
            // Var(x0 | x_t), an O(step) effect) is bounded and added to the tolerance.
            const double bias = std::abs(ddim_variance(*est, t, c.eta) - v0);
            INFO("discretisation offset of the variance " << bias << " = " << bias / se << " standard errors");
            REQUIRE(bias <= se);
            const auto r = run(c.sampler, "{\"n\": 4000, \"steps\": 1000" + std::string(c.extra) + "}", est, 11);
            check_gaussian(r.samples, v0, bias);
            CHECK(stat(r, "nfe") == steps);
            CHECK(stat(r, "steps") == steps);
            WARN(name << " / " << c.sampler << c.extra << ": variance offset " << bias / se << " SE, "
                      << seconds_since(t0) << " s");
        }
    }
    // Stopped early, ancestral sampling gives p_{t_min} = N(0, (alpha^2 s0^2 + sigma^2) I) up to its offset.
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, d, s0);
    const double t_min = 0.3, v = est->variance(t_min);
    const double bias = std::abs(ddim_variance(*est, mdlab::time_grid(*proc, "uniform", 1000, t_min), 1.0) - v);
    REQUIRE(bias <= v * std::sqrt(2.0 / double(n)));
    const auto r = run("ddpm_ancestral", R"({"n": 4000, "steps": 1000, "t_min": 0.3})", est);
    INFO("stopped at t = 0.3: target variance " << v);
    check_gaussian(r.samples, v, bias);
}

TEST_CASE("ddim with eta = 1 is ddpm_ancestral; ddim with eta = 0 is pf_ode_euler", "[ddim][ddpm_ancestral][pf_ode_euler]") {
    const double s0 = 0.5;
    for (const char* name : {"vp", "ve"}) {
        INFO(name);
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 2, s0);
        // Both draw step i's noise from step_noise(shared "sampler/noise", i): the same seed gives
        // the same map up to rounding.
        const std::string params = R"({"n": 300, "steps": 100, "grid": "karras"})";
        const auto a = run("ddim", R"({"n": 300, "steps": 100, "grid": "karras", "eta": 1})", est, 5);
        const auto b = run("ddpm_ancestral", params, est, 5);
        const double diff = rel_diff(a.samples, b.samples);
        WARN(name << ": ddim(eta = 1) vs ddpm_ancestral, same noise: relative difference " << diff);
        CHECK(diff <= 1e-12);
        CHECK(!identical(a.samples, run("ddpm_ancestral", params, est, 6).samples));

        // Identically distributed: with different noise the two sample variances agree within the
        // standard error of a difference of two independent variances.
        const std::size_t n = 6000;
        const auto p = run("ddim", R"({"n": 6000, "steps": 500, "eta": 1})", est, 101);
        const auto q = run("ddpm_ancestral", R"({"n": 6000, "steps": 500})", est, 202);
        CHECK(!identical(p.samples, q.samples));
        for (std::size_t j = 0; j < 2; ++j) {
            double vp = 0.0, vq = 0.0, mp = 0.0, mq = 0.0;
            for (std::size_t i = 0; i < n; ++i) mp += p.samples(i, j) / n, mq += q.samples(i, j) / n;
            for (std::size_t i = 0; i < n; ++i) {
                vp += (p.samples(i, j) - mp) * (p.samples(i, j) - mp) / (n - 1);
                vq += (q.samples(i, j) - mq) * (q.samples(i, j) - mq) / (n - 1);
            }
            INFO("coordinate " << j << ": means " << mp << ", " << mq << "; variances " << vp << ", " << vq);
            CHECK(std::abs(mp - mq) <= 4.5 * s0 * std::sqrt(2.0 / n));
            CHECK(std::abs(vp - vq) <= 4.5 * s0 * s0 * std::sqrt(2.0 / n) * std::sqrt(2.0));
        }

        // eta = 0 and pf_ode_euler: the same Euler step in x/alpha and sigma/alpha.
        const auto e = run("ddim", R"({"n": 300, "steps": 60, "grid": "karras"})", est, 5);
        const auto f = run("pf_ode_euler", R"({"n": 300, "steps": 60, "grid": "karras"})", est, 5);
        const double diff0 = rel_diff(e.samples, f.samples);
        WARN(name << ": ddim(eta = 0) vs pf_ode_euler: relative difference " << diff0);
        CHECK(diff0 <= 1e-12);
    }
}

TEST_CASE("ODE samplers converge to the exact flow with their order", "[pf_ode_euler][ddim][dpmpp_2m][convergence]") {
    const double s0 = 0.5, t_min = 1e-3;
    struct Case {
        const char* sampler;
        double order;
        int first;  // smallest step count; the counts double four times
    };
    for (const char* name : {"vp", "ve"}) {
        for (const char* grid : {"uniform", "karras", "log_snr"}) {
            auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
            auto est = std::make_shared<GaussianScore>(proc, 2, s0);
            mdlab::test::TestContext ctx(5);
            const Matrix x_T = normal_matrix(64, 2, 41, proc->prior_std());
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, x_T);
            const Matrix exact = x_T * exact_flow_factor(*est, proc->t_end(), t_min);
            for (const Case& c : {Case{"pf_ode_euler", 1.0, 16}, Case{"ddim", 1.0, 16}, Case{"dpmpp_2m", 2.0, 32}}) {
                std::vector<double> errors;
                for (int i = 0; i < 5; ++i) {
                    const int steps = c.first << i;
                    const auto r = run(c.sampler,
                                       "{\"steps\": " + std::to_string(steps) + ", \"grid\": \"" + grid + "\", " +
                                           init_param(init) + "}",
                                       est, ctx);
                    errors.push_back(rel_diff(r.samples, exact));
                }
                // Least-squares slope of log(error) against log(step size), and successive ratios.
                double sx = 0, sy = 0, sxx = 0, sxy = 0;
                const std::size_t m = errors.size();
                std::string ratios;
                for (std::size_t i = 0; i < m; ++i) {
                    const double lx = -std::log(double(c.first) * std::pow(2.0, double(i))), ly = std::log(errors[i]);
                    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
                }
                const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
                for (std::size_t i = 0; i + 1 < m; ++i) ratios += std::to_string(errors[i] / errors[i + 1]) + " ";
                INFO(name << " / " << grid << " / " << c.sampler << ": errors " << errors.front() << " .. "
                          << errors.back() << ", ratios " << ratios << ", fitted order " << slope);
                WARN(name << " / " << grid << " / " << c.sampler << ": relative errors " << errors.front() << " ("
                          << c.first << " steps) .. " << errors.back() << ", ratios " << ratios << ", fitted order "
                          << slope);
                const double target = std::pow(2.0, c.order);
                CHECK(slope == Approx(c.order).margin(0.15 * c.order));
                // The last halvings are in the asymptotic regime: ratio 2^order within 20%.
                for (std::size_t i = m - 3; i + 1 < m; ++i) {
                    CHECK(errors[i] / errors[i + 1] >= 0.8 * target);
                    CHECK(errors[i] / errors[i + 1] <= 1.2 * target);
                }
            }
        }
    }
}

TEST_CASE("pf_ode_euler and dpmpp_2m on VE are k-diffusion's sample_euler and sample_dpmpp_2m", "[pf_ode_euler][dpmpp_2m]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("ve");
    const double s0 = 0.7, t_min = 2e-3;
    const std::size_t steps = 12;
    auto est = std::make_shared<GaussianScore>(proc, 2, s0);
    mdlab::test::TestContext ctx(9);
    const Matrix x_T = normal_matrix(10, 2, 43, proc->prior_std());
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x_T);

    // k-diffusion's sigmas: our Karras grid's sigma(t_i), i = 0..steps (n = steps + 1 values from
    // sigma(T) to sigma(t_min)), optionally with a final 0 appended (get_sigmas_karras' default).
    const std::vector<double> t = mdlab::time_grid(*proc, "karras", steps, t_min, 7.0);
    std::vector<double> sigmas;
    for (double ti : t) sigmas.push_back(proc->sigma(ti));
    std::vector<double> sigmas0 = sigmas;
    sigmas0.push_back(0.0);
    auto denoiser = [&](double x, double sigma) { return s0 * s0 * x / (s0 * s0 + sigma * sigma); };

    // k_diffusion.sampling.sample_euler with s_churn = 0.
    auto k_euler = [&](double x, const std::vector<double>& sg) {
        for (std::size_t i = 0; i + 1 < sg.size(); ++i) {
            const double dd = (x - denoiser(x, sg[i])) / sg[i];
            x = x + dd * (sg[i + 1] - sg[i]);
        }
        return x;
    };
    // k_diffusion.sampling.sample_dpmpp_2m: t = -log sigma, first-order first step and step to 0.
    auto k_dpmpp_2m = [&](double x, const std::vector<double>& sg) {
        double old = 0.0;
        bool have_old = false;
        for (std::size_t i = 0; i + 1 < sg.size(); ++i) {
            const double den = denoiser(x, sg[i]);
            const double tt = -std::log(sg[i]), tn = -std::log(sg[i + 1]);  // tn = inf at sigma = 0
            const double h = tn - tt;
            const double ratio = std::exp(-tn) / std::exp(-tt);
            if (!have_old || sg[i + 1] == 0.0) {
                x = ratio * x - std::expm1(-h) * den;
            } else {
                const double h_last = tt + std::log(sg[i - 1]);
                const double r = h_last / h;
                const double dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old;
                x = ratio * x - std::expm1(-h) * dd;
            }
            old = den;
            have_old = true;
        }
        return x;
    };

    const std::string common = R"("steps": 12, "grid": "karras", "t_min": 0.002, )" + init_param(init);
    for (const char* sampler : {"pf_ode_euler", "dpmpp_2m"}) {
        INFO(sampler);
        const bool euler = std::string(sampler) == "pf_ode_euler";
        auto reference = [&](double x, const std::vector<double>& sg) { return euler ? k_euler(x, sg) : k_dpmpp_2m(x, sg); };
        // Without the final zero: steps = n - 1 on the same sigmas, no denoise.
        const auto plain = run(sampler, "{" + common + "}", est, ctx);
        // With the final zero: k-diffusion's last step x = denoised(x, sigma_min) is our denoise = true.
        const auto den = run(sampler, "{" + common + R"(, "denoise": true})", est, ctx);
        CHECK(stat(plain, "nfe") == steps);
        CHECK(stat(den, "nfe") == steps + 1);  // = len(sigmas0) - 1 model calls in k-diffusion
        double worst = 0.0, worst0 = 0.0;
        for (std::size_t k = 0; k < x_T.size(); ++k) {
            const double ref = reference(x_T.data()[k], sigmas), ref0 = reference(x_T.data()[k], sigmas0);
            CHECK(plain.samples.data()[k] == Approx(ref).epsilon(1e-12));
            CHECK(den.samples.data()[k] == Approx(ref0).epsilon(1e-12));
            worst = std::max(worst, std::abs(plain.samples.data()[k] - ref) / std::abs(ref));
            worst0 = std::max(worst0, std::abs(den.samples.data()[k] - ref0) / std::abs(ref0));
        }
        WARN(sampler << " vs k-diffusion: largest relative difference " << worst << " (sigmas), " << worst0
                     << " (sigmas + [0], denoise = true)");
    }
}

TEST_CASE("ancestral samplers with the empirical score land on training points", "[ddpm_ancestral][ddim][empirical]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const std::size_t N = 20, d = 2;
    auto data = std::make_shared<const Matrix>(normal_matrix(N, d, 51));
    auto est = empirical(proc, data);
    double spacing = 1e300;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t k = i + 1; k < N; ++k)
            spacing = std::min(spacing, std::hypot((*data)(i, 0) - (*data)(k, 0), (*data)(i, 1) - (*data)(k, 1)));
    // Uniform grid: the last step goes from sigma(t_1) = 0.02 (where the empirical denoiser is already
    // the nearest training point) to sigma(t_min) = 0.001 and keeps only (sigma_s/sigma_t)^2 of x_t.
    for (const char* params : {R"({"n": 300, "steps": 300, "t_min": 1e-5})",
                               R"({"n": 300, "steps": 300, "t_min": 1e-5, "eta": 1})"}) {
        const bool ddim = std::string(params).find("eta") != std::string::npos;
        const char* sampler = ddim ? "ddim" : "ddpm_ancestral";
        INFO(sampler);
        const auto r = run(sampler, params, est);
        double worst = 0.0;
        for (std::size_t q = 0; q < mdlab::rows(r.samples); ++q) {
            double d1 = 1e300;
            for (std::size_t i = 0; i < N; ++i)
                d1 = std::min(d1, std::hypot(r.samples(q, 0) - (*data)(i, 0), r.samples(q, 1) - (*data)(i, 1)));
            worst = std::max(worst, d1);
        }
        WARN(sampler << " to t_min = 1e-5: largest distance to the nearest training point " << worst
                     << " (closest training pair " << spacing << ")");
        CHECK(worst <= 0.01 * spacing);
    }
}

TEST_CASE("new samplers: same init twice gives identical outputs", "[ddpm_ancestral][ddim][pf_ode_euler][dpmpp_2m][init]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 3, 0.5);
    mdlab::test::TestContext ctx(13);
    const Matrix x0 = normal_matrix(300, 3, 61);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);
    for (const char* sampler : all_samplers) {
        INFO(sampler);
        const std::string params = "{\"n\": 1000, \"steps\": 50, " + init_param(init) + "}";
        const auto a = run(sampler, params, est, ctx);
        const auto b = run(sampler, params, est, ctx);
        const auto prior = run(sampler, R"({"n": 300, "steps": 50})", est, ctx);
        REQUIRE(mdlab::rows(a.samples) == 300);
        CHECK(identical(a.samples, b.samples));
        CHECK(!identical(a.samples, prior.samples));
        // A single step is the noise-free last step from the file's points, with D(x, T) = f x:
        // ddpm_ancestral returns the posterior mean alpha_{t|s} sigma_s^2/sigma_t^2 x + alpha_s
        // sigma_{t|s}^2/sigma_t^2 D; the others (ddim eta = 0, Euler, first-order DPM-Solver++) the
        // DDIM step sigma_s/sigma_t x + (alpha_s - sigma_s alpha_t/sigma_t) D.
        const auto one = run(sampler, "{\"steps\": 1, \"t_min\": 0.5, " + init_param(init) + "}", est, ctx);
        const double T = proc->t_end(), s = 0.5, f = est->denoise_factor(T);
        const double at = proc->alpha(T), st = proc->sigma(T), as = proc->alpha(s), ss = proc->sigma(s);
        const double ats = at / as, sts2 = st * st - ats * ats * ss * ss;
        const double factor = std::string(sampler) == "ddpm_ancestral"
                                  ? ats * ss * ss / (st * st) + as * sts2 / (st * st) * f
                                  : ss / st + (as - ss * at / st) * f;
        for (std::size_t k = 0; k < x0.size(); ++k)
            CHECK(one.samples.data()[k] == Approx(factor * x0.data()[k]).epsilon(1e-12));
    }
    // A file of the wrong dimension is refused, and eta outside [0, 1] too.
    const auto bad = ctx.output_dir() / "bad.npy";
    mdlab::npy::write(bad, normal_matrix(5, 2, 62));
    for (const char* sampler : all_samplers)
        CHECK_THROWS_AS(run(sampler, "{" + init_param(bad) + "}", est, ctx), mdlab::InputError);
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("ddim", R"({"eta": 1.5})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("ddim", R"({"eta": -0.1})"));
}

TEST_CASE("new samplers: denoise applies the Tweedie step at t_min", "[ddpm_ancestral][ddim][pf_ode_euler][dpmpp_2m][denoise]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const double factor = est->denoise_factor(0.05);
    for (const char* sampler : all_samplers) {
        INFO(sampler);
        const std::string common = R"("n": 500, "steps": 30, "t_min": 0.05, "eta": 0)";
        const std::string c = std::string(sampler) == "ddim" ? common : R"("n": 500, "steps": 30, "t_min": 0.05)";
        const auto plain = run(sampler, "{" + c + "}", est);
        const auto den = run(sampler, "{" + c + R"(, "denoise": true})", est);
        CHECK(stat(plain, "nfe") == 30);
        CHECK(stat(den, "nfe") == 31);
        for (std::size_t k = 0; k < plain.samples.size(); ++k)
            CHECK(den.samples.data()[k] == Approx(factor * plain.samples.data()[k]).epsilon(1e-12));
    }
}

TEST_CASE("new samplers: record_every writes the trajectory (frames x n x D)", "[ddpm_ancestral][ddim][pf_ode_euler][dpmpp_2m][trajectory]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const std::size_t n = 6, d = 2, steps = 10;
    const double t_min = 0.01;
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, t_min);
    const std::vector<std::size_t> at{0, 4, 8, 10};
    for (const char* sampler : all_samplers) {
        INFO(sampler);
        mdlab::test::TestContext ctx(19, "samp");
        const Matrix x0 = normal_matrix(n, d, 83);
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto traj = ctx.output_dir() / "samp.trajectory.npy";
        const auto traj_t = ctx.output_dir() / "samp.trajectory_t.npy";
        const std::string common = "\"steps\": 10, \"t_min\": 0.01, " + init_param(init);

        run(sampler, "{" + common + "}", est, ctx);
        CHECK(!std::filesystem::exists(traj));

        const auto r = run(sampler, "{" + common + ", \"record_every\": 4}", est, ctx);
        const RawNpy frames = read_raw_npy(traj);
        REQUIRE(frames.shape == std::vector<std::size_t>{at.size(), n, d});
        const Matrix times = mdlab::npy::read(traj_t);
        REQUIRE(mdlab::rows(times) == at.size());
        for (std::size_t f = 0; f < at.size(); ++f) CHECK(times(f, 0) == t[at[f]]);
        for (std::size_t k = 0; k < n * d; ++k) {
            CHECK(frames.data[k] == x0.data()[k]);
            CHECK(frames.data[(at.size() - 1) * n * d + k] == r.samples.data()[k]);
        }
        // Deterministic samplers: frame f is the output of a run of at[f] steps to t[at[f]] on the
        // same uniform grid (dpmpp_2m's multistep history included).
        if (std::string(sampler) != "ddpm_ancestral") {
            for (std::size_t f = 1; f + 1 < at.size(); ++f) {
                const auto part = run(sampler,
                                      "{\"steps\": " + std::to_string(at[f]) + ", \"t_min\": " + num(t[at[f]]) + ", " +
                                          init_param(init) + "}",
                                      est, ctx);
                for (std::size_t k = 0; k < n * d; ++k)
                    CHECK(frames.data[f * n * d + k] == Approx(part.samples.data()[k]).epsilon(1e-11));
            }
        }
        // With denoise the frames stay on the grid: the output is D of the last frame.
        const auto den = run(sampler, "{" + common + ", \"record_every\": 4, \"denoise\": true}", est, ctx);
        const RawNpy frames2 = read_raw_npy(traj);
        REQUIRE(frames2.shape == frames.shape);
        for (std::size_t k = 0; k < n * d; ++k)
            CHECK(den.samples.data()[k] ==
                  Approx(est->denoise_factor(t_min) * frames2.data[(at.size() - 1) * n * d + k]).epsilon(1e-12));
    }
}

TEST_CASE("new samplers give identical results with 1 and 2 threads", "[ddpm_ancestral][ddim][pf_ode_euler][dpmpp_2m][threads]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = empirical(proc, std::make_shared<const Matrix>(normal_matrix(200, 2, 71)));
    for (const char* sampler : all_samplers) {
        INFO(sampler);
        mdlab::SampleResult one, two;
        // 1000 rows: four random chunks, split differently between 1 and 2 threads.
        const std::string params = std::string(sampler) == "ddim" ? R"({"n": 1000, "steps": 40, "denoise": true, "eta": 0.5})"
                                                                  : R"({"n": 1000, "steps": 40, "denoise": true})";
        tbb::task_arena(1).execute([&] { one = run(sampler, params, est, 21); });
        tbb::task_arena(2).execute([&] { two = run(sampler, params, est, 21); });
        CHECK(identical(one.samples, two.samples));
    }
}

TEST_CASE("new samplers report progress, honour cancellation and catch divergence", "[ddpm_ancestral][ddim][pf_ode_euler][dpmpp_2m]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    for (const char* sampler : all_samplers) {
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
