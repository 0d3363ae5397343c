// Fair alternatives: a node's params are shared by every variant of its alternatives, each variant's
// own params win, a shared key a variant's plugin lacks is an error naming the node, the variant and
// the key (unless the node lists it in "shared_where_present", which leaves it out of those
// variants), and variant_differences() lists the resolved params that differ between the variants.
#include <catch2/catch.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/variant_differences.hpp"
#include "mdlab_test.hpp"

using namespace mdlab;
using namespace mdlab::runtime;

namespace {

// A pipeline whose nodes are a circle, its training set, vp and the empirical score, then
// `nodes`, and whose sweep is `sweep`.
std::string with_score(const std::string& nodes, const std::string& sweep) {
    return R"({"seed": 1, "nodes": [
      {"id": "circle", "plugin": "circle"},
      {"id": "train", "plugin": "sample", "params": {"n": 20}, "inputs": {"manifold": "circle"}},
      {"id": "vp", "plugin": "vp"},
      {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
      )" + nodes + "], \"sweep\": " + sweep + "}";
}

// A sampler node `gen` (declared as `plugin` with `params` and `extra` node fields) and its
// alternatives `variants`.
std::string pipeline_text(const std::string& plugin, const std::string& params, const std::string& variants,
                          const std::string& extra = "") {
    return with_score(R"({"id": "gen", "plugin": ")" + plugin + R"(", "params": )" + params + extra +
                          R"(, "inputs": {"score": "score"}})",
                      R"({"alternatives": {"gen": )" + variants + "}}");
}

ValidatedPipeline validated(const std::string& text) {
    return validate(read_pipeline_text(text, "p.json"), {}, test::registry());
}

// The parameters variant `v` of node `gen` runs with (its first cell's).
const Params& variant_params(const ValidatedPipeline& vp, std::size_t v) {
    const std::size_t gen = vp.node_index("gen");
    for (const Cell& c : vp.cells)
        if (c.variant[gen] == v) return c.params[gen];
    throw std::logic_error("no cell runs variant " + std::to_string(v));
}

// The single diagnostic validating `text` throws.
Diagnostic only_problem(const std::string& text) {
    try {
        validated(text);
    } catch (const BadInput& e) {
        REQUIRE(e.diagnostics().size() == 1);
        return e.diagnostics().front();
    }
    FAIL("the pipeline validated");
    return {};
}

const std::string shared = R"({"n": 40, "steps": 12, "grid": "log_snr", "denoise": true})";

}  // namespace

TEST_CASE("every variant inherits the node's params: another plugin, or the same one with params of its own") {
    const auto vp = validated(pipeline_text("euler_maruyama", shared, R"([
        {"plugin": "pf_ode_heun"},
        {"label": "em fine", "plugin": "euler_maruyama", "params": {"steps": 30}}])"));
    for (std::size_t v = 0; v < 2; ++v) {
        INFO("variant " << v);
        const Params& p = variant_params(vp, v);
        CHECK(p.integer("n") == 40);
        CHECK(p.string("grid") == "log_snr");
        CHECK(p.boolean("denoise"));
        CHECK(p.real("t_min") == 1e-3);  // not shared: the plugin's default
    }
    CHECK(variant_params(vp, 0).integer("steps") == 12);
}

TEST_CASE("a variant's own params win over the shared ones") {
    const auto vp = validated(pipeline_text("euler_maruyama", shared, R"([
        {"plugin": "euler_maruyama"},
        {"plugin": "pf_ode_heun", "params": {"steps": 30, "denoise": false, "t_min": 0.01}}])"));
    const Params& heun = variant_params(vp, 1);
    CHECK(heun.integer("steps") == 30);
    CHECK_FALSE(heun.boolean("denoise"));
    CHECK(heun.real("t_min") == 0.01);
    CHECK(heun.integer("n") == 40);  // still shared
    CHECK(variant_params(vp, 0).integer("steps") == 12);
}

TEST_CASE("a shared key a variant's plugin lacks is an error at the node's key naming node, variant and key") {
    // ddim's eta: the Euler-Maruyama variant has no such parameter.
    const std::string text = pipeline_text("ddim", R"({"n": 40, "eta": 0.5})", R"([
        {"plugin": "ddim"}, {"label": "em", "plugin": "euler_maruyama"}])");
    const Diagnostic d = only_problem(text);
    CHECK(d.node == "gen");
    CHECK(d.key == "eta");
    CHECK(d.json_path == "/nodes/4/params/eta");
    CHECK(d.line == 6);
    CHECK(d.message.find("alternative 'em' of node 'gen'") != std::string::npos);
    CHECK(d.message.find("'eta'") != std::string::npos);
    CHECK(d.message.find("plugin 'euler_maruyama' does not have") != std::string::npos);
    CHECK(d.hint.find("valid parameters of 'euler_maruyama': denoise, grid, init, n, noise, record_every, rho, sigmas, sigmas_file, steps, t_min, times, times_file") !=
          std::string::npos);
    CHECK(d.hint.find("\"shared_where_present\"") != std::string::npos);
}

