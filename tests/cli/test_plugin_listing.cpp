// mdlab plugins / mdlab describe: what a new user sees first.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <filesystem>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;

namespace {
const std::vector<std::string> builtins{
    // manifolds
    "circle", "sphere", "torus", "swiss_roll", "curve", "linear_subspace", "gaussian_mixture", "dataset",
    // processes
    "ou", "vp", "subvp", "ve", "edm", "cosine", "flow_matching", "interpolant",
    // estimators (mlp is listed when libtorch was found at build time; see mlp_listed below)
    "empirical", "kernel_smoothed", "tangent_smoothed", "oracle", "drift", "perturbed", "gaussian_score", "knn_score",
    // samplers
    "euler_maruyama", "ddpm_ancestral", "ddim", "pf_ode_euler", "pf_ode_heun", "rk45", "dpmpp_2m",
    "predictor_corrector", "annealed_langevin", "drifting", "edm_stochastic", "restart", "unipc", "dpmpp_2m_sde",
    "dpmpp_3m_sde", "dpmpp_3m", "velocity_euler", "velocity_heun",
    // metrics
    "memorization", "manifold_distance", "generalization", "wasserstein", "sliced_wasserstein", "mmd",
    "tv_intrinsic", "knn_kl", "score_error", "gradient_error", "drift_score_gap", "coverage", "precision_recall",
    "density_coverage", "nll", "score_jacobian_dim"};
}

TEST_CASE("mdlab plugins lists the built-in plugins with one-line summaries") {
    const auto r = run_mdlab({"plugins"});
    REQUIRE(r.exit_code == 0);
    for (const auto& name : builtins) {
        INFO(name);
        const auto at = r.out.find("  " + name + " ");
        REQUIRE(at != std::string::npos);
        const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
        CHECK(line.size() > name.size() + 20);  // a summary follows the name
    }
    for (const char* kind : {"manifold:", "process:", "estimator:", "sampler:", "metric:"})
        CHECK(r.out.find(kind) != std::string::npos);
}

TEST_CASE("mdlab describe works for every plugin") {
    for (const auto& name : builtins) {
        INFO(name);
        const auto r = run_mdlab({"describe", name});
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind(name + " (", 0) == 0);
    }
}

TEST_CASE("the mlp estimator is built, listed and described wherever libtorch is installed") {
    const auto r = run_mdlab({"plugins", "--kind", "estimator"});
    REQUIRE(r.exit_code == 0);
    if (!libtorch_found()) {
        WARN("skipped: no usable libtorch at build time, so the optional mlp plugin is not built");
        CHECK(r.out.find("  mlp ") == std::string::npos);
        return;
    }
    INFO("libtorch was found at build time: the mlp plugin must be built and load");
    REQUIRE(std::filesystem::exists(plugin_dir() / "mdlab_mlp.so"));
    CHECK(r.out.find("  mlp ") != std::string::npos);
    const auto d = run_mdlab({"describe", "mlp"});
    CHECK(d.exit_code == 0);
    for (const char* key : {"width", "depth", "time_features", "epochs", "batch_size", "learning_rate", "patience"})
        CHECK(d.out.find(key) != std::string::npos);
}

TEST_CASE("mdlab plugins --kind and --json") {
    const auto r = run_mdlab({"plugins", "--kind", "sampler"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("euler_maruyama") != std::string::npos);
    CHECK(r.out.find("pf_ode_heun") != std::string::npos);
    CHECK(r.out.find("circle") == std::string::npos);

    const auto bad = run_mdlab({"plugins", "--kind", "samplers"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("did you mean 'sampler'") != std::string::npos);

    const auto j = run_mdlab({"plugins", "--json"});
    REQUIRE(j.exit_code == 0);
    const auto all = boost::json::parse(j.out).as_array();
    std::vector<std::string> names;
    for (const auto& p : all) names.emplace_back(p.at("name").as_string());
    for (const auto& name : builtins) CHECK(std::find(names.begin(), names.end(), name) != names.end());
}

TEST_CASE("mdlab describe prints inputs and parameters with types, defaults and docs") {
    const auto e = run_mdlab({"describe", "empirical"});
    REQUIRE(e.exit_code == 0);
    CHECK(e.out.find("empirical (estimator, version") != std::string::npos);
    CHECK(e.out.find("data") != std::string::npos);
    CHECK(e.out.find("training points") != std::string::npos);
    CHECK(e.out.find("process") != std::string::npos);
    CHECK(e.out.find("precision") != std::string::npos);
    CHECK(e.out.find("f64|f32") != std::string::npos);

    const auto s = run_mdlab({"describe", "euler_maruyama"});
    REQUIRE(s.exit_code == 0);
    for (const char* text : {"steps", "int", "500", "[1, inf)", "number of time steps", "t_min", "real",
                             "grid", "choice", "uniform|log_snr|karras"})
        CHECK(s.out.find(text) != std::string::npos);

    const auto j = run_mdlab({"describe", "circle", "--json"});
    REQUIRE(j.exit_code == 0);
    const auto spec = boost::json::parse(j.out).as_object();
    CHECK(spec.at("kind").as_string() == "manifold");
    bool has_dim = false;
    for (const auto& p : spec.at("params").as_array())
        if (p.at("key").as_string() == "ambient_dim") {
            has_dim = true;
            CHECK(p.at("type").as_string() == "int");
            CHECK(p.at("min").to_number<double>() == 2.0);
        }
    CHECK(has_dim);

    const auto bad = run_mdlab({"describe", "empiricl"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("did you mean 'empirical'") != std::string::npos);
}
