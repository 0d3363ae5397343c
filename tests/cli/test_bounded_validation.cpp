// Bounded validation: graphs of any shape are ordered without recursion, configuration records
// grow linearly with the graph, sizes are estimated over cells x nodes against the machine before
// anything runs, limits are refused with exit 2 naming them, and input files read only by running
// cells (a sampler's init, the points step's file) are checked by `mdlab validate`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <mdlab/npy.hpp>
#include <sys/statvfs.h>
#include <unistd.h>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string data_nodes = R"({"id": "m", "plugin": "circle", "params": {"ambient_dim": 2}},
  {"id": "d", "plugin": "sample", "params": {"n": 8}, "inputs": {"manifold": "m"}},
  {"id": "p", "plugin": "vp"})";

// A chain of `length` perturbed estimators over an empirical one, listed last node first; with
// `cycle`, the chain's first node takes the last one as its input instead.
std::string chain(std::size_t length, bool cycle = false, const std::string& sweep = "") {
    std::string nodes;
    for (std::size_t k = length; k >= 1; --k)
        nodes += R"({"id": "e)" + std::to_string(k) + R"(", "plugin": "perturbed", "inputs": {"score": "e)" +
                 std::to_string(k == 1 && cycle ? length : k - 1) + "\"}},\n";
    return R"({"seed": 1, )" + sweep + R"("nodes": [)" + nodes + data_nodes +
           R"(, {"id": "e0", "plugin": "empirical", "inputs": {"data": "d", "process": "p"}},
           {"id": "s", "plugin": "ddim", "params": {"n": 4, "steps": 2}, "inputs": {"score": "e)" +
           std::to_string(length) + "\"}}]}";
}

// Diamonds `depth` deep: at each level two estimators, each taking both of the level before.
std::string diamonds(std::size_t depth) {
    std::string nodes = data_nodes + R"(, {"id": "l0", "plugin": "empirical", "inputs": {"data": "d", "process": "p"}},
      {"id": "r0", "plugin": "empirical", "inputs": {"data": "d", "process": "p"}})";
    for (std::size_t k = 1; k <= depth; ++k)
        for (const char* side : {"l", "r"})
            nodes += R"(, {"id": ")" + std::string(side) + std::to_string(k) +
                     R"(", "plugin": "perturbed", "inputs": {"score": "l)" + std::to_string(k - 1) +
                     R"(", "reference": "r)" + std::to_string(k - 1) + "\"}}";
    return R"({"seed": 1, "nodes": [)" + nodes + R"(, {"id": "s", "plugin": "ddim", "params": {"n": 4, "steps": 2},
      "inputs": {"score": "l)" + std::to_string(depth) + "\"}}]}";
}

// A sampler reading its initial points from `init` (a file beside the pipeline).
std::string with_init(const std::string& init) {
    return R"({"seed": 1, "nodes": [)" + data_nodes + R"(, {"id": "e", "plugin": "empirical", "inputs": {"data": "d", "process": "p"}},
      {"id": "s", "plugin": "ddim", "params": {"n": 4, "steps": 2, "init": ")" + init + R"("}, "inputs": {"score": "e"}}]})";
}

// A rows x cols .npy file of the values (row after row).
void write_npy(const fs::path& file, std::size_t rows, std::size_t cols, const std::vector<double>& values) {
    mdlab::Matrix m = mdlab::Matrix::from_shape({rows, cols});
    std::copy(values.begin(), values.end(), m.data());
    mdlab::npy::write(file, m);
}

CommandResult validate(const TempDir& tmp, const std::string& pipeline) {
    write_text(tmp.path() / "p.json", pipeline);
    return run_mdlab({"validate", (tmp.path() / "p.json").string()});
}

// `mdlab run` of the pipeline into tmp/out.
CommandResult run(const TempDir& tmp, const std::string& pipeline) {
    write_text(tmp.path() / "p.json", pipeline);
    return run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "out").string(), "-q"});
}

// "0, 1, ..., count - 1"
std::string seeds(long long count) {
    std::string out;
    for (long long s = 0; s < count; ++s) out += (s ? ", " : "") + std::to_string(s);
    return out;
}

bool mentions(const CommandResult& r, const std::string& text) { return r.err.find(text) != std::string::npos; }

}  // namespace

TEST_CASE("graph order without recursion: long chains validate, long cycles are refused by name") {
    TempDir tmp;
    SECTION("a valid chain of 50,000 nodes listed in reverse") {
        const auto r = validate(tmp, chain(50000));
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("50005 nodes") != std::string::npos);
    }
    SECTION("a 50,000-node cycle: exit 2 naming the cycle, shortened") {
        const auto r = validate(tmp, chain(50000, true));
        INFO(r.err.substr(0, 2000));
        CHECK(r.exit_code == 2);
        CHECK(mentions(r, "node 'e50000', key 'inputs': the inputs form a cycle: e50000 -> e49999 -> "));
        CHECK(mentions(r, " -> ... (49992 more nodes) -> "));
        CHECK(mentions(r, " -> e2 -> e1 -> e50000 (50000 nodes)"));
        CHECK(r.err.size() < 1000);
    }
}

