// Fair alternatives through the command line: the variants of a sampler node run with the node's
// shared params (a run's resolved pipeline.json shows them), `mdlab validate` prints the resolved
// params that differ between the variants, and a shared key a variant's plugin lacks exits 2
// naming file:line:col, the node, the variant and the key.
#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;

namespace {

// The issue's case: the node says n, steps, grid and denoise; its variants name only a plugin.
std::string pipeline(const std::string& gen_params, const std::string& variants, const std::string& gen_extra = "") {
    return R"({"seed": 5, "nodes": [
  {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 4}},
  {"id": "train", "plugin": "sample", "params": {"n": 60}, "inputs": {"manifold": "circle"}},
  {"id": "vp", "plugin": "vp"},
  {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
  {"id": "gen", "plugin": "ddim", "params": )" + gen_params + gen_extra + R"(,
   "inputs": {"score": "score"}},
  {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}],
 "sweep": {"grid": {"seed": [1, 2]}, "alternatives": {"gen": )" + variants + "}}}";
}

const std::string shared = R"({"n": 30, "steps": 8, "grid": "log_snr", "denoise": true, "eta": 0.5})";
const std::string variants = R"([{"plugin": "ddim"}, {"label": "heun", "plugin": "pf_ode_heun"},
                                 {"label": "em fine", "plugin": "euler_maruyama", "params": {"steps": 16}}])";
const std::string marked = R"(, "shared_where_present": ["eta"])";

CommandResult mdlab_on(const TempDir& tmp, const std::string& text, std::vector<std::string> args) {
    write_text(tmp.path() / "p.json", text);
    args.insert(args.begin() + 1, (tmp.path() / "p.json").string());
    return run_mdlab(args);
}

}  // namespace

TEST_CASE("validate prints, per alternatives node and variant, the resolved params that differ") {
    TempDir tmp;
    const auto r = mdlab_on(tmp, pipeline(shared, variants, marked), {"validate"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("ok: 6 nodes, 6 sweep cells\n"
                     "alternatives of node 'gen': the resolved parameters that differ (-: the plugin has no such parameter)\n"
                     "  variant  plugin          eta  noise        steps\n"
                     "  ddim     ddim            0.5  independent  8\n"
                     "  heun     pf_ode_heun     -    -            8\n"
                     "  em fine  euler_maruyama  -    independent  16\n") != std::string::npos);
}

TEST_CASE("the variants run with the node's shared params unless they override them") {
    TempDir tmp;
    const auto r = mdlab_on(tmp, pipeline(shared, variants, marked), {"run", "--out", (tmp.path() / "run").string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto resolved = boost::json::parse(read_text(tmp.path() / "run" / "pipeline.json"));
    const auto& alternatives = resolved.at("nodes").at(4).at("alternatives").as_array();
    REQUIRE(alternatives.size() == 3);
    for (const auto& a : alternatives) {
        INFO(a.at("label").as_string());
        const auto& params = a.at("params").as_object();
        CHECK(params.at("n").to_number<int>() == 30);
        CHECK(params.at("grid").as_string() == "log_snr");
        CHECK(params.at("denoise").as_bool());
        CHECK(params.at("steps").to_number<int>() == (a.at("label").as_string() == "em fine" ? 16 : 8));
        CHECK(params.contains("eta") == (a.at("plugin").as_string() == "ddim"));
    }
}

TEST_CASE("a shared key a variant's plugin lacks exits 2 naming the node, the variant and the key") {
    TempDir tmp;
    const auto r = mdlab_on(tmp, pipeline(shared, variants), {"validate"});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    // Reported at the node's key (line 6), once per variant without it.
    const std::string file = (tmp.path() / "p.json").string();
    CHECK(r.err.find(file + ":6:") != std::string::npos);
    CHECK(r.err.find("error: node 'gen', key 'eta': alternative 'heun' of node 'gen' inherits the node's parameter 'eta', "
                     "which its plugin 'pf_ode_heun' does not have") != std::string::npos);
    CHECK(r.err.find("alternative 'em fine' of node 'gen' inherits the node's parameter 'eta'") != std::string::npos);
    CHECK(r.err.find("valid parameters of 'euler_maruyama': denoise, grid, init, n, noise, record_every, rho, sigmas, sigmas_file, steps, t_min, times, times_file") !=
          std::string::npos);
    CHECK(r.err.find("(at JSON path /nodes/4/params/eta)") != std::string::npos);
    // And `run` refuses it too, before anything runs.
    const auto run = mdlab_on(tmp, pipeline(shared, variants), {"run", "--out", (tmp.path() / "run").string(), "-q"});
    CHECK(run.exit_code == 2);
    CHECK_FALSE(std::filesystem::exists(tmp.path() / "run" / "results.csv"));
}
