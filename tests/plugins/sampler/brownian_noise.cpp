// The `noise` parameter of the SDE samplers (mdlab::noise_param): "independent" keeps the draws of
// mdlab::step_noise; "brownian" drives every step count with one Brownian path
// (mdlab/brownian_tree.hpp), so that the strong (pathwise) error of a sampler can be measured.
// For the linear reverse SDE of Gaussian data the noise is additive (g depends on t only), and
// Euler-Maruyama's strong order is then 1, not 1/2 (SCIENCE.md section 6).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <mdlab/brownian_tree.hpp>

#include "error_key.hpp"
#include "mdlab/runtime/registry.hpp"
#include "raw_npy.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

const std::vector<std::string> sde_samplers{"euler_maruyama", "ddpm_ancestral", "ddim",        "predictor_corrector",
                                            "dpmpp_2m_sde",   "dpmpp_3m_sde",   "velocity_euler", "velocity_heun"};

// The parameters that make a sampler draw noise at all (ddim: eta > 0; the velocity samplers: gamma > 0).
std::string noisy(const std::string& name) {
    if (name == "ddim") return R"(, "eta": 0.5)";
    if (name.rfind("velocity_", 0) == 0) return R"(, "gamma": "g")";
    return "";
}


// The choices of a sampler's declared `noise` parameter joined by '|' (its default first), or "".
std::string declared_noise(const std::string& name) {
    const mdlab::runtime::PluginRecord* rec = registry().find(name);
    REQUIRE(rec != nullptr);
    const mdlab::ParamSpec* p = rec->spec.find_param("noise");
    if (p == nullptr) return "";
    CHECK(p->type == mdlab::ParamType::choice);
    CHECK(std::get<std::string>(*p->default_value) == "independent");
    std::string joined;
    for (const auto& c : p->choices) joined += (joined.empty() ? "" : "|") + c;
    return joined;
}

// Root-mean-square over all entries of a - b.
double rms_difference(const double* a, const double* b, std::size_t size) {
    double s = 0.0;
    for (std::size_t k = 0; k < size; ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
    return std::sqrt(s / double(size));
}

// Least-squares slope of log(y) against log(x).
double log_slope(const std::vector<double>& x, const std::vector<double>& y) {
    double mx = 0.0, my = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) mx += std::log(x[i]) / double(x.size()), my += std::log(y[i]) / double(x.size());
    double sxy = 0.0, sxx = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (std::log(x[i]) - mx) * (std::log(y[i]) - my);
        sxx += (std::log(x[i]) - mx) * (std::log(x[i]) - mx);
    }
    return sxy / sxx;
}

}  // namespace

TEST_CASE("the SDE samplers declare noise: independent by default, or brownian") {
    for (const auto& name : sde_samplers) {
        INFO(name);
        CHECK(declared_noise(name) == "independent|brownian");
        CHECK(error_key([&] { make_component(name, R"({"noise": "pink"})"); }) == "noise");
        CHECK_THROWS_WITH(make_component(name, R"({"noise": "pink"})"), Catch::Contains("brownian"));
    }
    // Langevin updates run at fixed levels: no increment of a path to give them.
    CHECK(declared_noise("annealed_langevin").empty());
    CHECK(error_key([] { make_component("annealed_langevin", R"({"noise": "brownian"})"); }) == "noise");
}

TEST_CASE("noise independent is the default and keeps the step draws; brownian changes them") {
    auto est = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("vp"), 2, 0.5);
    for (const auto& name : sde_samplers) {
        INFO(name);
        const std::string extra = noisy(name);
        const auto plain = run(name, R"({"n": 300, "steps": 20)" + extra + "}", est);
        const auto independent = run(name, R"({"n": 300, "steps": 20, "noise": "independent")" + extra + "}", est);
        const auto brownian = run(name, R"({"n": 300, "steps": 20, "noise": "brownian")" + extra + "}", est);
        CHECK(identical(plain.samples, independent.samples));
        CHECK_FALSE(identical(plain.samples, brownian.samples));
        CHECK(stat(brownian, "nfe") == stat(plain, "nfe"));
    }
    // ddim with eta = 0 draws no noise: the parameter changes nothing.
    CHECK(identical(run("ddim", R"({"n": 300, "steps": 20})", est).samples,
                    run("ddim", R"({"n": 300, "steps": 20, "noise": "brownian"})", est).samples));
}

