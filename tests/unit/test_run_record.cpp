// Reading a run folder back (results.json of the current format with axes, kinds, inputs,
// points and rates, and of the earlier format without them), and what the analysis makes of
// it: groups over seeds, one rate fit per group with a zip group counted as one axis.
#include <cmath>
#include <filesystem>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <mdlab/npy.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab/runtime/analysis.hpp"
#include "mdlab/runtime/diagnostics.hpp"

using namespace mdlab::runtime;
using namespace mdlab::test;
namespace fs = std::filesystem;
namespace json = boost::json;
using Catch::Detail::Approx;

namespace {

const std::vector<int> sizes{100, 200, 400, 800};
const std::vector<int> steps{10, 20, 40, 80};  // zipped with sizes
const std::vector<std::string> variants{"exact", "kernel h=0.05"};

// dist.mean = C n^-1/2, times 1.1 for seed 1 and / 1.1 for seed 2: the per-size mean of the
// log noise is zero, so the fitted slope is exactly -1/2.
double dist_mean(int n, std::size_t variant, int seed) {
    return (variant ? 3.0 : 2.0) * std::pow(n, -0.5) * (seed == 1 ? 1.1 : 1 / 1.1);
}

void write_points(const fs::path& file, std::size_t rows, double radius) {
    fs::create_directories(file.parent_path());
    mdlab::Matrix m = mdlab::Matrix::from_shape({rows, 3});
    for (std::size_t i = 0; i < rows; ++i) {
        const double a = 0.1 * static_cast<double>(i);
        m(i, 0) = radius * std::cos(a), m(i, 1) = radius * std::sin(a), m(i, 2) = 0.0;
    }
    mdlab::npy::write(file, m);
}

// A run folder in the format of the issue-6 contract.
void write_current_format(const fs::path& dir) {
    json::array cells;
    std::size_t index = 0;
    for (std::size_t z = 0; z < sizes.size(); ++z)
        for (std::size_t v = 0; v < variants.size(); ++v)
            for (int seed : {1, 2}) {
                const std::string cell_dir = fmt::format("cells/{:04d}", index);
                write_points(dir / cell_dir / "train.npy", 30, 1.0);
                write_points(dir / cell_dir / "gen.npy", 40, 1.05);
                json::object nodes;
                nodes["circle"] = {{"plugin", "circle"}, {"kind", "manifold"}, {"inputs", json::object{}}, {"status", "ok"}};
                nodes["train"] = {{"plugin", "sample"}, {"kind", "data"}, {"inputs", {{"manifold", "circle"}}},
                                  {"status", "ok"}, {"points", cell_dir + "/train.npy"}};
                nodes["score"] = {{"plugin", v ? "kernel_smoothed" : "empirical"}, {"kind", "estimator"},
                                  {"inputs", {{"data", "train"}}}, {"status", "ok"}};
                nodes["gen"] = {{"plugin", "euler_maruyama"}, {"kind", "sampler"}, {"inputs", {{"score", "score"}}},
                                {"status", "ok"}, {"values", {{"nfe", steps[z]}}}, {"points", cell_dir + "/gen.npy"}};
                nodes["dist"] = {{"plugin", "manifold_distance"}, {"kind", "metric"},
                                 {"inputs", {{"samples", "gen"}, {"manifold", "circle"}}}, {"status", "ok"},
                                 {"values", {{"mean", dist_mean(sizes[z], v, seed)}, {"max", 1.0}}}};
                cells.push_back({{"cell", index},
                                 {"seed", seed},
                                 {"sweep", {{"train.n", sizes[z]}, {"gen.steps", steps[z]}, {"score", variants[v]}, {"seed", seed}}},
                                 {"nodes", std::move(nodes)}});
                ++index;
            }
    json::array n_values(sizes.begin(), sizes.end()), step_values(steps.begin(), steps.end());
    json::object root{
        {"pipeline", "contract"},
        {"description", "a <synthetic> run"},
        {"status", "ok"},
        {"axes", json::array{{{"key", "train.n"}, {"type", "zip"}, {"group", 0}, {"values", n_values}},
                             {{"key", "gen.steps"}, {"type", "zip"}, {"group", 0}, {"values", step_values}},
                             {{"key", "score"}, {"type", "alternatives"}, {"values", {variants[0], variants[1]}}},
                             {{"key", "seed"}, {"type", "seed"}, {"values", {1, 2}}}}},
        {"rates", json::array{{{"metric", "dist.mean"}, {"over", "train.n"}, {"reference", {{"1/2", -0.5}}}},
                              {{"metric", "dist.nope"}, {"over", "train.n"}},
                              {{"metric", "dist.mean"}, {"over", "seed"}}}},
        {"cells", std::move(cells)},
        {"rows", json::array{}}};
    write_text(dir / "results.json", json::serialize(root));
    write_text(dir / "pipeline.json", R"({"name": "contract", "nodes": []})");
}

}  // namespace

