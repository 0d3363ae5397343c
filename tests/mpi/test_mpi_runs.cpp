// `mpirun -np 3 mdlab run`: the sweep's cells shared among three ranks give the very files of a
// one-process run; a plugin fault in one rank's cell fails that cell only, named as in one
// process; a rerun under MPI resumes, running only the cells that did not finish.
#include <regex>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

CommandResult mpirun(int ranks, std::vector<std::string> mdlab_args) {
    std::vector<std::string> args{"--allow-run-as-root", "--oversubscribe", "-np", std::to_string(ranks),
                                  mdlab_executable().string()};
    args.insert(args.end(), mdlab_args.begin(), mdlab_args.end());
    return run_program(MDLAB_TEST_MPIEXEC, args);
}

// Twelve cells: training sets of three sizes, two step counts, two seeds; the sampler records
// its trajectory, so files written by the plugins travel too.
const std::string sweep = R"({
  "seed": 7,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 4}},
    {"id": "train", "plugin": "sample", "params": {"n": 100}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 200, "steps": 50, "t_min": 0.01, "record_every": 10},
     "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}},
    {"id": "mem", "plugin": "memorization", "inputs": {"samples": "gen", "data": "train", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"train.n": [50, 100, 400], "gen.steps": [20, 60], "seed": [1, 2]}}
})";

// The points file results.json names for each cell's node (where the points are, whichever
// cell computed them).
std::map<std::string, std::string> points_files(const fs::path& run) {
    std::map<std::string, std::string> files;
    const auto root = boost::json::parse(read_text(run / "results.json"));
    for (const auto& cell : root.at("cells").as_array())
        for (const auto& [node, value] : cell.at("nodes").as_object())
            if (value.as_object().contains("points"))
                files[std::to_string(cell.at("cell").as_int64()) + "/" + std::string(node)] =
                    std::string(value.at("points").as_string());
    return files;
}

}  // namespace

TEST_CASE("a sweep on three MPI ranks writes the files of a one-process run") {
    TempDir tmp;
    write_text(tmp.path() / "sweep.json", sweep);
    const fs::path one = tmp.path() / "one", three = tmp.path() / "three";
    const auto single = run_mdlab({"run", (tmp.path() / "sweep.json").string(), "--out", one.string(), "-q"});
    REQUIRE(single.exit_code == 0);
    const auto r = mpirun(3, {"run", (tmp.path() / "sweep.json").string(), "--out", three.string(), "-q", "--threads", "1"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    for (const char* file : {"results.csv", "summary.csv", "pipeline.json"}) {
        INFO(file);
        CHECK(without_wall_times(read_text(three / file)) == without_wall_times(read_text(one / file)));
    }
    // Every cell's points (samples, trajectories' last frames alike) have the same bytes.
    const auto files_one = points_files(one), files_three = points_files(three);
    REQUIRE(files_one.size() == 12 * 2);  // train and gen in each cell
    REQUIRE(files_three.size() == files_one.size());
    for (const auto& [node, file] : files_one) {
        INFO(node);
        CHECK(read_text(three / files_three.at(node)) == read_text(one / file));
    }
    for (int cell = 0; cell < 12; ++cell) {
        const fs::path traj = fs::path("cells") / (std::string(cell < 10 ? "000" : "00") + std::to_string(cell)) / "gen.trajectory.npy";
        INFO(traj);
        CHECK(fs::exists(three / traj) == fs::exists(one / traj));
        if (fs::exists(one / traj)) CHECK(read_text(three / traj) == read_text(one / traj));
    }
    // The work was shared, and rank 0 kept one log.
    const std::string log = read_text(three / "run.log");
    CHECK(log.find("12 cells on 3 MPI ranks") != std::string::npos);
    CHECK((log.find("[rank 1] cell") != std::string::npos || log.find("[rank 2] cell") != std::string::npos));
    CHECK(fs::exists(three / "report.html"));
}

TEST_CASE("a plugin fault in one rank's cell fails that cell only, and a rerun under MPI resumes") {
    TempDir tmp;
    const fs::path trigger = tmp.path() / "fault-on";
    write_text(trigger, "");
    const std::string pipeline = R"({
      "seed": 4,
      "nodes": [
        {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
        {"id": "vp", "plugin": "vp"},
        {"id": "score", "plugin": "faulty_score", "params": {"while_exists": ")" + trigger.string() + R"("},
         "inputs": {"process": "vp"}},
        {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 2000, "steps": 400}, "inputs": {"score": "score"}},
        {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
      ],
      "sweep": {"grid": {"score.fault": ["none", "throw"], "seed": [1, 2, 3]}}
    })";
    write_text(tmp.path() / "p.json", pipeline);
    const std::vector<std::string> plugins{"--plugin-dir", (fixture_dir() / "faulty").string()};
    auto args = [&](const fs::path& out) {
        std::vector<std::string> a{"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q"};
        a.insert(a.end(), plugins.begin(), plugins.end());
        return a;
    };

    const fs::path run = tmp.path() / "run";
    const auto faulty = mpirun(3, args(run));
    INFO(faulty.err);
    CHECK(faulty.exit_code == 1);
    for (int cell : {3, 4, 5})
        CHECK(faulty.err.find("p.json: error: cell " + std::to_string(cell) + ", node 'gen': faulty_score: deliberate failure") !=
              std::string::npos);
    // Rank 0 runs one cell (tens of ms) while the two workers, two requests each, take four:
    // some of the failing cells ran on other ranks.
    const std::string log = read_text(run / "run.log");
    CHECK(std::regex_search(log, std::regex(R"(\[rank [12]\] cell [345] node gen \(euler_maruyama\) failed: faulty_score)")));
    const auto rows = parse_csv(read_text(run / "results.csv"));
    REQUIRE(rows.size() == 6);
    for (const auto& row : rows) {
        const bool broken = std::stoi(row.at("cell")) >= 3;
        INFO("cell " << row.at("cell"));
        CHECK(row.at("status") == (broken ? "skipped" : "ok"));
        CHECK(row.at("mean").empty() == broken);
    }

    // The fault gone, the same command finishes only the three failed cells, and the run folder
    // ends as a clean one-process run's.
    fs::remove(trigger);
    const auto resumed = mpirun(3, args(run));
    INFO(resumed.err);
    CHECK(resumed.exit_code == 0);
    CHECK(resumed.err.find("3 of 6 cells had finished in an earlier run and were not run again") != std::string::npos);
    const fs::path clean = tmp.path() / "clean";
    REQUIRE(run_mdlab(args(clean)).exit_code == 0);
    CHECK(without_wall_times(read_text(run / "results.csv")) == without_wall_times(read_text(clean / "results.csv")));
}
