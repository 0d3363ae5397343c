// `--set node.key=value` on a key the sweep sets would be replaced in every cell; it is refused
// (exit code 2) naming the axis, its values and where the pipeline declares it.
#include <catch2/catch.hpp>

#include "command.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string swept = R"({
  "seed": 3,
  "nodes": [
    {"id": "sphere", "plugin": "sphere"},
    {"id": "train", "plugin": "sample", "inputs": {"manifold": "sphere"}},
    {"id": "ve", "plugin": "ve"},
    {"id": "score", "plugin": "kernel_smoothed", "inputs": {"data": "train", "process": "ve"}},
    {"id": "gen", "plugin": "ddim", "params": {"n": 30}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "sphere"}}
  ],
  "sweep": {
    "grid": {"gen.steps": [10, 20, 40]},
    "zip": {"train.n": [40, 80], "gen.n": [30, 60]}
  },
  "smoke": {"sweep": {"gen.steps": [5]}}
})";

struct Fixture {
    TempDir tmp;
    fs::path file = tmp.path() / "swept.json";
    Fixture() { write_text(file, swept); }
    CommandResult validate(std::vector<std::string> extra) const {
        std::vector<std::string> args{"validate", file.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_mdlab(args);
    }
};

}  // namespace

TEST_CASE("--set on a grid axis names the axis, its values and where it is declared") {
    Fixture f;
    const auto r = f.validate({"--set", "gen.steps=5"});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--set gen.steps=5") != std::string::npos);
    CHECK(r.err.find("node 'gen', key 'steps'") != std::string::npos);
    CHECK(r.err.find("'gen.steps' is swept (a sweep axis with values 10, 20, 40)") != std::string::npos);
    CHECK(r.err.find("swept.json:12:14 (/sweep/grid/gen.steps)") != std::string::npos);

    // A run refuses it too, before creating anything.
    const fs::path out = f.tmp.path() / "run";
    const auto run = run_mdlab({"run", f.file.string(), "--set", "gen.steps=5", "--out", out.string(), "-q"});
    CHECK(run.exit_code == 2);
    CHECK_FALSE(fs::exists(out));
}

TEST_CASE("--set on a key of a zip group is refused the same way") {
    Fixture f;
    const auto r = f.validate({"--set", "train.n=100"});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("'train.n' is swept (a key of a zip group with values 40, 80)") != std::string::npos);
    CHECK(r.err.find("(/sweep/zip/train.n)") != std::string::npos);
}

TEST_CASE("--set on a key the sweep does not set still overrides it; --smoke's sweep is the one checked") {
    Fixture f;
    CHECK(f.validate({"--set", "gen.t_min=0.01"}).exit_code == 0);
    const auto smoke = f.validate({"--smoke", "--set", "gen.steps=3"});
    INFO(smoke.err);
    CHECK(smoke.exit_code == 2);
    CHECK(smoke.err.find("with values 5)") != std::string::npos);  // the smoke section's values
}