TEST_CASE("a run folder of the current format: axes, kinds, points and declared rates") {
    TempDir tmp;
    write_current_format(tmp.path());
    const RunRecord run = load_run(tmp.path());
    CHECK(run.name == "contract");
    CHECK(run.description == "a <synthetic> run");
    REQUIRE(run.axes.size() == 4);
    CHECK(run.axes[1].key == "gen.steps");
    CHECK(run.axes[1].group == 0);
    CHECK(run.axes[2].type == "alternatives");
    REQUIRE(run.cells.size() == 16);
    const RunNode* train = run.cells[5].node("train");
    REQUIRE(train);
    CHECK(train->kind == "data");
    CHECK(train->points == tmp.path() / "cells/0005/train.npy");
    REQUIRE(run.rates.size() == 3);
    CHECK(run.rates[0].node == "dist");
    CHECK(run.rates[0].value == "mean");
    CHECK(run.rates[0].reference.at(0).second == -0.5);

    const std::vector<SummaryRow> summary = summarize(run);
    REQUIRE(summary.size() == 8 * 2);  // (size, variant) groups x {mean, max}
    CHECK(summary[0].axes.size() == 3);
    CHECK(summary[0].stats.n == 2);
    const double m = (dist_mean(100, 0, 1) + dist_mean(100, 0, 2)) / 2;
    CHECK(summary[0].stats.mean == Approx(m));

    // train.n and gen.steps vary together: fitting over train.n leaves one group per variant.
    const std::vector<RateFit> fits = fit_rates(run);
    REQUIRE(fits.size() == 4);
    for (int v = 0; v < 2; ++v) {
        const RateFit& f = fits[v];
        INFO(f.reason);
        CHECK(f.status == "ok");
        CHECK(f.group == std::vector<std::pair<std::string, std::string>>{{"score", variants[v]}});
        CHECK(f.x.size() == 8);
        CHECK(f.fit.slope == Approx(-0.5).epsilon(1e-12));
        CHECK(f.fit.se > 0);
        CHECK(f.fit.ci_low < -0.5);
        CHECK(f.fit.ci_high > -0.5);
        CHECK(std::exp(f.fit.intercept) == Approx(v ? 3.0 : 2.0).epsilon(1e-12));
    }
    CHECK(fits[2].status == "unknown_metric");
    CHECK(fits[3].status == "unknown_axis");

    const auto rows = parse_csv(rates_csv(run, fits));
    CHECK(rows[0].at("train.n").empty());
    CHECK(rows[0].at("gen.steps").empty());
    CHECK(rows[1].at("score") == "kernel h=0.05");
    CHECK(rows[0].at("reference") == "1/2=-0.5");
    CHECK(rows[0].at("source") == "declared");

    // The report: one panel per (sampler, cell) of the first seed, one rate plot.
    write_analysis(tmp.path());
    const std::string html = read_text(tmp.path() / "report.html");
    auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto p = html.find(needle); p != std::string::npos; p = html.find(needle, p + 1)) ++n;
        return n;
    };
    CHECK(count("<svg data-plot=\"samples\"") == 8);
    CHECK(count("<svg data-plot=\"rate\"") == 1);
    CHECK(count("class=\"guide\"") == 1);  // the reference exponent
    CHECK(html.find("a &lt;synthetic&gt; run") != std::string::npos);
}

