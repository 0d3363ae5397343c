// A plugin library that crashes or hangs while loading (its static initialisers) is loaded in a
// child process first, named in a warning and skipped: mdlab and the other plugins go on.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("a library that crashes or hangs while loading is named and skipped") {
    const auto r = run_mdlab({"plugins", "--plugin-dir", (fixture_dir() / "crash_on_load").string(), "--plugin-dir",
                              (fixture_dir() / "hang_on_load").string(), "--plugin-dir", (fixture_dir() / "faulty").string()},
                             {"MDLAB_PLUGIN_PROBE_TIMEOUT=1"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    const std::string crash = (fixture_dir() / "crash_on_load" / "mdlab_crash_on_load.so").string();
    const std::string hang = (fixture_dir() / "hang_on_load" / "mdlab_hang_on_load.so").string();
    CHECK(r.err.find("mdlab: warning: " + crash + ": plugin library skipped: a process loading it was killed by signal") !=
          std::string::npos);
    CHECK(r.err.find("mdlab: warning: " + hang +
                     ": plugin library skipped: a process loading it did not finish loading within 1.00 s") !=
          std::string::npos);
    // The libraries after them are loaded: the probe goes on in a new child.
    CHECK(r.out.find("faulty_score") != std::string::npos);
    CHECK(r.out.find("euler_maruyama") != std::string::npos);
    CHECK(r.out.find("never_loaded") == std::string::npos);
}

TEST_CASE("a pipeline runs next to a library that crashes while loading") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", R"({"seed": 1, "nodes": [
      {"id": "circle", "plugin": "circle"},
      {"id": "draw", "plugin": "sample", "params": {"n": 20}, "inputs": {"manifold": "circle"}},
      {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "draw", "manifold": "circle"}}]})");
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "run").string(), "-q",
                              "--plugin-dir", (fixture_dir() / "crash_on_load").string()});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("mdlab_crash_on_load.so: plugin library skipped") != std::string::npos);
    // MDLAB_PLUGIN_PROBE=0 turns the probe off (the crash then takes mdlab down, as any crash would).
    const auto unprobed = run_mdlab({"plugins", "--plugin-dir", (fixture_dir() / "crash_on_load").string()},
                                    {"MDLAB_PLUGIN_PROBE=0"});
    CHECK(unprobed.exit_code != 0);
    CHECK(unprobed.err.find("plugin library skipped") == std::string::npos);
}
