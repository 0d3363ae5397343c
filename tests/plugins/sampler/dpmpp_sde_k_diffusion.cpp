// dpmpp_2m_sde, dpmpp_3m_sde and dpmpp_3m against transcriptions of k-diffusion's
// sample_dpmpp_2m_sde and sample_dpmpp_3m_sde (k_diffusion_dpmpp.hpp), fed the same sigmas, the
// same starting points and the same noise; and the eta = 0 members against the ODE solvers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "error_key.hpp"
#include "k_diffusion_dpmpp.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// Largest |a - b| over the largest |b|.
double scaled_diff(const Matrix& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        err = std::max(err, std::abs(a.data()[k] - b[k]));
        scale = std::max(scale, std::abs(b[k]));
    }
    return err / scale;
}

double scaled_diff(const Matrix& a, const Matrix& b) { return scaled_diff(a, std::vector<double>(b.data(), b.data() + b.size())); }

struct Case {
    const char* sampler;
    const char* params;  // extra parameters, with a leading comma
    KDiffusionCall reference;
};

const Case cases[] = {
    {"dpmpp_2m_sde", "", {"2m_sde", 1.0, 1.0, false}},
    {"dpmpp_2m_sde", R"(, "solver_type": "heun")", {"2m_sde", 1.0, 1.0, true}},
    {"dpmpp_2m_sde", R"(, "eta": 0.5, "s_noise": 0.8)", {"2m_sde", 0.5, 0.8, false}},
    {"dpmpp_2m_sde", R"(, "eta": 0.3, "solver_type": "heun")", {"2m_sde", 0.3, 1.0, true}},
    {"dpmpp_3m_sde", "", {"3m_sde", 1.0, 1.0, false}},
    {"dpmpp_3m_sde", R"(, "eta": 0.7, "s_noise": 1.2)", {"3m_sde", 0.7, 1.2, false}},
    {"dpmpp_3m", R"(, "coefficients": "reference")", {"3m_sde", 0.0, 1.0, false}},
};

}  // namespace

TEST_CASE("dpmpp_2m_sde, dpmpp_3m_sde and dpmpp_3m are k-diffusion's samplers on the same sigmas and noise",
          "[dpmpp_2m_sde][dpmpp_3m_sde][dpmpp_3m]") {
    const double s0 = 0.7, t_min = 2e-3;
    const std::size_t steps = 12, n = 10, d = 2;
    // VE and EDM are k-diffusion's variable itself; VP maps onto it through x / alpha and sigma / alpha.
    for (const char* process : {"ve", "edm", "vp"}) {
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(process);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        mdlab::test::TestContext ctx(9);
        const Matrix x_T = normal_matrix(n, d, 43, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x_T);

        // k-diffusion's sigmas: sigma / alpha on our Karras grid, with or without the final 0
        // (our denoise = true: k-diffusion's last step to 0 is the denoiser).
        const std::vector<double> t = mdlab::time_grid(*proc, "karras", steps, t_min, 7.0);
        std::vector<double> sigmas;
        for (double ti : t) sigmas.push_back(proc->sigma(ti) / proc->alpha(ti));
        std::vector<double> sigmas0 = sigmas;
        sigmas0.push_back(0.0);
        const double a_T = proc->alpha(t.front()), a_min = proc->alpha(t.back());
        auto denoiser = [&](double x, double sigma) { return s0 * s0 * x / (s0 * s0 + sigma * sigma); };
        // The noise of step i: step_noise of the shared stream; none on our last step (SCIENCE.md
        // section 3), which k-diffusion gets from a noise sampler returning 0 there.
        std::vector<Matrix> z;
        for (std::size_t i = 0; i + 1 < steps; ++i) {
            z.push_back(Matrix::from_shape({n, d}));
            mdlab::step_noise(ctx.shared_stream("sampler/noise"), i, z.back());
        }

        const std::string common = R"("steps": 12, "grid": "karras", "t_min": 0.002, "init": ")" + init.string() + "\"";
        for (const Case& c : cases) {
            INFO(process << " / " << c.sampler << c.params);
            const auto plain = run(c.sampler, "{" + common + c.params + "}", est, ctx);
            const auto den = run(c.sampler, "{" + common + c.params + R"(, "denoise": true})", est, ctx);
            CHECK(stat(plain, "nfe") == steps);
            CHECK(stat(den, "nfe") == steps + 1);  // len(sigmas0) - 1 model calls in k-diffusion
            std::vector<double> ref, ref0;
            for (std::size_t k = 0; k < x_T.size(); ++k) {
                auto noise = [&](std::size_t i) { return i < z.size() ? z[i].data()[k] : 0.0; };
                ref.push_back(a_min * c.reference(x_T.data()[k] / a_T, sigmas, denoiser, noise));
                ref0.push_back(c.reference(x_T.data()[k] / a_T, sigmas0, denoiser, noise));
            }
            const double diff = scaled_diff(plain.samples, ref), diff0 = scaled_diff(den.samples, ref0);
            CHECK(diff <= 1e-12);
            CHECK(diff0 <= 1e-12);
            WARN(process << " / " << c.sampler << c.params << " vs k-diffusion: relative difference " << diff
                         << " (sigmas), " << diff0 << " (sigmas + [0], denoise = true)");
        }
    }
}

