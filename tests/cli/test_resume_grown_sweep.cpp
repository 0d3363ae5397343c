// Resuming a grown sweep: cells are matched to the earlier run's records by configuration, not by
// index, so values added anywhere on any axis run only the new cells, and the results files equal
// a fresh run of the grown pipeline byte for byte.
#include <regex>
#include <set>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// Two axes: train.n outside, gen.steps inside (fastest). The training data is shared along the
// inner axis, so later cells of a row take it from the row's first cell ("reused").
std::string pipeline(const std::string& n_values, const std::string& steps_values) {
    return R"({
  "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 60}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 40, "steps": 20}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"train.n": )" +
           n_values + R"(, "gen.steps": )" + steps_values + R"(}}
})";
}

struct Fixture {
    TempDir tmp;
    // `mdlab run`, or with ranks > 1 `mpirun -np ranks mdlab run`.
    CommandResult run(const std::string& text, const fs::path& out, int ranks = 1) const {
        const fs::path file = tmp.path() / "sweep.json";
        write_text(file, text);
        std::vector<std::string> args{"run", file.string(), "--out", out.string(), "-q"};
        if (ranks == 1) return run_mdlab(args);
#ifdef MDLAB_TEST_MPIEXEC
        args.insert(args.begin(), {"--allow-run-as-root", "--oversubscribe", "-np", std::to_string(ranks),
                                   mdlab_executable().string()});
        args.insert(args.end(), {"--threads", "1"});
        return run_program(MDLAB_TEST_MPIEXEC, args);
#else
        FAIL("a build without MPI");
        return {};
#endif
    }
};

// "resumed DIR: K of N cells ..." -> K, or -1 when the run did not resume.
int resumed_cells(const std::string& err) {
    std::smatch m;
    if (!std::regex_search(err, m, std::regex("resumed .*: (\\d+) of \\d+ cells"))) return -1;
    return std::stoi(m[1]);
}

// The cells whose sampler ran in the last run written to `run`/run.log (the log is appended to).
std::set<int> cells_run_last(const fs::path& run) {
    const std::string log = read_text(run / "run.log");
    const std::string last = log.substr(log.rfind("mdlab run "));
    std::set<int> out;
    const std::regex done("cell (\\d+) node gen done");
    for (auto it = std::sregex_iterator(last.begin(), last.end(), done); it != std::sregex_iterator(); ++it)
        out.insert(std::stoi((*it)[1]));
    return out;
}

// Every points file results.json names exists.
void check_points_files(const fs::path& run) {
    const auto root = boost::json::parse(read_text(run / "results.json"));
    for (const auto& cell : root.at("cells").as_array())
        for (const auto& node : cell.at("nodes").as_object())
            if (const auto* points = node.value().as_object().if_contains("points")) {
                const fs::path file = run / std::string(points->as_string());
                INFO(file);
                CHECK(fs::exists(file));
            }
}

}  // namespace

TEST_CASE("a sweep grown in the middle of the inner axis and at the start of the outer runs only its new cells") {
    Fixture f;
    const fs::path run = f.tmp.path() / "run", fresh = f.tmp.path() / "fresh";
    REQUIRE(f.run(pipeline("[60, 90]", "[10, 40]"), run).exit_code == 0);

    // Grown: n = 30 before the others, steps = 20 between 10 and 40. 3 x 3 = 9 cells, of which the
    // 4 earlier ones (n 60/90 x steps 10/40, cells 0-3) are now cells 3, 5, 6 and 8.
    const std::string grown = pipeline("[30, 60, 90]", "[10, 20, 40]");
    const auto rerun = f.run(grown, run);
    INFO(rerun.err);
    REQUIRE(rerun.exit_code == 0);
    CHECK(resumed_cells(rerun.err) == 4);
    CHECK(cells_run_last(run) == std::set<int>{0, 1, 2, 4, 7});
    const std::string log = read_text(run / "run.log");
    CHECK(log.find("cell 3 finished in an earlier run (as cell 0): not run again") != std::string::npos);
    CHECK(log.find("cell 8 finished in an earlier run (as cell 3): not run again") != std::string::npos);

    REQUIRE(f.run(grown, fresh).exit_code == 0);
    CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
    for (int c = 0; c < 9; ++c) {
        const fs::path gen = fs::path("cells") / ("000" + std::to_string(c)) / "gen.npy";
        INFO(gen);
        CHECK(read_text(run / gen) == read_text(fresh / gen));  // each cell's own files moved with it
    }
    check_points_files(run);

    SECTION("a third run takes every cell where it now is") {
        const auto again = f.run(grown, run);
        CHECK(resumed_cells(again.err) == 9);
        CHECK(cells_run_last(run).empty());
        CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
    }
}

TEST_CASE("a value removed and put back: its cells come back from the earlier run") {
    Fixture f;
    const fs::path run = f.tmp.path() / "run", fresh = f.tmp.path() / "fresh";
    const std::string full = pipeline("[60, 90]", "[10, 40]");
    REQUIRE(f.run(full, run).exit_code == 0);
    const std::string reference = read_text(run / "results.csv");

    // Without steps = 10 the remaining cells took their training data from the cells removed: they
    // run again (their records cannot name where that data is), and the results are still right.
    const std::string shrunk = pipeline("[60, 90]", "[40]");
    const auto less = f.run(shrunk, run);
    INFO(less.err);
    REQUIRE(less.exit_code == 0);
    REQUIRE(f.run(shrunk, fresh).exit_code == 0);
    CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
    check_points_files(run);

    // Back to the full sweep: every cell has a record again, some kept under cells/earlier/.
    const auto back = f.run(full, run);
    INFO(back.err);
    REQUIRE(back.exit_code == 0);
    CHECK(resumed_cells(back.err) == 4);
    CHECK(cells_run_last(run).empty());
    CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(reference));
    check_points_files(run);
}

#ifdef MDLAB_TEST_MPIEXEC
TEST_CASE("under MPI, the grown sweep's earlier cells are taken before the ranks share the new ones") {
    Fixture f;
    const fs::path run = f.tmp.path() / "run", fresh = f.tmp.path() / "fresh";
    REQUIRE(f.run(pipeline("[60, 90]", "[10, 40]"), run, 2).exit_code == 0);
    const std::string grown = pipeline("[30, 60, 90]", "[10, 20, 40]");
    const auto rerun = f.run(grown, run, 2);
    INFO(rerun.err);
    REQUIRE(rerun.exit_code == 0);
    CHECK(resumed_cells(rerun.err) == 4);
    CHECK(cells_run_last(run) == std::set<int>{0, 1, 2, 4, 7});
    REQUIRE(f.run(grown, fresh).exit_code == 0);
    CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
    check_points_files(run);
}
#endif
