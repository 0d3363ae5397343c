// Every class of bad pipeline input exits with code 2 and a message naming where (file:line:col,
// JSON path), the node and the key, with the valid alternatives. Nothing runs, nothing crashes.
#include <iterator>
#include <regex>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// A small valid pipeline; each case replaces one piece of it.
const std::string good = R"({
  // a comment, allowed
  "name": "small",
  "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 40}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 30, "steps": 20, "grid": "uniform"},
     "inputs": {"score": "score"}},
    {"id": "mem", "plugin": "memorization", "inputs": {"samples": "gen", "data": "train", "manifold": "circle"}},
  ],
})";

std::string replaced(const std::string& from, const std::string& to) {
    const auto at = good.find(from);
    INFO("replacing " << from);
    REQUIRE(at != std::string::npos);
    std::string s = good;
    s.replace(at, from.size(), to);
    return s;
}

// 1-based line of the first occurrence of `needle` in `text`.
std::size_t line_of(const std::string& text, const std::string& needle) {
    const auto at = text.find(needle);
    REQUIRE(at != std::string::npos);
    return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

struct Expect {
    std::string pipeline;
    std::vector<std::string> mentions;  // substrings the error must contain
    std::string line_of;                // when set, the error's line is the one holding this text
};

CommandResult validate_and_run(const TempDir& tmp, const std::string& text, std::vector<std::string> extra = {}) {
    const fs::path file = tmp.path() / "pipeline.json";
    write_text(file, text);
    std::vector<std::string> args{"validate", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto v = run_mdlab(args);
    args[0] = "run";
    args.insert(args.end(), {"--out", (tmp.path() / "out").string(), "-q"});
    const auto r = run_mdlab(args);
    CHECK(v.exit_code == r.exit_code);
    CHECK(v.err == r.err);
    // Bad input stops the run before it starts: no run folder.
    CHECK_FALSE(fs::exists(tmp.path() / "out"));
    return r;
}

}  // namespace

TEST_CASE("the good pipeline validates and runs") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", good);
    const auto v = run_mdlab({"validate", (tmp.path() / "p.json").string()});
    CHECK(v.exit_code == 0);
    CHECK(v.out.find("ok") != std::string::npos);
    CHECK(run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "o").string(), "-q"}).exit_code == 0);
}

TEST_CASE("each bad-input class exits 2 naming file:line:col, node and key") {
    const std::vector<std::pair<std::string, Expect>> cases{
        {"unknown plugin",
         {replaced("\"plugin\": \"euler_maruyama\"", "\"plugin\": \"euler_maruyma\""),
          {"node 'gen'", "key 'plugin'", "did you mean 'euler_maruyama'", "/nodes/4/plugin"}, "euler_maruyma"}},
        {"unknown parameter",
         {replaced("\"steps\": 20", "\"stpes\": 20"),
          {"node 'gen'", "key 'stpes'", "did you mean 'steps'", "/nodes/4/params/stpes"}, "stpes"}},
        {"mistyped parameter",
         {replaced("\"steps\": 20", "\"steps\": \"twenty\""),
          {"node 'gen'", "key 'steps'", "expected an integer", "got a string"}, "twenty"}},
        {"fractional integer",
         {replaced("\"n\": 40", "\"n\": 40.5"), {"node 'train'", "key 'n'", "integer"}, "40.5"}},
        {"out-of-range value",
         {replaced("\"ambient_dim\": 3", "\"ambient_dim\": 1"),
          {"node 'circle'", "key 'ambient_dim'", "out of range", ">= 2"}, "\"ambient_dim\": 1"}},
        {"unknown choice",
         {replaced("\"grid\": \"uniform\"", "\"grid\": \"karas\""),
          {"node 'gen'", "key 'grid'", "did you mean 'karras'", "uniform"}, "karas"}},
        {"missing input",
         {replaced("\"inputs\": {\"data\": \"train\", \"process\": \"vp\"}", "\"inputs\": {\"process\": \"vp\"}"),
          {"node 'score'", "key 'data'", "missing input", "train"}, "\"id\": \"score\""}},
        {"input from a node that does not exist",
         {replaced("\"samples\": \"gen\"", "\"samples\": \"gne\""),
          {"node 'mem'", "key 'samples'", "did you mean 'gen'"}, "gne"}},
        {"input of the wrong kind",
         {replaced("\"samples\": \"gen\"", "\"samples\": \"vp\""),
          {"node 'mem'", "key 'samples'", "expects points", "forward process", "gen"}, "\"samples\": \"vp\""}},
        {"unknown input port",
         {replaced("\"samples\": \"gen\"", "\"sample\": \"gen\""),
          {"node 'mem'", "key 'sample'", "did you mean 'samples'"}, "\"sample\": \"gen\""}},
        {"cyclic inputs",
         {replaced("\"inputs\": {\"data\": \"train\", \"process\": \"vp\"}", "\"inputs\": {\"data\": \"gen\", \"process\": \"vp\"}"),
          {"cycle", "score -> gen -> score"}, ""}},
        {"duplicate node id",
         {replaced("{\"id\": \"vp\", \"plugin\": \"vp\"}", "{\"id\": \"train\", \"plugin\": \"vp\"}"),
          {"node 'train'", "key 'id'", "duplicate node id", "line 7"}, ""}},
        {"missing seed", {replaced("\"seed\": 3,", ""), {"key 'seed'"}, ""}},
        {"unknown top-level key", {replaced("\"seed\": 3,", "\"seed\": 3, \"sed\": 1,"), {"key 'sed'"}, "\"sed\""}},
        {"JSON syntax error",
         {replaced("{\"id\": \"vp\", \"plugin\": \"vp\"},", "{\"id\": \"vp\" \"plugin\": \"vp\"},"), {"pipeline.json:"}, "\"id\": \"vp\""}},
        {"sweep over an unknown key",
         {replaced("  ],\n}", "  ],\n  \"sweep\": {\"grid\": {\"gen.t_mn\": [0.1, 0.2]}},\n}"),
          {"node 'gen'", "key 't_mn'", "did you mean 't_min'"}, "gen.t_mn"}},
        {"sweep value out of range",
         {replaced("  ],\n}", "  ],\n  \"sweep\": {\"grid\": {\"gen.t_min\": [0.1, -2]}},\n}"),
          {"node 'gen'", "key 't_min'", "out of range"}, "-2]"}},
    };
    for (const auto& [name, e] : cases) {
        SECTION(name) {
            TempDir tmp;
            const auto r = validate_and_run(tmp, e.pipeline);
            INFO(name << "\n" << r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("pipeline.json") != std::string::npos);
            for (const auto& m : e.mentions) CHECK(r.err.find(m) != std::string::npos);
            if (!e.line_of.empty()) {
                const std::regex where("pipeline\\.json:(\\d+):(\\d+): error");
                std::smatch m;
                REQUIRE(std::regex_search(r.err, m, where));
                CHECK(std::stoul(m[1]) == line_of(e.pipeline, e.line_of));
            }
        }
    }
}

