// Hostile input: broken, empty, binary or deeply nested JSON, non-finite or absurd sizes,
// broken data files, unusable output folders and a full disk. Each is refused with a message
// naming the file and what is wrong: exit 2 before any work for input, exit 1 for a disk that
// fills during the run. Nothing crashes and no torn file is left.
#include <catch2/catch.hpp>

#include <fstream>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

std::string with_n(const std::string& n) {
    return R"({"seed": 1, "nodes": [{"id": "c", "plugin": "circle", "params": {"ambient_dim": 3}},
      {"id": "t", "plugin": "sample", "params": {"n": )" + n + R"(}, "inputs": {"manifold": "c"}}]})";
}

std::string dataset(const std::string& file) {
    return R"({"seed": 1, "nodes": [{"id": "d", "plugin": "dataset", "params": {"path": ")" + file + R"("}},
      {"id": "t", "plugin": "sample", "params": {"n": 3}, "inputs": {"manifold": "d"}}]})";
}

// A version 1.0 .npy file with the given header dictionary and data bytes.
std::string npy(const std::string& dict, const std::string& data) {
    std::string header = dict;
    while ((10 + header.size() + 1) % 16) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    return out + header + data;
}

std::string doubles(std::size_t n) { return std::string(n * 8, '\0'); }

struct Case {
    std::string name, pipeline;
    std::vector<std::pair<std::string, std::string>> files;  // extra files beside the pipeline
    std::vector<std::string> mentions;
};

}  // namespace

TEST_CASE("every hostile input class is refused with exit 2 before any work") {
    const std::string binary = std::string("\x00\xff\x13\x37{\x01", 6) + std::string(200, '\xfe');
    const std::vector<Case> cases{
        {"empty file", "", {}, {"p.json:1:1", "empty"}},
        {"truncated", R"({"seed": 1, "nodes": [)", {}, {"p.json:1:", "incomplete JSON"}},
        {"binary", binary, {}, {"p.json:1:", "invalid JSON"}},
        {"deeply nested", std::string(100000, '[') + std::string(100000, ']'), {}, {"p.json:1:", "too deep"}},
        {"root not an object", "[1, 2, 3]", {}, {"must be a JSON object"}},
        {"wrong type", R"({"seed": "one", "nodes": "all"})", {}, {"key 'seed'", "\"nodes\" must be a non-empty array"}},
        {"NaN", with_n("NaN"), {}, {"p.json:2:", "invalid JSON"}},
        {"infinity", with_n("1e999"), {}, {"node 't', key 'n'", "expected an integer"}},
        {"negative size", with_n("-5"), {}, {"node 't', key 'n'", "out of range"}},
        {"absurd size", with_n("1000000000000"), {}, {"node 't', key 'n'", "21.8 TiB", "of memory", "reduce n"}},
        {"duplicate ids",
         R"({"seed": 1, "nodes": [{"id": "c", "plugin": "circle"}, {"id": "c", "plugin": "vp"}]})", {},
         {"node 'c'", "duplicate node id"}},
        {"npy bad magic", dataset("x.npy"), {{"x.npy", "NOTNUMPY" + doubles(4)}}, {"node 'd', key 'path'", "x.npy", "NUMPY magic"}},
        {"npy wrong dtype", dataset("x.npy"),
         {{"x.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 3), }", doubles(6))}},
         {"key 'path'", "dtype '<i4' is not supported"}},
        {"npy wrong shape", dataset("x.npy"),
         {{"x.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 3), }", doubles(12))}},
         {"key 'path'", "shape (2, 2, 3)"}},
        {"npy truncated", dataset("x.npy"),
         {{"x.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }", doubles(5))}},
         {"key 'path'", "truncated data"}},
        {"csv ragged", dataset("x.csv"), {{"x.csv", "1,0,0\n0,1\n-1,0,0\n"}}, {"key 'path'", "line 2 has 2 values"}},
        {"csv not numbers", dataset("x.csv"), {{"x.csv", "1,0,0\n0,abc,0\n"}}, {"key 'path'", "'abc' is not a finite number"}},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            TempDir tmp;
            write_text(tmp.path() / "p.json", c.pipeline);
            for (const auto& [name, content] : c.files) write_text(tmp.path() / name, content);
            const fs::path out = tmp.path() / "out";
            const auto r = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q"});
            INFO(r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("p.json") != std::string::npos);
            for (const auto& m : c.mentions) CHECK(r.err.find(m) != std::string::npos);
            CHECK(!fs::exists(out));  // refused before any work: no run folder
        }
    }
}

TEST_CASE("output folders that cannot be used are refused, and a full disk is reported") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", with_n("20"));
    const std::string pipeline = (tmp.path() / "p.json").string();
    SECTION("a folder inside a regular file") {
        const auto r = run_mdlab({"run", pipeline, "--out", (tmp.path() / "p.json" / "out").string(), "-q"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("cannot create the run folder") != std::string::npos);
    }
    SECTION("a path that is a file") {
        const auto r = run_mdlab({"run", pipeline, "--out", pipeline, "-q"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("exists and is not a folder") != std::string::npos);
    }
    SECTION("a folder with other files in it is not touched") {
        fs::create_directories(tmp.path() / "o");
        write_text(tmp.path() / "o" / "notes.txt", "mine");
        const auto r = run_mdlab({"run", pipeline, "--out", (tmp.path() / "o").string(), "-q"});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("holds no earlier run") != std::string::npos);
        CHECK(read_text(tmp.path() / "o" / "notes.txt") == "mine");
    }
    SECTION("a disk that fills up (a 3000-byte file size limit)") {
        // pipeline.json fits, the 200 x 3 training set (4.9 kB) does not.
        write_text(tmp.path() / "big.json", with_n("200"));
        const auto r = run_program("prlimit", {"--fsize=3000", mdlab_executable().string(), "run",
                                               (tmp.path() / "big.json").string(), "--out", (tmp.path() / "full").string(), "-q"});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("cell 0, node 't'") != std::string::npos);
        CHECK(r.err.find("t.npy: write failed: File too large") != std::string::npos);
        for (const auto& entry : fs::recursive_directory_iterator(tmp.path() / "full"))
            CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
    }
}
