// Times outside the forward process's range (0, T] are bad input, before anything runs: `mdlab
// score --t`, and the parameters plugins mark as process times (a sampler's t_min, a metric's
// t_min and t_max), each named with its node, key, value, the process and the valid range.
#include <catch2/catch.hpp>

#include <mdlab/npy.hpp>

#include "command.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// `process` and `extra` (more nodes) and `sweep` are spliced in.
std::string pipeline(const std::string& process, const std::string& gen_params, const std::string& extra = {},
                     const std::string& sweep = {}) {
    return R"({
  "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 40}, "inputs": {"manifold": "circle"}},
    {"id": "proc", )" + process + R"(},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "proc"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 30, "steps": 10)" + gen_params +
           R"(}, "inputs": {"score": "score"}})" + extra + R"(
  ])" + (sweep.empty() ? "" : ",\n  \"sweep\": " + sweep) + R"(
})";
}

struct Fixture {
    TempDir tmp;
    fs::path file = tmp.path() / "times.json";
    CommandResult validate(const std::string& text) const {
        write_text(file, text);
        return run_mdlab({"validate", file.string()});
    }
    CommandResult score(const std::string& t) const {
        const fs::path points = tmp.path() / "x.npy";
        mdlab::Matrix x = mdlab::Matrix::from_shape({5, 3});
        for (auto& v : x) v = 0.25;
        mdlab::npy::write(points, x);
        return run_mdlab({"score", file.string(), "--node", "score", "--t", t, "--points", points.string(), "--out",
                          (tmp.path() / "s.npy").string()});
    }
};

bool says(const CommandResult& r, const std::string& text) { return r.err.find(text) != std::string::npos; }

}  // namespace

TEST_CASE("mdlab score refuses a time outside (0, t_end] of the estimator's process") {
    Fixture f;
    REQUIRE(f.validate(pipeline(R"("plugin": "vp")", "")).exit_code == 0);
    for (const std::string t : {"2", "-1", "0", "1.0000001"}) {
        const auto r = f.score(t);
        INFO("--t " << t << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(says(r, "key '--t'"));
        CHECK(says(r, "lies outside the time range (0, 1] of process 'proc' (vp)"));
        CHECK_FALSE(fs::exists(f.tmp.path() / "s.npy"));
    }
    for (const std::string t : {"1", "0.3"}) {
        const auto r = f.score(t);
        INFO("--t " << t << ": " << r.err);
        CHECK(r.exit_code == 0);
    }
    // The range is the process's own: ve with t_end = 3 takes t = 2.
    write_text(f.file, pipeline(R"("plugin": "ve", "params": {"t_end": 3})", ""));
    CHECK(f.score("2").exit_code == 0);
    CHECK(says(f.score("3.5"), "(0, 3] of process 'proc' (ve)"));
}

TEST_CASE("a sampler's t_min beyond its process's end time is a validation error naming node, key, value and range") {
    Fixture f;
    const auto r = f.validate(pipeline(R"("plugin": "vp")", R"(, "t_min": 2)"));
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(says(r, "times.json:8:"));
    CHECK(says(r, "node 'gen', key 't_min': t_min = 2 lies outside the time range (0, 1] of process 'proc' (vp)"));
    CHECK(says(r, "/nodes/4/params/t_min"));
    // Within a longer process it is fine.
    CHECK(f.validate(pipeline(R"("plugin": "ve", "params": {"t_end": 3})", R"(, "t_min": 2)")).exit_code == 0);
}

TEST_CASE("a swept time is reported at its value in the sweep, once") {
    Fixture f;
    const auto r = f.validate(pipeline(R"("plugin": "vp")", "", "",
                                       R"({"grid": {"gen.t_min": [0.01, 5], "seed": [1, 2]}})"));
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(says(r, "t_min = 5 lies outside the time range (0, 1]"));
    CHECK(says(r, "/sweep/grid/gen.t_min/1"));
    CHECK(r.err.find("t_min = 5") == r.err.rfind("t_min = 5"));  // two cells, one message
}

TEST_CASE("a metric's time grid beyond the process is a validation error") {
    Fixture f;
    const std::string oracle = R"(,
    {"id": "oracle", "plugin": "oracle", "inputs": {"manifold": "circle", "process": "proc"}},
    {"id": "err", "plugin": "score_error", "params": {"t_max": 1.5},
     "inputs": {"score": "score", "oracle": "oracle", "manifold": "circle"}})";
    const auto r = f.validate(pipeline(R"("plugin": "vp")", "", oracle));
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(says(r, "node 'err', key 't_max': t_max = 1.5 lies outside the time range (0, 1] of process 'proc' (vp)"));
    // t_max = 0 stands for T: valid.
    std::string zero = oracle;
    zero.replace(zero.find("1.5"), 3, "0");
    CHECK(f.validate(pipeline(R"("plugin": "vp")", "", zero)).exit_code == 0);
}