TEST_CASE("a run folder of the earlier format: axes, kinds and inputs are derived") {
    TempDir tmp;
    const fs::path dir = tmp.path();
    json::array cells;
    std::size_t index = 0;
    for (double t_min : {1e-3, 1e-2})
        for (int seed : {4, 5}) {
            write_points(dir / fmt::format("cells/{:04d}", index) / "train.npy", 20, 1.0);
            write_points(dir / fmt::format("cells/{:04d}", index) / "gen.npy", 20, 1.0);
            cells.push_back({{"cell", index}, {"seed", seed}, {"sweep", {{"gen.t_min", t_min}, {"seed", seed}}},
                             {"nodes", {{"train", {{"plugin", "sample"}, {"status", "ok"}}},
                                        {"gen", {{"plugin", "euler_maruyama"}, {"status", "ok"}}},
                                        {"mem", {{"plugin", "memorization"}, {"status", "ok"},
                                                 {"values", {{"fraction", 0.1 * seed}}}}}}}});
            ++index;
        }
    write_text(dir / "results.json",
               json::serialize(json::object{{"pipeline", "old"}, {"status", "ok"}, {"cells", cells},
                                            {"rows", json::array{{{"node", "mem"}}}}}));
    write_text(dir / "pipeline.json", R"({"name": "old", "description": "from pipeline.json", "nodes": [
        {"id": "train", "plugin": "sample", "inputs": {"manifold": "circle"}},
        {"id": "gen", "plugin": "euler_maruyama", "inputs": {"score": "train"}},
        {"id": "mem", "plugin": "memorization", "inputs": {"samples": "gen", "data": "train"}}]})");
    const RunRecord run = load_run(dir);
    CHECK(run.description == "from pipeline.json");
    REQUIRE(run.axes.size() == 2);
    CHECK(run.axes[0].key == "gen.t_min");
    CHECK(run.axes[0].values.size() == 2);
    CHECK(run.axes[1].type == "seed");
    const RunCell& c = run.cells[3];
    CHECK(c.node("train")->kind == "data");
    CHECK(c.node("gen")->kind == "sampler");
    CHECK(c.node("mem")->kind == "metric");
    CHECK(c.node("gen")->inputs == std::vector<std::pair<std::string, std::string>>{{"score", "train"}});
    CHECK(c.node("gen")->points == dir / "cells/0003/gen.npy");
    const auto summary = summarize(run);
    REQUIRE(summary.size() == 2);
    CHECK(summary[1].axes.at(0).second == "0.01");
    CHECK(summary[1].stats.mean == Approx(0.45));
    CHECK(fit_rates(run).empty());  // two t_min values: nothing to fit
}

TEST_CASE("a folder that is not a run folder, and a broken results.json, are bad input") {
    TempDir tmp;
    try {
        load_run(tmp.path());
        FAIL("no exception");
    } catch (const BadInput& e) {
        CHECK(std::string(e.what()).find("not a run folder") != std::string::npos);
    }
    write_text(tmp.path() / "results.json", R"({"pipeline": "x", "cells": [{"cell": 0, "nodes": 3}]})");
    try {
        load_run(tmp.path());
        FAIL("no exception");
    } catch (const BadInput& e) {
        const std::string what = e.what();
        CHECK(what.find("results.json") != std::string::npos);
        CHECK(what.find("/cells/0/nodes") != std::string::npos);
    }
    write_text(tmp.path() / "results.json", "{\"cells\": [");
    CHECK_THROWS_AS(load_run(tmp.path()), BadInput);
}

TEST_CASE("non-finite values, which Boost.JSON writes as bare NaN and Infinity, read as missing") {
    TempDir tmp;
    write_text(tmp.path() / "results.json", R"({"pipeline": "nan", "description": "NaN, \"Infinity\" stay text",
      "cells": [{"cell": 0, "seed": 1, "sweep": {}, "nodes": {"m": {"plugin": "p", "kind": "metric", "status": "ok",
      "values": {"a": NaN, "b": Infinity, "c": -Infinity, "d": 2.5}}}}]})");
    const RunRecord run = load_run(tmp.path());
    CHECK(run.description == "NaN, \"Infinity\" stay text");
    const auto& values = run.cells.at(0).nodes.at(0).values;
    REQUIRE(values.size() == 4);
    CHECK(std::isnan(values[0].second));
    CHECK(std::isnan(values[1].second));
    CHECK(std::isnan(values[2].second));
    CHECK(values[3].second == 2.5);
    const auto summary = summarize(run);
    REQUIRE(summary.size() == 4);
    CHECK(summary[0].stats.n == 0);
    CHECK(summary[3].stats.n == 1);
}
