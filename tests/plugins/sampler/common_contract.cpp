// What every score-based sampler promises, checked for all of them at once: the common
// parameters, identical outputs for the same init file, thread-count independence, trajectory
// recording, the score-evaluation count, and Tweedie denoising at the end.
#include <fstream>
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include "mdlab/runtime/registry.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> samplers{"euler_maruyama",  "ddpm_ancestral", "ddim",
                                        "pf_ode_euler",    "pf_ode_heun",    "rk45",
                                        "dpmpp_2m",        "predictor_corrector", "annealed_langevin",
                                        "edm_stochastic",  "restart",        "unipc",
                                        "dpmpp_2m_sde",    "dpmpp_3m_sde",   "dpmpp_3m",
                                        "velocity_euler",  "velocity_heun"};

// rk45 chooses its own steps; its `steps` is a cap on them.
std::string params_for(const std::string& name, std::string json) {
    if (name != "rk45") return json;
    const auto at = json.find("\"steps\": ");
    const auto end = json.find_first_of(",}", at);
    return json.replace(at, end - at, "\"steps\": 10000");
}

std::shared_ptr<const GaussianScore> gaussian(const char* process = "ve") {
    return std::make_shared<GaussianScore>(make<mdlab::ForwardProcess>(process), 3, 0.7);
}

}  // namespace

TEST_CASE("every sampler declares the common parameters") {
    using mdlab::ParamType;
    // The common parameters (docs/plugins.md), their types and, where fixed, their defaults.
    struct Common {
        const char* key;
        ParamType type;
    };
    const std::vector<Common> common{{"n", ParamType::integer},         {"steps", ParamType::integer},
                                     {"t_min", ParamType::real},        {"grid", ParamType::choice},
                                     {"rho", ParamType::real},          {"sigmas", ParamType::real_list},
                                     {"times", ParamType::real_list},   {"sigmas_file", ParamType::path},
                                     {"times_file", ParamType::path},   {"denoise", ParamType::boolean},
                                     {"init", ParamType::path},         {"record_every", ParamType::integer}};
    for (const auto& name : samplers) {
        INFO(name);
        const mdlab::runtime::PluginRecord* rec = registry().find(name);
        REQUIRE(rec != nullptr);
        const mdlab::PluginSpec& spec = rec->spec;
        CHECK(spec.kind == mdlab::Kind::sampler);
        const mdlab::PortSpec* score = spec.find_input("score");
        REQUIRE(score != nullptr);
        CHECK(score->kind == mdlab::ValueKind::estimator);
        for (const auto& [key, type] : common) {
            INFO(key);
            const mdlab::ParamSpec* p = spec.find_param(key);
            REQUIRE(p != nullptr);
            CHECK(p->type == type);
            CHECK_FALSE(p->is_required());
        }
        CHECK(std::get<std::int64_t>(*spec.find_param("n")->default_value) == 1000);
        CHECK(std::get<double>(*spec.find_param("t_min")->default_value) == 1e-3);
        CHECK(std::get<std::string>(*spec.find_param("grid")->default_value) == "uniform");
        CHECK_FALSE(std::get<bool>(*spec.find_param("denoise")->default_value));
        CHECK(std::get<std::int64_t>(*spec.find_param("record_every")->default_value) == 0);
        // The roles the runtime relies on (sample counts, process times, initial points).
        CHECK(spec.find_param(mdlab::ParamRole::sample_count) == spec.find_param("n"));
        CHECK(spec.find_param(mdlab::ParamRole::initial_points) == spec.find_param("init"));
        CHECK(make_component(name) != nullptr);  // constructs with the defaults
    }
}

TEST_CASE("every sampler gives identical outputs for the same init file, on 1 and 2 threads") {
    TestContext ctx(11);
    const fs::path init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, normal_matrix(40, 3, 5, 50.0));
    for (const auto& name : samplers) {
        INFO(name);
        const std::string params = params_for(name, R"({"steps": 12, "init": ")" + init.string() + R"("})");
        const auto a = run(name, params, gaussian(), 3);
        const auto b = run(name, params, gaussian(), 3);
        REQUIRE(mdlab::rows(a.samples) == 40);
        CHECK(identical(a.samples, b.samples));
        mdlab::SampleResult one;
        {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
            one = run(name, params, gaussian(), 3);
        }
        CHECK(identical(a.samples, one.samples));
        CHECK(stat(a, "nfe") >= 1.0);
    }
}

TEST_CASE("every sampler records its trajectory on request") {
    for (const auto& name : samplers) {
        INFO(name);
        TestContext ctx(2, "gen");
        run(name, params_for(name, R"({"n": 7, "steps": 8, "record_every": 4})"), gaussian(), ctx);
        const fs::path traj = ctx.output_dir() / "gen.trajectory.npy";
        const fs::path times = ctx.output_dir() / "gen.trajectory_t.npy";
        REQUIRE(fs::is_regular_file(traj));
        REQUIRE(fs::is_regular_file(times));
        const Matrix t = mdlab::npy::read(times);
        const std::size_t frames = mdlab::rows(t) * mdlab::cols(t);
        CHECK(frames >= 2);
        // The header declares (frames, 7, 3); the payload is frames * 7 * 3 doubles.
        const std::string bytes = [&] {
            std::ifstream in(traj, std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(in), {});
        }();
        CHECK(bytes.find("(" + std::to_string(frames) + ", 7, 3)") != std::string::npos);
        CHECK(bytes.size() % 64 == (frames * 7 * 3 * 8) % 64);
    }
}

TEST_CASE("denoise ends every sampler with the Tweedie step and counts it") {
    for (const auto& name : samplers) {
        INFO(name);
        const auto plain = run(name, params_for(name, R"({"n": 30, "steps": 10, "t_min": 0.5})"), gaussian(), 4);
        const auto den = run(name, params_for(name, R"({"n": 30, "steps": 10, "t_min": 0.5, "denoise": true})"), gaussian(), 4);
        auto g = gaussian();
        // Tweedie for N(0, s0^2 I) is linear: D(x, t) = denoise_factor(t) x.
        const double f = g->denoise_factor(0.5);
        double worst = 0.0;
        for (std::size_t k = 0; k < plain.samples.size(); ++k)
            worst = std::max(worst, std::abs(den.samples.data()[k] - f * plain.samples.data()[k]));
        CHECK(worst < 1e-12);
        CHECK(stat(den, "nfe") == stat(plain, "nfe") + 1.0);
    }
}
