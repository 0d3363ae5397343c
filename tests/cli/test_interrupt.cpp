// Ctrl-C during a run: the run stops, writes complete result files (no torn or temporary
// file is left behind) and exits with code 1.
#include <chrono>
#include <csignal>
#include <thread>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("an interrupted run exits 1 and leaves only whole files") {
    TempDir tmp;
    write_text(tmp.path() / "long.json", R"({
      "seed": 1,
      "nodes": [
        {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
        {"id": "train", "plugin": "sample", "params": {"n": 500}, "inputs": {"manifold": "circle"}},
        {"id": "vp", "plugin": "vp"},
        {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
        {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 500, "steps": 10000000},
         "inputs": {"score": "score"}},
        {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
      ],
      "sweep": {"grid": {"seed": [1, 2, 3]}}
    })");
    const fs::path out = tmp.path() / "run";
    Background run(mdlab_executable().string(), {"run", (tmp.path() / "long.json").string(), "--out", out.string()});
    // Wait until the sampler is running (the estimator is done), then interrupt.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (read_text(out / "run.log").find("node score done") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    run.signal(SIGINT);
    const auto r = run.wait();
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cancelled") != std::string::npos);

    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 1);  // the first cell only; the others never started
    CHECK(rows[0].at("status") == "skipped");
    CHECK(read_text(out / "results.json").find("\"cancelled\"") != std::string::npos);
    for (const auto& entry : fs::recursive_directory_iterator(out))
        CHECK(entry.path().string().find(".tmp") == std::string::npos);
}