TEST_CASE("euler_maruyama with noise brownian is Euler-Maruyama driven by the tree's increments") {
    auto vp = make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(vp, 2, 0.5);
    TestContext ctx(3);
    const auto init = ctx.output_dir() / "init.npy";
    const Matrix x0 = normal_matrix(300, 2, 12);
    mdlab::npy::write(init, x0);
    const std::size_t steps = 12;
    const auto r = run("euler_maruyama", "{\"steps\": 12, \"noise\": \"brownian\", " + init_param(init) + "}", est, ctx);

    // Transcription: x <- x - h (f - g^2 s) + g(t_i) (W(t_i) - W(t_{i+1})), the path on [0, T] of
    // the shared stream "sampler/noise" (Context::shared_stream), no noise on the last step.
    const auto t = mdlab::time_grid(*vp, "uniform", steps, 1e-3);
    const mdlab::BrownianTree tree(mdlab::RandomStream(3, "shared/sampler/noise"), 0.0, vp->t_end());
    Matrix x = x0, w_now = Matrix::from_shape({300, 2}), w_next = Matrix::from_shape({300, 2});
    tree.at(t[0], w_now);
    for (std::size_t i = 0; i < steps; ++i) {
        const double h = t[i] - t[i + 1], rate = vp->drift_rate(t[i]), g2 = vp->g2(t[i]), v = est->variance(t[i]);
        tree.at(t[i + 1], w_next);
        for (std::size_t k = 0; k < x.size(); ++k) {
            const double xk = x.data()[k];
            x.data()[k] = xk - h * (rate * xk + g2 * xk / v);
            if (i + 1 < steps) x.data()[k] += std::sqrt(g2) * (w_now.data()[k] - w_next.data()[k]);
        }
        std::swap(w_now, w_next);
    }
    CHECK(rms_difference(x.data(), r.samples.data(), x.size()) <= 1e-12);
}

TEST_CASE("samplers on one path agree: predictor_corrector without corrector is euler_maruyama, ddim at eta 1 is "
          "ddpm_ancestral") {
    auto est = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("vp"), 2, 0.5);
    const auto em = run("euler_maruyama", R"({"n": 300, "steps": 30, "noise": "brownian"})", est, 9);
    const auto pc = run("predictor_corrector", R"({"n": 300, "steps": 30, "corrector_steps": 0, "noise": "brownian"})",
                        est, 9);
    CHECK(identical(em.samples, pc.samples));
    // A corrector keeps its own independent draws, the predictor's path is unchanged.
    const auto pc1 = run("predictor_corrector", R"({"n": 300, "steps": 30, "noise": "brownian"})", est, 9);
    CHECK_FALSE(identical(em.samples, pc1.samples));

    const auto ddim = run("ddim", R"({"n": 300, "steps": 30, "eta": 1, "grid": "karras", "noise": "brownian"})", est, 9);
    const auto ddpm = run("ddpm_ancestral", R"({"n": 300, "steps": 30, "grid": "karras", "noise": "brownian"})", est, 9);
    CHECK(rms_difference(ddim.samples.data(), ddpm.samples.data(), ddim.samples.size()) <= 1e-12);
}

TEST_CASE("euler_maruyama with noise brownian samples N(0, s0^2 I)") {
    auto vp = make<mdlab::ForwardProcess>("vp");
    const double s0 = 0.5;
    const std::size_t steps = 200;
    auto est = std::make_shared<GaussianScore>(vp, 2, s0);
    // The scheme's own variance for a linear score (as in euler_maruyama.cpp's test): its offset
    // from s0^2 is the discretisation bias, allowed on top of the Monte Carlo error.
    const auto t = mdlab::time_grid(*vp, "uniform", steps, 1e-3);
    double var = vp->prior_std() * vp->prior_std();
    for (std::size_t i = 0; i < steps; ++i) {
        const double h = t[i] - t[i + 1];
        const double m = 1.0 - h * (vp->drift_rate(t[i]) + vp->g2(t[i]) / est->variance(t[i]));
        var = m * m * var + (i + 1 < steps ? vp->g2(t[i]) * h : 0.0);
    }
    const auto r = run("euler_maruyama", R"({"n": 3000, "steps": 200, "noise": "brownian"})", est);
    check_gaussian(r.samples, s0 * s0, std::abs(var - s0 * s0));
}