TEST_CASE("a key marked shared_where_present is left out of the variants whose plugin lacks it") {
    const auto vp = validated(pipeline_text("ddim", R"({"n": 40, "eta": 0.5})", R"([
        {"plugin": "ddim"}, {"label": "em", "plugin": "euler_maruyama"}, {"plugin": "pf_ode_heun", "params": {"n": 10}}])",
                                            R"(, "shared_where_present": ["eta"])"));
    CHECK(variant_params(vp, 0).real("eta") == 0.5);
    CHECK(variant_params(vp, 0).integer("n") == 40);
    CHECK_FALSE(variant_params(vp, 1).has("eta"));
    CHECK(variant_params(vp, 1).integer("n") == 40);
    CHECK(variant_params(vp, 2).integer("n") == 10);
    // Only the marked keys are left out; an unmarked one the plugin lacks stays an error.
    const Diagnostic d = only_problem(pipeline_text("ddim", R"({"grid": "log_snr", "denoise": true})",
                                                    R"([{"plugin": "drifting", "inputs": {"data": "train"}}])",
                                                    R"(, "shared_where_present": ["grid"])"));
    CHECK(d.key == "denoise");
    CHECK(d.message.find("alternative 'drifting' of node 'gen'") != std::string::npos);
}

TEST_CASE("shared_where_present names keys of the node's params") {
    const Diagnostic d = only_problem(pipeline_text("ddim", R"({"n": 40, "eta": 0.5})", R"([{"plugin": "ddim"}])",
                                                    R"(, "shared_where_present": ["etta"])"));
    CHECK(d.json_path == "/nodes/4/shared_where_present/0");
    CHECK(d.message.find("'etta' is not one of the node's params") != std::string::npos);
    CHECK(d.hint.find("did you mean 'eta'?") != std::string::npos);
    const Diagnostic not_list = only_problem(pipeline_text("ddim", "{}", R"([{"plugin": "ddim"}])",
                                                           R"(, "shared_where_present": "eta")"));
    CHECK(not_list.key == "shared_where_present");
}

TEST_CASE("an inherited value a variant's plugin refuses is reported at the node's key, naming the variant") {
    // drifting's step size eta may exceed 1; ddim's eta (a noise fraction) may not.
    const std::string text =
        with_score(R"({"id": "gen", "plugin": "drifting", "params": {"eta": 2}, "inputs": {"data": "train"}})",
                   R"({"alternatives": {"gen": [{"plugin": "drifting"}, {"plugin": "ddim", "inputs": {"score": "score"}}]}})");
    const Diagnostic d = only_problem(text);
    CHECK(d.json_path == "/nodes/4/params/eta");
    CHECK(d.key == "eta");
    CHECK(d.message.find("out of range") != std::string::npos);
    CHECK(d.message.find("(inherited by alternative 'ddim' of node 'gen')") != std::string::npos);
}

TEST_CASE("validate's view: the resolved params that differ between the variants, and their plugins") {
    const auto vp = validated(pipeline_text("euler_maruyama", shared, R"([
        {"plugin": "euler_maruyama"},
        {"plugin": "pf_ode_heun", "params": {"steps": 6}},
        {"plugin": "ddim", "params": {"eta": 1}}])"));
    const auto diffs = variant_differences(vp);
    REQUIRE(diffs.size() == 1);
    const VariantDifferences& d = diffs.front();
    CHECK(d.node == "gen");
    CHECK(d.labels == std::vector<std::string>{"euler_maruyama", "pf_ode_heun", "ddim"});
    CHECK(d.inputs.empty());  // the same for all
    // n, grid, denoise are shared, so equal; steps is overridden, eta only ddim has, noise (the SDE
    // samplers' step noise) all but pf_ode_heun.
    CHECK(d.keys == std::vector<std::string>{"eta", "noise", "steps"});
    CHECK(d.values ==
          std::vector<std::vector<std::string>>{{"-", "independent", "12"}, {"-", "-", "6"}, {"1", "independent", "12"}});
    CHECK(variant_differences_text(diffs) ==
          "alternatives of node 'gen': the resolved parameters that differ (-: the plugin has no such parameter)\n"
          "  variant         plugin          eta  noise        steps\n"
          "  euler_maruyama  euler_maruyama  -    independent  12\n"
          "  pf_ode_heun     pf_ode_heun     -    -            6\n"
          "  ddim            ddim            1    independent  12\n");
}

TEST_CASE("validate's view says so when only the inputs differ or one variant is left, and is empty without alternatives") {
    const std::string text = with_score(
        R"({"id": "oracle", "plugin": "oracle", "inputs": {"manifold": "circle", "process": "vp"}},
           {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 10}, "inputs": {"score": "score"}})",
        R"({"alternatives": {"gen": [{"label": "empirical", "plugin": "euler_maruyama"},
                                     {"label": "oracle", "plugin": "euler_maruyama", "inputs": {"score": "oracle"}}]}})");
    CHECK(variant_differences_text(variant_differences(validated(text))) ==
          "alternatives of node 'gen': no resolved parameter differs between its 2 variants\n"
          "  variant    plugin          inputs\n"
          "  empirical  euler_maruyama  score=score\n"
          "  oracle     euler_maruyama  score=oracle\n");
    CHECK(variant_differences_text(variant_differences(validated(pipeline_text("ddim", "{}", R"([{"plugin": "ddim"}])")))) ==
          "alternatives of node 'gen': a single variant, nothing to compare\n"
          "  variant  plugin\n"
          "  ddim     ddim\n");
    const std::string plain = R"({"seed": 1, "nodes": [{"id": "circle", "plugin": "circle"}]})";
    CHECK(variant_differences(validated(plain)).empty());
}