TEST_CASE("configuration records grow linearly with the graph") {
    TempDir tmp;
    SECTION("diamonds 15 deep") {  // nesting each upstream signature wrote 51 MB
        const auto r = run(tmp, diamonds(15));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(fs::file_size(tmp.path() / "out" / "cells" / "0000" / "cell.json") < 32 * 1024);
    }
    SECTION("a chain of 46 nodes") {
        const auto r = run(tmp, chain(41));
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(fs::file_size(tmp.path() / "out" / "cells" / "0000" / "cell.json") < 32 * 1024);
        const std::string record = read_text(tmp.path() / "out" / "cells" / "0000" / "cell.json");
        CHECK(record.find("|<score:e40=") != std::string::npos);  // upstream by id and digest
        CHECK(record.find("e39#perturbed") == record.rfind("e39#perturbed"));  // only on its own line
        const auto again = run(tmp, chain(41));  // the record still finds the cell on resume
        CHECK(again.exit_code == 0);
        CHECK(read_text(tmp.path() / "out" / "run.log").find("finished in an earlier run") != std::string::npos);
    }
}

TEST_CASE("limits on nodes, cells x nodes and disk are refused with exit 2 naming them") {
    TempDir tmp;
    SECTION("more than 100,000 nodes") {
        const auto r = validate(tmp, chain(100001));
        CHECK(r.exit_code == 2);
        CHECK(mentions(r, "more than the limit of 100000"));
    }
    SECTION("a 46-node chain over a million cells") {  // 27 GB to expand before
        const std::string values = seeds(1000);
        const auto r = validate(tmp, chain(41, false, R"("sweep": {"grid": {"seed": [)" + values + R"(], "d.n": [)" +
                                                          values.substr(3) + ", 1000]}}, "));
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(mentions(r, "1000000 cells x 46 nodes"));
        CHECK(mentions(r, "more than the limit of 20000000"));
    }
    SECTION("the points of one cell together exceed the machine's memory") {
        const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
        const auto n = std::to_string(static_cast<long long>(memory * 0.6 / 16.0));  // each 0.6 of it (D = 2)
        const auto r = validate(tmp, R"({"seed": 1, "nodes": [)" + data_nodes + R"(,
          {"id": "a", "plugin": "sample", "params": {"n": )" + n + R"(}, "inputs": {"manifold": "m"}},
          {"id": "b", "plugin": "sample", "params": {"n": )" + n + R"(}, "inputs": {"manifold": "m"}}]})");
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(mentions(r, "the points of the cell together need at least"));
    }
    SECTION("a run that would write more than the disk's free space") {
        struct statvfs st {};
        REQUIRE(::statvfs(tmp.path().c_str(), &st) == 0);
        const double free = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
        // 10^8 points in R^2 (1.6 GB) a cell, each seed a new sample.
        const auto cells = static_cast<long long>(free / 1.6e9) + 2;
        const auto r = run(tmp, R"({"seed": 1, "sweep": {"grid": {"seed": [)" + seeds(cells) + R"(]}}, "nodes": [)" + data_nodes + R"(,
          {"id": "a", "plugin": "sample", "params": {"n": 100000000}, "inputs": {"manifold": "m"}}]})");
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(mentions(r, "the run will write at least"));
        CHECK(mentions(r, "--out"));
        CHECK(!fs::exists(tmp.path() / "out"));
    }
}

TEST_CASE("input files read only by running cells are checked by validate") {
    TempDir tmp;
    SECTION("a broken init file: validate refuses it, run leaves no folder") {
        write_text(tmp.path() / "x.npy", "NOTNUMPY");
        const auto v = validate(tmp, with_init("x.npy"));
        CHECK(v.exit_code == 2);
        CHECK(mentions(v, "node 's', key 'init'"));
        CHECK(mentions(v, "NUMPY magic"));
        const auto r = run(tmp, with_init("x.npy"));
        CHECK(r.exit_code == 2);
        CHECK(!fs::exists(tmp.path() / "out"));
    }
    SECTION("init with the wrong number of columns") {
        write_npy(tmp.path() / "x.npy", 2, 3, {0, 0, 0, 1, 1, 1});
        const auto v = validate(tmp, with_init("x.npy"));
        CHECK(v.exit_code == 2);
        CHECK(mentions(v, "initial points have 3 columns, the points of node 's' have dimension 2"));
    }
    SECTION("init with a non-finite point") {
        write_npy(tmp.path() / "x.npy", 2, 2, {0, 0, 1, std::nan("")});
        const auto v = validate(tmp, with_init("x.npy"));
        CHECK(v.exit_code == 2);
        CHECK(mentions(v, "initial point 1 is not finite"));
    }
    SECTION("a good init file validates and runs") {
        write_npy(tmp.path() / "x.npy", 3, 2, {0, 0, 1, 1, 0.5, 0.5});
        CHECK(validate(tmp, with_init("x.npy")).exit_code == 0);
        CHECK(run(tmp, with_init("x.npy")).exit_code == 0);
    }
    SECTION("the points step's file") {
        write_text(tmp.path() / "x.csv", "1,0\n0,abc\n");
        const auto v = validate(tmp, R"({"seed": 1, "nodes": [{"id": "x", "plugin": "points", "params": {"path": "x.csv"}}]})");
        CHECK(v.exit_code == 2);
        CHECK(mentions(v, "node 'x', key 'path'"));
        CHECK(mentions(v, "'abc' is not a finite number"));
    }
}