TEST_CASE("euler_maruyama on one Brownian path converges with strong order 1 (additive noise), on independent "
          "noise not at all") {
    const auto t0 = std::chrono::steady_clock::now();
    auto vp = make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(vp, 1, 0.5);
    TestContext ctx(21, "em");
    const auto init = ctx.output_dir() / "init.npy";
    const std::size_t n = 200;
    mdlab::npy::write(init, normal_matrix(n, 1, 77));

    // The state at the grid's middle time (T + t_min) / 2, a time of every grid with an even step
    // count (frame 1 of record_every = steps / 2). The end point would not do: the last step takes
    // no noise by design, an O(sqrt h) difference from the path.
    auto middle = [&](std::size_t steps, const char* noise) {
        run("euler_maruyama",
            "{\"steps\": " + std::to_string(steps) + ", \"record_every\": " + std::to_string(steps / 2) +
                ", \"noise\": \"" + noise + "\", " + init_param(init) + "}",
            est, ctx);
        const RawNpy frames = read_raw_npy(ctx.output_dir() / "em.trajectory.npy");
        const RawNpy times = read_raw_npy(ctx.output_dir() / "em.trajectory_t.npy");
        REQUIRE(frames.shape == std::vector<std::size_t>{3, n, 1});
        REQUIRE(times.data[1] == 0.5 * (vp->t_end() + 1e-3));
        return std::vector<double>(frames.data.begin() + n, frames.data.begin() + 2 * n);
    };

    const std::size_t fine_steps = 4096;
    const std::vector<std::size_t> coarse{32, 64, 128, 256};
    for (const char* noise : {"brownian", "independent"}) {
        const auto fine = middle(fine_steps, noise);
        std::vector<double> h, error;
        for (const std::size_t steps : coarse) {
            const auto x = middle(steps, noise);
            h.push_back(1.0 / double(steps));
            error.push_back(rms_difference(x.data(), fine.data(), n));
        }
        const double order = log_slope(h, error);
        WARN("noise " << noise << ": strong error at t = 0.5 against " << fine_steps << " steps, for " << coarse[0]
                      << " .. " << coarse.back() << " steps: " << error[0] << " " << error[1] << " " << error[2] << " "
                      << error[3] << "; measured order " << order);
        if (std::string(noise) == "brownian") {
            CHECK(order > 0.8);
            CHECK(order < 1.3);
        } else {
            CHECK(order < 0.2);  // another path at every step count: no pathwise convergence
            CHECK(error.back() > 0.1);
        }
    }
    WARN("strong order test: " << seconds_since(t0) << " s");
}

TEST_CASE("every SDE sampler follows one path across step counts with noise brownian") {
    // The final samples of 32 and 256 steps from the same initial points: on one Brownian path they
    // differ by the discretisation error only; on independent draws by a whole other path. The
    // log-SNR grid (the multistep SDE solvers overshoot on VP's uniform grid at 32 steps, see their
    // docs); predictor_corrector without its Langevin corrector, whose noise is no path increment.
    auto est = std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>("vp"), 1, 0.5);
    TestContext ctx(5, "path");
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, normal_matrix(200, 1, 3));
    for (const auto& name : sde_samplers) {
        INFO(name);
        std::vector<double> gap;
        for (const char* noise : {"brownian", "independent"}) {
            auto at = [&](int steps) {
                const std::string corrector = name == "predictor_corrector" ? R"(, "corrector_steps": 0)" : "";
                return run(name, "{\"steps\": " + std::to_string(steps) + ", \"noise\": \"" + noise +
                                     "\", \"grid\": \"log_snr\", " + init_param(init) + noisy(name) + corrector + "}",
                           est, ctx)
                    .samples;
            };
            const Matrix coarse = at(32), fine = at(256);
            gap.push_back(rms_difference(coarse.data(), fine.data(), coarse.size()));
        }
        WARN(name << ": 32 vs 256 steps, rms difference " << gap[0] << " on one path, " << gap[1] << " on independent draws");
        CHECK(gap[0] < 0.5 * gap[1]);
    }
}
