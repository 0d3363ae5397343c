// velocity_euler and velocity_heun against the exact Gaussian flow (orders 1 and 2), against the
// PF-ODE samplers and euler_maruyama where the schemes coincide, against a transcription of
// diffusers' FlowMatchEulerDiscreteScheduler (step and shift), and the interpolant SDE's marginals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// Data N(m, c^2 I), m = (m_0, m_0, ...): under any path x_t ~ N(alpha m, v(t) I) with
// v = alpha^2 c^2 + sigma^2, so the score is -(x - alpha m) / v.
class ShiftedGaussian : public mdlab::ScoreEstimator {
public:
    ShiftedGaussian(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double m, double c)
        : p_(std::move(p)), d_(d), m_(m), c_(c) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return d_; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    void score(const Matrix& x, double t, Matrix& out) const override {
        const double a = p_->alpha(t), v = variance(t);
        out = Matrix::from_shape(x.shape());
        for (std::size_t k = 0; k < x.size(); ++k) out.data()[k] = -(x.data()[k] - a * m_) / v;
    }
    double variance(double t) const {
        const double a = p_->alpha(t), s = p_->sigma(t);
        return a * a * c_ * c_ + s * s;
    }
    double mean(double t) const { return p_->alpha(t) * m_; }
    // The exact probability-flow map from `from` to `to`: the centred part scales by sqrt(v(to)/v(from)).
    double flow(double x, double from, double to) const {
        return mean(to) + std::sqrt(variance(to) / variance(from)) * (x - mean(from));
    }
    // Posterior means of x0 and eps given x_t = x (Gaussian conditioning, without the score).
    double posterior_x0(double x, double t) const {
        const double a = p_->alpha(t);
        return m_ + a * c_ * c_ / variance(t) * (x - a * m_);
    }
    double posterior_eps(double x, double t) const { return p_->sigma(t) / variance(t) * (x - mean(t)); }

private:
    std::shared_ptr<const mdlab::ForwardProcess> p_;
    std::size_t d_;
    double m_, c_;
};

std::shared_ptr<mdlab::ForwardProcess> path(const std::string& name, const std::string& json = "{}") {
    return mdlab::test::make<mdlab::ForwardProcess>(name, json);
}



// Least-squares slope of log(error) against log(1 / steps), steps = first * 2^i.
double fitted_order(const std::vector<double>& errors, int first) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    const double m = double(errors.size());
    for (std::size_t i = 0; i < errors.size(); ++i) {
        const double lx = -std::log(double(first) * std::pow(2.0, double(i))), ly = std::log(errors[i]);
        sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
    }
    return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

struct PathCase {
    std::string name, json;
};
// A given path: splines through 6 hand-set knots (C^2, piecewise cubic in t).
const std::string given_path = R"({"schedule": "given", "t_end": 0.95, "given_times": [0, 0.2, 0.4, 0.6, 0.8, 0.95],
    "given_alpha": [1, 0.95, 0.8, 0.6, 0.35, 0.1], "given_sigma": [0, 0.3, 0.55, 0.75, 0.9, 1]})";
const std::vector<PathCase> paths{{"flow_matching", "{}"},
                                  {"interpolant", R"({"schedule": "trigonometric"})"},
                                  {"interpolant", given_path},
                                  {"vp", "{}"}};

}  // namespace

