// Sweeps beyond the grid: zipped keys, alternative components for a node, the smoke size and
// declared rate fits. Cells come out in the documented order, every alternative sees the same
// data and noise (and computes exactly what a pipeline with that plugin alone computes), and
// every mistake in the new sections exits 2 naming where it is.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string nodes = R"(
  "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 4}},
    {"id": "train", "plugin": "sample", "params": {"n": 60}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 50, "steps": 30, "t_min": 1e-3, "denoise": true},
     "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],)";

const std::string alternatives = R"("alternatives": {"score": [
      {"plugin": "empirical"},
      {"label": "kernel h=0.1", "plugin": "kernel_smoothed", "params": {"bandwidth": 0.1}},
      {"plugin": "oracle", "inputs": {"manifold": "circle", "process": "vp"}}]})";

std::string pipeline(const std::string& sweep, const std::string& extra = "") {
    return "{" + nodes + "\n  \"sweep\": {" + sweep + "}" + extra + "\n}";
}

CommandResult mdlab_on(const TempDir& tmp, const std::string& text, std::vector<std::string> args,
                       const std::string& name = "p.json") {
    write_text(tmp.path() / name, text);
    args.insert(args.begin() + 1, (tmp.path() / name).string());
    return run_mdlab(args);
}

std::vector<CsvRow> results(const fs::path& run) { return parse_csv(read_text(run / "results.csv")); }

}  // namespace

TEST_CASE("zip, grid and alternatives expand in the order written, the last axis fastest") {
    TempDir tmp;
    const auto r = mdlab_on(tmp,
                            pipeline(R"("zip": {"train.n": [40, 80], "gen.n": [30, 60]},
                                        "grid": {"seed": [1, 2]}, )" + alternatives),
                            {"run", "--out", (tmp.path() / "run").string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto rows = results(tmp.path() / "run");
    REQUIRE(rows.size() == 2 * 2 * 3);
    const char* labels[] = {"empirical", "kernel h=0.1", "oracle"};
    for (std::size_t c = 0; c < rows.size(); ++c) {
        INFO("cell " << c);
        CHECK(rows[c].at("cell") == std::to_string(c));
        CHECK(rows[c].at("train.n") == (c < 6 ? "40" : "80"));
        CHECK(rows[c].at("gen.n") == (c < 6 ? "30" : "60"));
        CHECK(rows[c].at("seed") == ((c / 3) % 2 == 0 ? "1" : "2"));
        CHECK(rows[c].at("score") == labels[c % 3]);
        CHECK(rows[c].at("status") == "ok");
    }
    // The alternatives of one (n, seed) measure different estimators on the same training set.
    CHECK(rows[0].at("mean") != rows[1].at("mean"));
    const std::string json = read_text(tmp.path() / "run" / "results.json");
    CHECK(json.find("\"type\": \"alternatives\"") != std::string::npos);
    CHECK(json.find("\"plugin\": \"kernel_smoothed\"") != std::string::npos);
}

TEST_CASE("each alternative computes exactly what a pipeline with that plugin alone computes") {
    TempDir tmp;
    const auto swept = mdlab_on(tmp, pipeline("\"grid\": {\"seed\": [7]}, " + alternatives),
                                {"run", "--out", (tmp.path() / "alt").string(), "-q"});
    REQUIRE(swept.exit_code == 0);
    const auto rows = results(tmp.path() / "alt");
    // The same node written directly as kernel_smoothed (h = 0.1) and as oracle.
    std::string kernel = pipeline("\"grid\": {\"seed\": [7]}");
    const std::string empirical = R"("plugin": "empirical")";
    kernel.replace(kernel.find(empirical), empirical.size(), R"("plugin": "kernel_smoothed", "params": {"bandwidth": 0.1})");
    const auto k = mdlab_on(tmp, kernel, {"run", "--out", (tmp.path() / "kernel").string(), "-q"}, "k.json");
    REQUIRE(k.exit_code == 0);
    CHECK(results(tmp.path() / "kernel").at(0).at("mean") == row_where(rows, "score", "kernel h=0.1").at("mean"));
    CHECK(results(tmp.path() / "kernel").at(0).at("max") == row_where(rows, "score", "kernel h=0.1").at("max"));
    std::string oracle = pipeline("\"grid\": {\"seed\": [7]}");
    const std::string node = R"("plugin": "empirical", "inputs": {"data": "train", "process": "vp"})";
    oracle.replace(oracle.find(node), node.size(), R"("plugin": "oracle", "inputs": {"manifold": "circle", "process": "vp"})");
    const auto o = mdlab_on(tmp, oracle, {"run", "--out", (tmp.path() / "oracle").string(), "-q"}, "o.json");
    REQUIRE(o.exit_code == 0);
    CHECK(results(tmp.path() / "oracle").at(0).at("mean") == row_where(rows, "score", "oracle").at("mean"));
}

TEST_CASE("--smoke applies the declared smoke size, and --set still has the last word") {
    TempDir tmp;
    const std::string text = pipeline(R"("grid": {"train.n": [40, 80, 160], "seed": [1, 2, 3]}, )" + alternatives,
                                      R"(,
  "smoke": {"set": {"gen.steps": 10}, "sweep": {"train.n": [40, 80], "seed": [1], "score": ["oracle", "empirical"]}})");
    const auto full = mdlab_on(tmp, text, {"validate"});
    CHECK(full.out.find("27 sweep cells") != std::string::npos);
    const auto smoke = mdlab_on(tmp, text, {"run", "--smoke", "--set", "gen.n=20", "--out", (tmp.path() / "s").string(), "-q"});
    INFO(smoke.err);
    REQUIRE(smoke.exit_code == 0);
    const auto rows = results(tmp.path() / "s");
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].at("score") == "oracle");
    CHECK(rows[1].at("score") == "empirical");
    CHECK(rows[3].at("train.n") == "80");
    const std::string resolved = read_text(tmp.path() / "s" / "pipeline.json");
    CHECK(resolved.find("\"steps\": 10") != std::string::npos);
    CHECK(resolved.find("\"n\": 20") != std::string::npos);
}