TEST_CASE("eta = 0: dpmpp_2m_sde is dpmpp_2m and dpmpp_3m_sde is dpmpp_3m, without noise",
          "[dpmpp_2m_sde][dpmpp_3m_sde][dpmpp_3m]") {
    for (const char* process : {"vp", "ve"}) {
        INFO(process);
        auto est = std::make_shared<GaussianScore>(mdlab::test::make<mdlab::ForwardProcess>(process), 3, 0.5);
        const std::string p = R"({"n": 200, "steps": 40, "grid": "karras")";
        const auto two = run("dpmpp_2m", p + "}", est, 5);
        const auto two_sde = run("dpmpp_2m_sde", p + R"(, "eta": 0})", est, 5);
        const double diff = scaled_diff(two_sde.samples, two.samples);
        WARN(process << ": dpmpp_2m_sde (eta = 0, midpoint) vs dpmpp_2m: relative difference " << diff);
        CHECK(diff <= 1e-13);
        // dpmpp_3m is the eta = 0 member of the same update: bit-identical, with either coefficients.
        for (const std::string c : {R"(, "coefficients": "reference")", R"(, "coefficients": "third_order")"})
            CHECK(identical(run("dpmpp_3m_sde", p + R"(, "eta": 0)" + c + "}", est, 5).samples,
                            run("dpmpp_3m", p + c + "}", est, 5).samples));
        CHECK(identical(run("dpmpp_3m", p + R"(, "coefficients": "third_order"})", est, 5).samples,
                        run("dpmpp_3m", p + "}", est, 5).samples));  // the default
        CHECK(!identical(run("dpmpp_3m", p + R"(, "coefficients": "reference"})", est, 5).samples,
                         run("dpmpp_3m", p + "}", est, 5).samples));
        // Heun's correction is another second-order method: close, not equal.
        const auto heun = run("dpmpp_2m_sde", p + R"(, "eta": 0, "solver_type": "heun"})", est, 5);
        CHECK(scaled_diff(heun.samples, two.samples) > 1e-8);
        CHECK(scaled_diff(heun.samples, two.samples) < 1e-2);
        // With noise the seed matters.
        CHECK(!identical(run("dpmpp_2m_sde", p + "}", est, 5).samples, run("dpmpp_2m_sde", p + "}", est, 6).samples));
    }
}

TEST_CASE("dpmpp SDE samplers refuse bad parameters, naming the key", "[dpmpp_2m_sde][dpmpp_3m_sde]") {
    using mdlab::Sampler;
    for (const char* sampler : {"dpmpp_2m_sde", "dpmpp_3m_sde"}) {
        INFO(sampler);
        CHECK(error_key([&] { mdlab::test::make<Sampler>(sampler, R"({"eta": -0.1})"); }) == "eta");
        CHECK(error_key([&] { mdlab::test::make<Sampler>(sampler, R"({"s_noise": -1})"); }) == "s_noise");
    }
    CHECK(error_key([] { mdlab::test::make<Sampler>("dpmpp_2m_sde", R"({"solver_type": "euler"})"); }) == "solver_type");
    CHECK_THROWS_WITH(mdlab::test::make<Sampler>("dpmpp_2m_sde", R"({"solver_type": "euler"})"),
                      Catch::Matchers::Contains("midpoint") && Catch::Matchers::Contains("heun"));
    for (const char* sampler : {"dpmpp_3m_sde", "dpmpp_3m"})
        CHECK(error_key([&] { mdlab::test::make<Sampler>(sampler, R"({"coefficients": "exact"})"); }) == "coefficients");
    CHECK(error_key([] { mdlab::test::make<Sampler>("dpmpp_3m", R"({"eta": 1})"); }) == "eta");
}
