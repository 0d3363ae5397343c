// What a comparison costs, in results.csv and summary.csv: each sampler's score evaluations
// (<node>.nfe), the wall time of every node and of the cell (<node>.wall_s, cell.wall_s); rows for
// a pipeline of samplers only; the JSON files' plain numbers; a resume keeps the recorded times.
#include <catch2/catch.hpp>

#include <regex>

#include <boost/json/parse.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// Euler-Maruyama (one score evaluation per step) against Heun's PF-ODE (two), two step counts,
// two seeds; `metric` adds a metric node.
std::string pipeline(bool metric) {
    return std::string(R"({
  "name": "cost", "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
    {"id": "train", "plugin": "sample", "params": {"n": 40}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 30}, "inputs": {"score": "score"}})") +
           (metric ? R"(,
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}})"
                   : "") +
           R"(
  ],
  "sweep": {"grid": {"seed": [1, 2], "gen.steps": [4, 6]},
            "alternatives": {"gen": [{"plugin": "euler_maruyama", "params": {"n": 30}},
                                     {"plugin": "pf_ode_heun", "params": {"n": 30}}]}}
})";
}

fs::path run(const TempDir& tmp, bool metric, const std::string& name = "run") {
    write_text(tmp.path() / "p.json", pipeline(metric));
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / name).string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return tmp.path() / name;
}

double number(const CsvRow& row, const std::string& column) {
    INFO("column " << column);
    REQUIRE(row.count(column));
    return std::stod(row.at(column));
}

// nfe as the samplers define it: Euler-Maruyama one score evaluation per step, Heun two.
std::string nfe_of(const CsvRow& row) {
    return std::to_string(std::stoi(row.at("gen.steps")) * (row.at("gen") == "pf_ode_heun" ? 2 : 1));
}

const char* const node_ids[] = {"circle", "train", "vp", "score", "gen"};

}  // namespace

TEST_CASE("results.csv and summary.csv give each sampler's nfe and the wall time of every node and cell") {
    TempDir tmp;
    const fs::path out = run(tmp, true);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 8);
    for (const auto& row : rows) {
        INFO("cell " << row.at("cell") << ": " << row.at("gen") << ", " << row.at("gen.steps") << " steps");
        CHECK(row.at("node") == "dist");
        CHECK(row.at("gen.nfe") == nfe_of(row));
        for (const std::string id : {"circle", "train", "vp", "score", "gen", "dist"}) CHECK(number(row, id + ".wall_s") >= 0.0);
        CHECK(number(row, "cell.wall_s") > 0.0);
        CHECK(number(row, "cell.wall_s") >= number(row, "gen.wall_s"));
    }
    // The training points of a seed are drawn once and shared: their time is the drawing's.
    const auto json = boost::json::parse(read_text(out / "results.json"));
    const auto& cells = json.at("cells").as_array();
    CHECK(cells.at(1).at("nodes").at("train").at("reused").as_bool());
    CHECK(rows[1].at("train.wall_s") == rows[0].at("train.wall_s"));
    CHECK(rows[1].at("train.wall_s") != "0");
    CHECK(cells.at(1).at("cost").at("gen.nfe").as_int64() == 8);

    // summary.csv: the same columns, means over the seeds of each group.
    const auto summary = parse_csv(read_text(out / "summary.csv"));
    REQUIRE(!summary.empty());
    for (const auto& row : summary) {
        INFO(row.at("gen") << ", " << row.at("gen.steps") << " steps, " << row.at("value"));
        CHECK(row.at("gen.nfe") == nfe_of(row));
        for (const std::string id : {"circle", "train", "vp", "score", "gen", "dist", "cell"}) CHECK(number(row, id + ".wall_s") >= 0.0);
    }
}

TEST_CASE("the run's JSON files write numbers in plain decimal, as a reader expects them") {
    TempDir tmp;
    const fs::path out = run(tmp, true);
    const std::regex exponent_E("[0-9]E[-+0-9]");
    for (const char* file : {"results.json", "pipeline.json", "cells/0001/cell.json"}) {
        INFO(file);
        const std::string text = read_text(out / file);
        if (std::string(file) != "cells/0001/cell.json") CHECK(!std::regex_search(text, exponent_E));  // cell.json: its configuration text
    }
    const std::string results = read_text(out / "results.json");
    CHECK(results.find("\"nfe\": 8,") != std::string::npos);
    CHECK(results.find("\"gen.nfe\": 12,") != std::string::npos);
    CHECK(results.find("\"nfe\": 8.0") == std::string::npos);
}

TEST_CASE("a pipeline of samplers only has a row per sampler and cell with its values and cost") {
    TempDir tmp;
    const fs::path out = run(tmp, false);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 8);
    for (const auto& row : rows) {
        INFO("cell " << row.at("cell"));
        CHECK(row.at("node") == "gen");
        CHECK(row.at("plugin") == row.at("gen"));
        CHECK(row.at("status") == "ok");
        CHECK(row.at("nfe") == nfe_of(row));
        CHECK(row.at("steps") == row.at("gen.steps"));
        CHECK(row.at("gen.nfe") == nfe_of(row));
        for (const char* id : node_ids) CHECK(number(row, std::string(id) + ".wall_s") >= 0.0);
        CHECK(number(row, "cell.wall_s") > 0.0);
    }
    const auto summary = parse_csv(read_text(out / "summary.csv"));
    CHECK(summary.size() == 4 * 2);  // 4 groups x (nfe, steps)
    CHECK(value_at(summary, {{"gen", "pf_ode_heun"}, {"gen.steps", "6"}, {"value", "nfe"}}, "mean") == 12);
    CHECK(value_at(summary, {{"gen", "euler_maruyama"}, {"gen.steps", "6"}, {"value", "nfe"}}, "mean") == 6);
}

TEST_CASE("a resumed cell keeps the wall times of its record, so the resumed run writes the same numbers") {
    TempDir tmp;
    const fs::path out = run(tmp, true);
    const std::string first = read_text(out / "results.csv");
    const auto first_rows = parse_csv(first);
    const auto record = boost::json::parse(read_text(out / "cells" / "0002" / "cell.json"));
    CHECK(std::stod(std::string(record.at("seconds").as_string())) == number(first_rows[2], "cell.wall_s"));

    // Every cell resumed: the very same bytes, wall times included.
    run(tmp, true);
    CHECK(read_text(out / "results.csv") == first);

    // One cell run again: the others keep their times; the rerun one has its own.
    fs::remove(out / "cells" / "0002" / "cell.json");
    run(tmp, true);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == first_rows.size());
    for (std::size_t c = 0; c < rows.size(); ++c) {
        INFO("cell " << c);
        if (c != 2) CHECK(rows[c] == first_rows[c]);
    }
    CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(first));
}
