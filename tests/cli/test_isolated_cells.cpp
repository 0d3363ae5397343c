// Cells run in worker processes (--isolation process, the default): a plugin that segfaults,
// aborts, calls exit(0) or throws on a thread of its own fails its cell only, named with how the
// worker died, the node and plugin that ran and its last stderr lines; the sweep goes on and
// exits 1. A rerun retries such a cell once, then reports it without running it. Results are the
// same bytes with isolation on and off.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

std::string pipeline(const std::string& faults, const std::string& while_exists = "") {
    return R"({
  "seed": 4,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "faulty_score", "params": {"while_exists": ")" + while_exists + R"("}, "inputs": {"process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 40, "steps": 40}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"score.fault": [)" + faults + R"(]}}
})";
}

CommandResult run(const fs::path& file, const fs::path& out, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"run", file.string(), "--out", out.string(), "-q", "--plugin-dir",
                                  (fixture_dir() / "faulty").string()};
    args.insert(args.end(), more.begin(), more.end());
    return run_mdlab(args);
}

std::string row_status(const fs::path& out, int cell, const std::string& node) {
    for (const auto& row : parse_csv(read_text(out / "results.csv")))
        if (std::stoi(row.at("cell")) == cell && row.at("node") == node) return row.at("status");
    return "missing";
}

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("a crashing plugin fails its own cell; the sweep goes on") {
    TempDir tmp;
    const fs::path file = tmp.path() / "p.json", out = tmp.path() / "run";
    write_text(file, pipeline(R"("none", "segv", "abort", "exit", "thread_throw", "none")"));
    const auto r = run(file, out);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    for (int cell = 1; cell <= 4; ++cell) {
        INFO("cell " << cell);
        const std::string head = "p.json: error: cell " + std::to_string(cell) +
                                 ", node 'gen': the cell's worker process ";
        const auto at = r.err.find(head);
        REQUIRE(at != std::string::npos);
        const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
        // Every node running then is named (another branch of the cell may run beside 'gen').
        CHECK(line.find("node 'gen' (plugin 'euler_maruyama', which calls score (faulty_score))") != std::string::npos);
        CHECK(line.find(" ran") != std::string::npos);
        if (cell == 3) CHECK(line.find("called exit(0) while") != std::string::npos);
        else CHECK(line.find("was killed by signal") != std::string::npos);
#ifndef MDLAB_TEST_SANITIZED  // a sanitizer reports the SEGV itself, then aborts
        if (cell == 1) CHECK(line.find("signal 11 (SIGSEGV)") != std::string::npos);
#endif
        if (cell == 2 || cell == 4) CHECK(line.find("signal 6 (SIGABRT)") != std::string::npos);
    }
    // The last stderr lines of the worker: what terminate() said about the thread's exception.
    CHECK(r.err.find("faulty_score: thrown on its own thread") != std::string::npos);
    for (int cell : {0, 5}) CHECK(row_status(out, cell, "dist") == "ok");
    for (int cell = 1; cell <= 4; ++cell) {
        CHECK(row_status(out, cell, "dist") == "skipped");
    }
    const std::string results = read_text(out / "results.json");
    CHECK(results.find("its last stderr lines") != std::string::npos);
    CHECK(fs::exists(out / "crashed-cells.json"));
    CHECK(fs::exists(out / "report.html"));
}

TEST_CASE("a rerun retries a crashed cell once, then reports it without running it") {
    TempDir tmp;
    const fs::path file = tmp.path() / "p.json", out = tmp.path() / "run", flag = tmp.path() / "crash";
    write_text(flag, "");
    write_text(file, pipeline(R"("none", "segv")", flag.string()));

    const auto first = run(file, out);
    CHECK(first.exit_code == 1);
    CHECK(count(read_text(out / "crashed-cells.json"), "\"attempts\": 1") == 1);
    const auto second = run(file, out);  // retried: dies again
    CHECK(second.exit_code == 1);
    CHECK(count(read_text(out / "crashed-cells.json"), "\"attempts\": 2") == 1);
    const auto third = run(file, out);  // reported, not run
    INFO(third.err);
    CHECK(third.exit_code == 1);
    CHECK(third.err.find("cell 1, node 'gen': the cell's worker process") != std::string::npos);
    CHECK(read_text(out / "run.log").find("cell 1: its worker process died in 2 earlier runs; not run again") !=
          std::string::npos);
    CHECK(row_status(out, 1, "dist") == "skipped");

    // --force starts over; with the fault gone the cell finishes and the record goes.
    fs::remove(flag);
    const auto forced = run(file, out, {"--force"});
    CHECK(forced.exit_code == 0);
    CHECK(row_status(out, 1, "dist") == "ok");
    CHECK_FALSE(fs::exists(out / "crashed-cells.json"));
}

TEST_CASE("a cell that crashed once finishes on the rerun, as in an uninterrupted run") {
    TempDir tmp;
    const fs::path file = tmp.path() / "p.json", flag = tmp.path() / "crash";
    write_text(flag, "");
    write_text(file, pipeline(R"("none", "segv", "none")", flag.string()));
    const fs::path out = tmp.path() / "run", fresh = tmp.path() / "fresh";
    CHECK(run(file, out).exit_code == 1);
    fs::remove(flag);
    const auto rerun = run(file, out);
    INFO(rerun.err);
    CHECK(rerun.exit_code == 0);
    CHECK_FALSE(fs::exists(out / "crashed-cells.json"));
    CHECK(run(file, fresh).exit_code == 0);
    CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
}

TEST_CASE("results are the same bytes with isolation on and off") {
    TempDir tmp;
    const fs::path file = tmp.path() / "p.json";
    write_text(file, pipeline(R"("none", "none", "none")"));
    const fs::path on = tmp.path() / "on", off = tmp.path() / "off";
    const auto a = run(file, on), b = run(file, off, {"--isolation", "none"});
    CHECK(a.exit_code == 0);
    CHECK(b.exit_code == 0);
    CHECK(without_wall_times(read_text(on / "results.csv")) == without_wall_times(read_text(off / "results.csv")));
    CHECK(read_text(on / "cells/0002/gen.npy") == read_text(off / "cells/0002/gen.npy"));
    CHECK(read_text(on / "run.log").find("cells run in worker processes") != std::string::npos);
    CHECK(read_text(off / "run.log").find("cells run in worker processes") == std::string::npos);

    const auto bad = run(file, tmp.path() / "bad", {"--isolation", "threads"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("process") != std::string::npos);
    // The worker's subcommand is not for users: not in the help.
    CHECK(run_mdlab({"--help"}).out.find("cell-worker") == std::string::npos);
}
