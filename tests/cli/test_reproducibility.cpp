// Same pipeline and seed: byte-identical results whatever the thread count; a sweep runs its
// alternatives on identical data and noise.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const char* sweep_pipeline = R"({
  "name": "sweep", "seed": 7,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 5}},
    {"id": "train", "plugin": "sample", "params": {"n": 600}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 700, "steps": 60, "grid": "log_snr", "denoise": true},
     "inputs": {"score": "score"}},
    {"id": "ode", "plugin": "pf_ode_heun", "params": {"n": 700, "steps": 20},
     "inputs": {"score": "score"}},
    {"id": "mem", "plugin": "memorization", "inputs": {"samples": "gen", "data": "train", "manifold": "circle"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "ode", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"gen.t_min": [1e-6, 0.05], "seed": [1, 2]}}
})";

fs::path write_pipeline(const fs::path& dir) {
    const fs::path p = dir / "sweep.json";
    write_text(p, sweep_pipeline);
    return p;
}

}  // namespace

TEST_CASE("results.csv and samples are byte-identical for --threads 1 and --threads 2") {
    TempDir tmp;
    const fs::path pipeline = write_pipeline(tmp.path());
    const auto one = run_mdlab({"run", pipeline.string(), "--out", (tmp.path() / "t1").string(), "--threads", "1", "-q"});
    const auto two = run_mdlab({"run", pipeline.string(), "--out", (tmp.path() / "t2").string(), "--threads", "2", "-q"});
    INFO(one.err << two.err);
    REQUIRE(one.exit_code == 0);
    REQUIRE(two.exit_code == 0);
    const std::string csv1 = without_wall_times(read_text(tmp.path() / "t1" / "results.csv"));
    CHECK(csv1 == without_wall_times(read_text(tmp.path() / "t2" / "results.csv")));
    for (const char* cell : {"0000", "0001", "0002", "0003"})
        for (const char* node : {"train", "gen", "ode"}) {
            const fs::path rel = fs::path("cells") / cell / (std::string(node) + ".npy");
            INFO(rel);
            CHECK(read_text(tmp.path() / "t1" / rel) == read_text(tmp.path() / "t2" / rel));
        }
}

TEST_CASE("a sweep runs every cell on the data and noise its seed gives") {
    TempDir tmp;
    const fs::path pipeline = write_pipeline(tmp.path());
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", pipeline.string(), "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    // Last axis fastest: (1e-6, 1), (1e-6, 2), (0.05, 1), (0.05, 2).
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 8);
    CHECK(rows[0].at("gen.t_min") == "1e-06");
    CHECK(rows[0].at("seed") == "1");
    CHECK(rows[2].at("seed") == "2");
    CHECK(rows[4].at("gen.t_min") == "0.05");

    auto npy = [&](const char* cell, const char* node) {
        return read_text(out / "cells" / cell / (std::string(node) + ".npy"));
    };
    // Training data depends on the seed only; compared t_min values see the very same data.
    CHECK(npy("0000", "train") == npy("0002", "train"));
    CHECK(npy("0001", "train") == npy("0003", "train"));
    CHECK(npy("0000", "train") != npy("0001", "train"));
    // The ODE sampler does not depend on gen.t_min, so its output repeats across those cells.
    CHECK(npy("0000", "ode") == npy("0002", "ode"));
    CHECK(npy("0000", "gen") != npy("0002", "gen"));
    // Stopping early memorises less.
    const double small = std::stod(rows[0].at("fraction")), early = std::stod(rows[4].at("fraction"));
    CHECK(small > early);
}
