// How mdlab reacts to an MPI launcher's environment: MDLAB_NO_MPI=1 runs one ordinary process;
// an mdlab built without MPI refuses to be one of several processes, since each would run the
// whole sweep into the same folder.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string pipeline = R"({
  "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "draw", "plugin": "sample", "params": {"n": 20}, "inputs": {"manifold": "circle"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "draw", "manifold": "circle"}}
  ]
})";

}  // namespace

TEST_CASE("MDLAB_NO_MPI=1 runs one process even under a launcher's environment") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", pipeline);
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "run").string(), "-q"},
                             {"OMPI_COMM_WORLD_SIZE=2", "MDLAB_NO_MPI=1"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(fs::exists(tmp.path() / "run" / "results.csv"));
}

#ifndef MDLAB_HAVE_MPI
TEST_CASE("an mdlab built without MPI refuses to be one of several MPI processes") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", pipeline);
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "run").string(), "-q"},
                             {"OMPI_COMM_WORLD_SIZE=2"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("started as one of 2 MPI processes, but this mdlab was built without MPI") != std::string::npos);
    CHECK(r.err.find("install libopenmpi-dev openmpi-bin and rebuild") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp.path() / "run"));
}
#endif