TEST_CASE("bad --set arguments exit 2 naming the argument, node and key") {
    TempDir tmp;
    SECTION("unknown node") {
        const auto r = validate_and_run(tmp, good, {"--set", "gne.steps=5"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("--set gne.steps=5") != std::string::npos);
        CHECK(r.err.find("did you mean 'gen'") != std::string::npos);
    }
    SECTION("bad value") {
        const auto r = validate_and_run(tmp, good, {"--set", "gen.steps=0"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("node 'gen', key 'steps'") != std::string::npos);
        CHECK(r.err.find(">= 1") != std::string::npos);
    }
    SECTION("no equals sign") {
        const auto r = validate_and_run(tmp, good, {"--set", "gen.steps"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("gen.steps") != std::string::npos);
    }
}

TEST_CASE("a --set value reaches the run") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", good);
    const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "o").string(), "-q",
                              "--set", "gen.n=11"});
    REQUIRE(r.exit_code == 0);
    CHECK(read_text(tmp.path() / "o" / "results.csv").find(",11,") != std::string::npos);  // n_samples
}

TEST_CASE("files and folders the user names are checked") {
    TempDir tmp;
    SECTION("missing pipeline file") {
        const auto r = run_mdlab({"run", (tmp.path() / "nope.json").string()});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("nope.json") != std::string::npos);
    }
    SECTION("missing init file") {
        const auto r = validate_and_run(tmp, replaced("\"grid\": \"uniform\"", "\"grid\": \"uniform\", \"init\": \"none.npy\""));
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("node 'gen', key 'init'") != std::string::npos);
        CHECK(r.err.find("none.npy") != std::string::npos);
    }
    SECTION("a non-empty folder mdlab did not make is refused, also with --force") {
        write_text(tmp.path() / "p.json", good);
        fs::create_directories(tmp.path() / "o");
        write_text(tmp.path() / "o" / "keep.txt", "mine");
        const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "o").string(), "-q"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("not empty") != std::string::npos);
        const auto f = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", (tmp.path() / "o").string(), "-q", "--force"});
        CHECK(f.exit_code == 2);  // --force replaces an mdlab run's outputs, never writes into someone else's folder
        CHECK(read_text(tmp.path() / "o" / "keep.txt") == "mine");
        CHECK(std::distance(fs::directory_iterator(tmp.path() / "o"), fs::directory_iterator()) == 1);
    }
    SECTION("unknown command-line option") {
        CHECK(run_mdlab({"run", "--frobnicate"}).exit_code == 2);
        CHECK(run_mdlab({"launch"}).exit_code == 2);
    }
}