TEST_CASE("mistakes in zip, alternatives, rates, comparisons and smoke exit 2 naming where they are") {
    TempDir tmp;
    struct Case {
        std::string text;
        std::vector<std::string> args;
        std::vector<std::string> mentions;
    };
    const std::vector<Case> cases{
        {pipeline(R"("zip": {"train.n": [40, 80], "gen.n": [30]})"), {"validate"},
         {"p.json:", "equal lengths", "'gen.n' has 1 values"}},
        {pipeline(R"("alternatives": {"scroe": [{"plugin": "empirical"}]})"), {"validate"},
         {"node 'scroe', which does not exist", "did you mean 'score'"}},
        {pipeline(R"("alternatives": {"score": [{"plugin": "circle"}]})"), {"validate"},
         {"alternative 'circle' of node 'score'", "a score estimator"}},
        {pipeline(R"("alternatives": {"score": [{"plugin": "empirical"}, {"plugin": "empirical"}]})"), {"validate"},
         {"the label 'empirical'", "distinct \"label\""}},
        {pipeline(R"("alternatives": {"score": [{"plugin": "kernel_smoothed", "params": {"bandwdith": 0.1}}]})"), {"validate"},
         {"/sweep/alternatives/score/0/params/bandwdith", "did you mean 'bandwidth'"}},
        {pipeline(R"("grid": {"score.bandwidth": [0.1]}, )" + alternatives), {"validate"},
         {"every alternative of the node"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "rates": [{"metric": "gen.mean", "over": "train.n"}])"), {"validate"},
         {"/rates/0/metric", "metric nodes: dist"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "rates": [{"metric": "dist.mean", "over": "seed"}])"), {"validate"},
         {"/rates/0/over", "numeric sweep keys: train.n"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "correlations": [{"y": "dist.mean", "x": ["gen.mean"]}])"),
         {"validate"}, {"/correlations/0/x/0", "metric nodes: dist"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "correlations": [{"y": "dist.mean", "x": ["dist.max"], "bootstraps": 10}])"),
         {"validate"}, {"/correlations/0/bootstraps", "unknown field 'bootstraps'"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "correlations": [{"y": "dist.mean", "x": ["dist.max"], "where": {"train.n": 50}}])"),
         {"validate"}, {"/correlations/0/where", "'50' is not a value of the sweep key 'train.n'"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "equivalence": [{"metric": "dist.mean", "axis": "train.n", "test": 40, "control": 80}])"),
         {"validate"}, {"/equivalence/0/margin", "a positive number"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "equivalence": [{"metric": "dist.mean", "axis": "train.m", "test": 40, "control": 80, "margin": 0.1}])"),
         {"validate"}, {"/equivalence/0/axis", "did you mean 'train.n'"}},
        {pipeline(R"("grid": {"train.n": [40, 80], "seed": [1, 2]})", R"(, "equivalence": [{"metric": "dist.mean", "axis": "seed", "test": 1, "control": 2, "margin": 0.1}])"),
         {"validate"}, {"/equivalence/0/axis", "cannot be 'seed'"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})"), {"run", "--smoke"}, {"declares no smoke size"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "smoke": {"sweep": {"train.m": [10]}})"), {"validate", "--smoke"},
         {"/smoke/sweep/train.m", "did you mean 'train.n'"}},
        {pipeline(R"("grid": {"train.n": [40, 80]})", R"(, "smoke": {"set": {"gen.stpes": 10}})"), {"validate", "--smoke"},
         {"smoke.set gen.stpes", "did you mean 'steps'"}},
    };
    for (const auto& c : cases) {
        const auto r = mdlab_on(tmp, c.text, c.args);
        INFO(c.text << "\n" << r.err);
        CHECK(r.exit_code == 2);
        for (const auto& m : c.mentions) CHECK(r.err.find(m) != std::string::npos);
    }
}