TEST_CASE("velocity samplers converge to the exact Gaussian flow with orders 1 and 2", "[velocity_samplers][convergence]") {
    const double t_min = 1e-3;
    struct Case {
        const char* sampler;
        double order;
        int first;
    };
    for (const PathCase& pc : paths) {
        for (const char* shift : {"1", "3"}) {
            auto proc = path(pc.name, pc.json);
            auto est = std::make_shared<ShiftedGaussian>(proc, 2, 1.5, 0.5);
            TestContext ctx(5);
            const Matrix x_T = normal_matrix(64, 2, 41, proc->prior_std());
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, x_T);
            Matrix exact = x_T;
            for (std::size_t k = 0; k < exact.size(); ++k)
                exact.data()[k] = est->flow(x_T.data()[k], proc->t_end(), t_min);
            for (const Case& c : {Case{"velocity_euler", 1.0, 16}, Case{"velocity_heun", 2.0, 32}}) {
                std::vector<double> errors;
                std::string ratios;
                for (int i = 0; i < 5; ++i) {
                    const int steps = c.first << i;
                    const auto r = run(c.sampler,
                                       "{\"steps\": " + std::to_string(steps) + ", \"shift\": " + shift + ", " +
                                           init_param(init) + "}",
                                       est, ctx);
                    errors.push_back(rel_diff(r.samples, exact));
                }
                for (std::size_t i = 0; i + 1 < errors.size(); ++i) ratios += std::to_string(errors[i] / errors[i + 1]) + " ";
                const double slope = fitted_order(errors, c.first);
                WARN(pc.name << " " << pc.json << " shift " << shift << " / " << c.sampler << ": relative errors "
                             << errors.front() << " (" << c.first << " steps) .. " << errors.back() << ", ratios "
                             << ratios << ", fitted order " << slope);
                CHECK(slope == Approx(c.order).margin(0.15 * c.order));
                // The last halvings are in the asymptotic regime: ratio 2^order within 20%.
                const double target = std::pow(2.0, c.order);
                for (std::size_t i = errors.size() - 3; i + 1 < errors.size(); ++i) {
                    CHECK(errors[i] / errors[i + 1] >= 0.8 * target);
                    CHECK(errors[i] / errors[i + 1] <= 1.2 * target);
                }
            }
        }
    }
}

TEST_CASE("velocity samplers equal the PF-ODE samplers where the schemes coincide", "[velocity_samplers]") {
    // On the linear path the Euler step in x and t is DDIM's map, which pf_ode_euler takes in x/alpha
    // and sigma/alpha: x + (t' - t)(E[eps|x] - E[x0|x]) = (1 - t') E[x0|x] + t' E[eps|x]. On EDM
    // (alpha = 1, sigma = t) both samplers step x in t, Euler and Heun alike.
    struct Case {
        const char* process;
        const char* json;
        const char* ours;
        const char* theirs;
    };
    for (const Case& c : {Case{"flow_matching", "{}", "velocity_euler", "pf_ode_euler"},
                          Case{"interpolant", R"({"schedule": "linear", "t_end": 0.999})", "velocity_euler", "pf_ode_euler"},
                          Case{"edm", "{}", "velocity_euler", "pf_ode_euler"},
                          Case{"edm", "{}", "velocity_heun", "pf_ode_heun"}}) {
        for (const char* grid : {"uniform", "karras", "log_snr"}) {
            auto proc = path(c.process, c.json);
            auto est = std::make_shared<ShiftedGaussian>(proc, 3, -0.7, 0.8);
            const std::string params = std::string(R"({"n": 50, "steps": 25, "grid": ")") + grid + "\"}";
            const auto a = run(c.ours, params, est, 7);
            const auto b = run(c.theirs, params, est, 7);
            const double diff = rel_diff(a.samples, b.samples);
            WARN(c.process << " " << c.json << " " << grid << ": " << c.ours << " vs " << c.theirs
                           << ", relative difference " << diff);
            CHECK(diff <= 1e-12);
            CHECK(stat(a, "nfe") == stat(b, "nfe"));
        }
    }
    // On a path where alpha is not linear the two schemes differ (by their discretisation error).
    auto trig = path("interpolant", R"({"schedule": "trigonometric"})");
    auto est = std::make_shared<ShiftedGaussian>(trig, 3, -0.7, 0.8);
    const double diff = rel_diff(run("velocity_euler", R"({"n": 50, "steps": 25})", est, 7).samples,
                                 run("pf_ode_euler", R"({"n": 50, "steps": 25})", est, 7).samples);
    CHECK(diff > 1e-6);
}

