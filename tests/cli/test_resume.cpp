// Resuming: a run into a folder that holds an earlier run skips the cells finished there with
// the same configuration and computes the rest; the final files equal an uninterrupted run's.
#include <chrono>
#include <csignal>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// Six cells of about a tenth of a second each.
const std::string sweep = R"({
  "seed": 11,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 6}},
    {"id": "train", "plugin": "sample", "params": {"n": 400}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 400, "steps": 300, "t_min": 1e-4, "denoise": true},
     "inputs": {"score": "score"}},
    {"id": "mem", "plugin": "memorization", "inputs": {"samples": "gen", "data": "train", "manifold": "circle"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"gen.t_min": [1e-4, 1e-2], "seed": [1, 2, 3]}}
})";

struct Fixture {
    TempDir tmp;
    fs::path pipeline = tmp.path() / "sweep.json";
    Fixture() { write_text(pipeline, sweep); }
    CommandResult run(const fs::path& out, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{"run", pipeline.string(), "--out", out.string(), "-q"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_mdlab(args);
    }
};

// "resumed DIR: K of N cells ..." -> K, or -1 when the run did not resume.
int resumed_cells(const std::string& err) {
    std::smatch m;
    if (!std::regex_search(err, m, std::regex("resumed .*: (\\d+) of 6 cells"))) return -1;
    return std::stoi(m[1]);
}

}  // namespace

TEST_CASE("an interrupted sweep, rerun, finishes only the missing cells and equals an uninterrupted run") {
    Fixture f;
    const fs::path whole = f.tmp.path() / "whole", broken = f.tmp.path() / "broken";
    REQUIRE(f.run(whole).exit_code == 0);

    Background first(mdlab_executable().string(), {"run", f.pipeline.string(), "--out", broken.string(), "-q"});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(broken / "cells" / "0000" / "cell.json") && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    first.signal(SIGINT);
    const auto interrupted = first.wait();
    INFO(interrupted.err);
    REQUIRE(interrupted.exit_code == 1);
    CHECK(without_wall_times(read_text(broken / "results.csv")) != without_wall_times(read_text(whole / "results.csv")));

    const auto rerun = f.run(broken);
    INFO(rerun.err);
    REQUIRE(rerun.exit_code == 0);
    const int resumed = resumed_cells(rerun.err);
    CHECK(resumed >= 1);
    CHECK(resumed < 6);
    CHECK(without_wall_times(read_text(broken / "results.csv")) == without_wall_times(read_text(whole / "results.csv")));
    for (int c = 0; c < 6; ++c) {
        const fs::path cell = fs::path("cells") / ("000" + std::to_string(c));
        CHECK(read_text(broken / cell / "gen.npy") == read_text(whole / cell / "gen.npy"));
    }
}

TEST_CASE("only cells without a valid record of the same configuration run again") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    const auto first = f.run(out);
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    const std::string reference = read_text(out / "results.csv");

    SECTION("a finished folder is not run again") {
        const auto r = f.run(out);
        CHECK(resumed_cells(r.err) == 6);
        CHECK(read_text(out / "results.csv") == reference);
    }
    SECTION("a missing or torn record reruns that cell only") {
        fs::remove(out / "cells" / "0002" / "cell.json");
        const std::string torn = read_text(out / "cells" / "0004" / "cell.json");
        write_text(out / "cells" / "0004" / "cell.json", torn.substr(0, torn.size() / 2));
        const auto r = f.run(out);
        CHECK(resumed_cells(r.err) == 4);
        CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(reference));
    }
    SECTION("a changed parameter outside the sweep is another pipeline: refused, or replaced with --force") {
        const auto r = f.run(out, {"--set", "gen.steps=200"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("node 'gen': parameter 'steps' is 200 here, 300 in the folder's run") != std::string::npos);
        CHECK(read_text(out / "results.csv") == reference);
        const auto forced = f.run(out, {"--set", "gen.steps=200", "--force"});
        CHECK(resumed_cells(forced.err) == -1);
        CHECK(without_wall_times(read_text(out / "results.csv")) != without_wall_times(reference));
    }
    SECTION("--force starts afresh") {
        const auto r = f.run(out, {"--force"});
        CHECK(resumed_cells(r.err) == -1);
        CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(reference));
    }
}

TEST_CASE("kill -9 at any moment leaves only whole files, and the rerun completes the sweep") {
    Fixture f;
    const fs::path whole = f.tmp.path() / "whole";
    REQUIRE(f.run(whole).exit_code == 0);
    // Kill at several moments: early, and after one or more cells have finished.
    for (const int after_cells : {0, 1, 3}) {
        const fs::path out = f.tmp.path() / ("killed" + std::to_string(after_cells));
        Background run(mdlab_executable().string(), {"run", f.pipeline.string(), "--out", out.string(), "-q"});
        const fs::path marker = out / "cells" / ("000" + std::to_string(after_cells)) / "gen.npy";
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!fs::exists(marker) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        run.signal(SIGKILL);
        CHECK(run.wait().exit_code == 128 + SIGKILL);
        // Every record there is whole JSON (or absent): atomic writes.
        for (const auto& entry : fs::recursive_directory_iterator(out))
            if (entry.path().filename() == "cell.json") CHECK(read_text(entry.path()).back() == '\n');
        const auto rerun = f.run(out);
        INFO(rerun.err);
        CHECK(rerun.exit_code == 0);
        CHECK(resumed_cells(rerun.err) >= after_cells);
        CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(read_text(whole / "results.csv")));
        for (const auto& entry : fs::recursive_directory_iterator(out))
            CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
    }
}

TEST_CASE("SIGTERM stops a run in the middle of a cell, keeping what finished") {
    // Cell 0 takes a tenth of a second, cell 1's sampler hours (3e7 steps): the run can only end
    // by cancelling that sampler mid-way, which its log then says (no clock is read).
    Fixture f;
    const std::string grid = R"("sweep": {"grid": {"gen.t_min": [1e-4, 1e-2], "seed": [1, 2, 3]}})";
    std::string slow = sweep;
    slow.replace(slow.find(grid), grid.size(), R"("sweep": {"grid": {"gen.steps": [300, 30000000]}})");
    write_text(f.pipeline, slow);
    const fs::path out = f.tmp.path() / "term";
    Background run(mdlab_executable().string(), {"run", f.pipeline.string(), "--out", out.string(), "-q"});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    // Cell 1 takes cell 0's score node (the same configuration), so its sampler starts as soon as
    // cell 0's last nodes are done (the log says so); the signal is sent a little after that,
    // while the sampler runs (it has hours to go).
    const auto log_says = [&](const std::string& text) {
        return fs::exists(out / "run.log") && read_text(out / "run.log").find(text) != std::string::npos;
    };
    while (!(log_says("cell 0 node mem done") && log_says("cell 0 node dist done")) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    run.signal(SIGTERM);
    const auto r = run.wait();
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("run cancelled") != std::string::npos);
    const std::string log = read_text(out / "run.log");
    INFO(log);
    CHECK(log.find("cell 1 node gen (euler_maruyama) failed: cancelled") != std::string::npos);
    const std::string csv = read_text(out / "results.csv");
    CHECK(csv.find("\n0,300,11,dist,manifold_distance,samples=gen;manifold=circle,ok,") != std::string::npos);
    CHECK(csv.find("\n1,30000000,11,dist,manifold_distance,samples=gen;manifold=circle,skipped,") != std::string::npos);
    CHECK(fs::exists(out / "report.html"));
}
