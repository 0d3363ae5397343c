// A plugin that throws, returns NaN, returns the wrong shape, or makes a sampler diverge fails
// its own sweep cell: the message names the cell, the node, the plugin and the time; the other
// cells run and keep their results; the exit code is 1.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string pipeline = R"({
  "seed": 4,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "faulty_score", "inputs": {"process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 40, "steps": 40}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}},
    {"id": "draw", "plugin": "faulty_sampler", "params": {"n": 10}},
    {"id": "draw_dist", "plugin": "manifold_distance", "inputs": {"samples": "draw", "manifold": "circle"}}
  ],
  "sweep": {"zip": {"score.fault": ["none", "throw", "nan", "shape", "explode", "none", "none", "none"],
                    "draw.fault": ["none", "none", "none", "none", "none", "rows", "nan", "none"]}}
})";

}  // namespace

TEST_CASE("plugin faults fail their cell, name where, and leave the other cells' results") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", pipeline);
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q", "--plugin-dir",
                              (fixture_dir() / "faulty").string()});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    // One line per failed node: file, cell, node, then what the plugin did and when.
    const std::vector<std::string> expected{
        "cell 1, node 'gen': faulty_score: deliberate failure",
        "cell 2, node 'gen': score estimator 'score' (plugin 'faulty_score') returned a non-finite score (nan) at t = ",
        "cell 3, node 'gen': score estimator 'score' (plugin 'faulty_score') returned a score of shape 40 x 3 for 40 x 2 points at t = ",
        "cell 4, node 'gen': sampler diverged at step ",
        "cell 5, node 'draw': sampler 'draw' (plugin 'faulty_sampler') returned 9 samples, not n = 10",
        "cell 6, node 'draw': sampler 'draw' (plugin 'faulty_sampler') returned a non-finite sample (row 0)",
    };
    for (const auto& e : expected) CHECK(r.err.find("p.json: error: " + e) != std::string::npos);

    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 16);
    for (const auto& row : rows) {
        const int cell = std::stoi(row.at("cell"));
        const bool score_broken = cell >= 1 && cell <= 4, draw_broken = cell == 5 || cell == 6;
        const bool broken = row.at("node") == "dist" ? score_broken : draw_broken;
        INFO("cell " << cell << " node " << row.at("node"));
        CHECK(row.at("status") == (broken ? "skipped" : "ok"));
        CHECK(row.at("mean").empty() == broken);
    }
    // The healthy cells are exactly what a run without the faulty ones gives.
    for (const std::string node : {"dist", "draw_dist"})
        CHECK(value_at(rows, {{"cell", "0"}, {"node", node}}, "mean") == value_at(rows, {{"cell", "7"}, {"node", node}}, "mean"));
    CHECK(fs::exists(out / "report.html"));
    CHECK(fs::exists(out / "summary.csv"));
}