TEST_CASE("velocity_euler with gamma = g is euler_maruyama", "[velocity_samplers]") {
    for (const PathCase& pc : paths) {
        auto proc = path(pc.name, pc.json);
        auto est = std::make_shared<ShiftedGaussian>(proc, 2, 1.0, 0.6);
        const std::string params = R"({"n": 300, "steps": 200})";
        const auto a = run("velocity_euler", R"({"n": 300, "steps": 200, "gamma": "g"})", est, 11);
        const auto b = run("euler_maruyama", params, est, 11);
        const double diff = rel_diff(a.samples, b.samples);
        WARN(pc.name << " " << pc.json << ": velocity_euler(gamma = g) vs euler_maruyama, relative difference " << diff);
        CHECK(diff <= 1e-12);
    }
}

TEST_CASE("the interpolant SDE samples the path's marginal for any gamma", "[velocity_samplers]") {
    // dx = [v - gamma^2 s / 2] dt + gamma dW_bar keeps the marginals N(alpha m, v(t) I) whatever
    // gamma; stopped at t_min = 0.2 the target is that marginal, so the data variance matters.
    const double t_min = 0.2;
    for (const PathCase& pc : paths) {
        auto proc = path(pc.name, pc.json);
        auto est = std::make_shared<ShiftedGaussian>(proc, 2, 1.0, 0.6);
        // The prior N(0, prior_std^2) assumes unit-variance centred data; start from the exact marginal.
        TestContext ctx(13);
        const std::size_t n = 4000;
        Matrix x_T = normal_matrix(n, 2, 77, std::sqrt(est->variance(proc->t_end())));
        for (std::size_t k = 0; k < x_T.size(); ++k) x_T.data()[k] += est->mean(proc->t_end());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x_T);
        for (const char* sampler : {"velocity_euler", "velocity_heun"}) {
            for (const char* gamma : {"0", "0.5", "2", "\"g\""}) {
                INFO(pc.name << " " << pc.json << " " << sampler << " gamma " << gamma);
                const auto r = run(sampler,
                                   std::string("{\"steps\": 200, \"t_min\": 0.2, \"gamma\": ") + gamma + ", " +
                                       init_param(init) + "}",
                                   est, ctx);
                Matrix centred = r.samples;
                for (std::size_t k = 0; k < centred.size(); ++k) centred.data()[k] -= est->mean(t_min);
                check_gaussian(centred, est->variance(t_min));
            }
        }
    }
}

TEST_CASE("velocity_euler on flow_matching is diffusers' FlowMatchEulerDiscreteScheduler with its shift",
          "[velocity_samplers]") {
    auto proc = path("flow_matching", R"({"t_end": 0.999})");
    auto est = std::make_shared<ShiftedGaussian>(proc, 2, 0.8, 0.4);
    const double shift = 3.0, t_min = 1e-3, T = 0.999;
    const std::size_t steps = 20;
    TestContext ctx(17, "gen");
    const Matrix x_T = normal_matrix(30, 2, 19, 1.0);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x_T);
    const auto r = run("velocity_euler",
                       R"({"steps": 20, "shift": 3, "record_every": 1, )" + init_param(init) + "}", est, ctx);

    // diffusers: sigmas = shift s / (1 + (shift - 1) s) of a uniform grid; ours on [t_min, T].
    std::vector<double> sigmas(steps + 1);
    for (std::size_t i = 0; i <= steps; ++i) {
        const double u = 1.0 - double(i) / double(steps);
        sigmas[i] = t_min + (T - t_min) * (shift * u / (1.0 + (shift - 1.0) * u));
    }
    const Matrix times = mdlab::npy::read(ctx.output_dir() / "gen.trajectory_t.npy");
    REQUIRE(times.size() == steps + 1);
    CHECK(times.data()[0] == T);
    CHECK(times.data()[steps] == t_min);
    for (std::size_t i = 0; i <= steps; ++i) CHECK(times.data()[i] == Approx(sigmas[i]).epsilon(1e-14));

    // FlowMatchEulerDiscreteScheduler.step: prev_sample = sample + (sigma_next - sigma) * model_output,
    // the model's velocity E[eps | x] - E[x0 | x] (alpha' = -1, sigma' = 1), here from Gaussian conditioning.
    Matrix expected = x_T;
    for (std::size_t k = 0; k < expected.size(); ++k) {
        double x = expected.data()[k];
        for (std::size_t i = 0; i < steps; ++i) {
            const double sg = times.data()[i], next = times.data()[i + 1];
            x = x + (next - sg) * (est->posterior_eps(x, sg) - est->posterior_x0(x, sg));
        }
        expected.data()[k] = x;
    }
    const double diff = rel_diff(r.samples, expected);
    WARN("velocity_euler vs FlowMatchEulerDiscreteScheduler (shift 3): relative difference " << diff);
    CHECK(diff <= 1e-12);

    // shift = 1 is the plain grid, bit for bit.
    CHECK(identical(run("velocity_heun", R"({"n": 20, "steps": 9, "shift": 1})", est, 3).samples,
                    run("velocity_heun", R"({"n": 20, "steps": 9})", est, 3).samples));
}

TEST_CASE("velocity samplers: counts, thread independence, parameter checks", "[velocity_samplers]") {
    auto proc = path("flow_matching");
    auto est = std::make_shared<ShiftedGaussian>(proc, 3, 0.5, 1.0);
    for (const char* sampler : {"velocity_euler", "velocity_heun"}) {
        INFO(sampler);
        const std::string params = R"({"n": 1200, "steps": 12, "gamma": 0.7, "shift": 2})";
        const auto a = run(sampler, params, est, 3);
        mdlab::SampleResult one;
        {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
            one = run(sampler, params, est, 3);
        }
        CHECK(identical(a.samples, one.samples));
        CHECK(stat(a, "nfe") == (std::string(sampler) == "velocity_euler" ? 12 : 24));
        CHECK(stat(a, "steps") == 12);
        // Noise is drawn from the shared stream: another seed, another sample.
        CHECK_FALSE(identical(a.samples, run(sampler, params, est, 4).samples));
        // The common contract (common_contract.cpp's checks): Tweedie at the end, counted; trajectory frames.
        const auto plain = run(sampler, R"({"n": 30, "steps": 10, "t_min": 0.5})", est, 4);
        const auto den = run(sampler, R"({"n": 30, "steps": 10, "t_min": 0.5, "denoise": true})", est, 4);
        Matrix tweedie;
        est->denoise(plain.samples, 0.5, tweedie);
        CHECK(rel_diff(den.samples, tweedie) < 1e-14);
        CHECK(stat(den, "nfe") == stat(plain, "nfe") + 1.0);
        TestContext tctx(2, "gen");
        run(sampler, R"({"n": 7, "steps": 8, "record_every": 4})", est, tctx);
        CHECK(mdlab::npy::read(tctx.output_dir() / "gen.trajectory_t.npy").size() == 3);
        auto message = [&](const std::string& json) -> std::string {
            try {
                run(sampler, json, est, 3);
            } catch (const std::exception& e) {
                return e.what();
            }
            return "accepted";
        };
        CHECK(message(R"({"shift": 0})").find("'shift'") != std::string::npos);
        CHECK(message(R"({"gamma": -1})").find("'gamma'") != std::string::npos);
        CHECK(message(R"({"gamma": "h"})").find("'gamma'") != std::string::npos);
        CHECK(message(R"({"n": 5, "gamma": "g", "steps": 3})") == "accepted");
    }
}
