// Loose ends of issue 20, each refused with a clear message: a failed rename keeps its errno,
// `--threads 0` and `--out ""` are exit 2, node ids are bounded in length, special files (FIFOs,
// devices, folders) are never opened as pipeline, data or run-folder files, a missing
// MDLAB_PLUGIN_PATH entry is an error like a missing --plugin-dir, and control characters in
// user text are escaped in every message.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <mdlab/npy.hpp>

#include "command.hpp"
#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// A small pipeline whose second node has the given id.
std::string sample_pipeline(const std::string& id) {
    return R"({"seed": 1, "nodes": [{"id": "c", "plugin": "circle", "params": {"ambient_dim": 3}},
      {"id": ")" + id + R"(", "plugin": "sample", "params": {"n": 3}, "inputs": {"manifold": "c"}}]})";
}

// A sampler reading its start points from `init`, and a dataset node reading `data`.
std::string init_pipeline(const std::string& init) {
    return R"({"seed": 1, "nodes": [{"id": "c", "plugin": "circle", "params": {"ambient_dim": 2}},
      {"id": "t", "plugin": "sample", "params": {"n": 20}, "inputs": {"manifold": "c"}},
      {"id": "vp", "plugin": "vp"},
      {"id": "s", "plugin": "empirical", "inputs": {"data": "t", "process": "vp"}},
      {"id": "g", "plugin": "euler_maruyama", "params": {"n": 5, "steps": 5, "init": ")" + init + R"("},
       "inputs": {"score": "s"}}]})";
}

void make_fifo(const fs::path& p) { REQUIRE(::mkfifo(p.c_str(), 0600) == 0); }

bool has_raw_control(const std::string& s) {
    for (unsigned char c : s)
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return true;
    return false;
}

}  // namespace

TEST_CASE("a file that cannot be moved into place names the system's reason, not 'Success'") {
    TempDir tmp;
    const fs::path target = tmp.path() / "busy";
    fs::create_directories(target / "inside");  // renaming a file over a non-empty folder fails
    for (int writer = 0; writer < 2; ++writer) {
        std::string message;
        try {
            if (writer == 0) mdlab::runtime::write_file_atomic(target, "text");
            else mdlab::npy::write(target, mdlab::Matrix::from_shape({2, 2}));
        } catch (const mdlab::Error& e) {
            message = e.what();
        }
        INFO(message);
        CHECK(message.find("cannot move into place: Is a directory") != std::string::npos);
        CHECK(message.find("Success") == std::string::npos);
    }
    for (const auto& entry : fs::directory_iterator(tmp.path()))  // the temporaries are removed
        CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("--threads 0 is refused on every command that takes it, saying threads are >= 1") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", sample_pipeline("t"));
    const std::string p = (tmp.path() / "p.json").string();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"run", p, "--out", (tmp.path() / "o").string(), "--threads", "0"},
             {"score", p, "--node", "t", "--t", "0.5", "--points", "x.npy", "--out", "y.npy", "-j", "0"},
             {"bench", "peak", "--threads", "0"},
             {"bench", "score", "--threads", "0"},
             {"bench", "run", "--threads", "-3"}}) {
        const auto r = run_mdlab(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("is not an integer >= 1") != std::string::npos);
        CHECK(r.err.find("1.79769") == std::string::npos);
    }
    CHECK(!fs::exists(tmp.path() / "o"));
}

TEST_CASE("an empty --out is refused, not read as the default runs/ folder") {
    TempDir tmp;
    write_text(tmp.path() / "p.json", sample_pipeline("t"));
    const auto r = run_program("sh", {"-c", "cd " + tmp.path().string() + " && " + mdlab_executable().string() +
                                                " run p.json --out ''"});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--out: an empty path names nothing") != std::string::npos);
    CHECK(!fs::exists(tmp.path() / "runs"));
    const auto s = run_mdlab({"score", (tmp.path() / "p.json").string(), "--node", "t", "--t", "0.5", "--points",
                              "x.npy", "--out", ""});
    CHECK(s.exit_code == 2);
    CHECK(s.err.find("--out: an empty path names nothing") != std::string::npos);
}

TEST_CASE("node ids longer than 128 characters are refused with exit 2 naming the node") {
    TempDir tmp;
    write_text(tmp.path() / "long.json", sample_pipeline(std::string(244, 'a')));
    const auto r = run_mdlab({"run", (tmp.path() / "long.json").string(), "--out", (tmp.path() / "o").string(), "-q"});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("long.json:2:") != std::string::npos);
    CHECK(r.err.find("node '" + std::string(32, 'a') + "...', key 'id'") != std::string::npos);
    CHECK(r.err.find("at most 128 characters; this one has 244") != std::string::npos);
    CHECK(!fs::exists(tmp.path() / "o"));
    // The longest allowed id runs: its files fit the file system's name limit.
    write_text(tmp.path() / "max.json", sample_pipeline(std::string(128, 'b')));
    const auto ok = run_mdlab({"run", (tmp.path() / "max.json").string(), "--out", (tmp.path() / "m").string(), "-q"});
    INFO(ok.err);
    CHECK(ok.exit_code == 0);
    CHECK(fs::is_regular_file(tmp.path() / "m" / "cells" / "0000" / (std::string(128, 'b') + ".npy")));
}

TEST_CASE("special files are refused before they are opened: never a hang on a FIFO or /dev/zero") {
    TempDir tmp;
    make_fifo(tmp.path() / "fifo.json");
    SECTION("as the pipeline file") {
        for (const auto& [file, what] : std::vector<std::pair<std::string, std::string>>{
                 {(tmp.path() / "fifo.json").string(), "is a FIFO (named pipe), not a regular file"},
                 {"/dev/zero", "is a character device, not a regular file"},
                 {tmp.path().string(), "is a folder, not a regular file"}}) {
            for (const char* command : {"validate", "run", "docs"}) {
                const auto r = run_mdlab({command, file});
                INFO(command << " " << file << ": " << r.err);
                CHECK(r.exit_code == 2);
                CHECK(r.err.find(file + ": error: " + what) != std::string::npos);
            }
        }
    }
    SECTION("as a data or init file") {
        make_fifo(tmp.path() / "init.npy");
        for (const std::string init : {"init.npy", "/dev/zero"}) {
            write_text(tmp.path() / "p.json", init_pipeline(init));
            const auto r = run_mdlab({"validate", (tmp.path() / "p.json").string()});
            INFO(init << ": " << r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("node 'g', key 'init'") != std::string::npos);
            CHECK(r.err.find("not a regular file") != std::string::npos);
        }
        write_text(tmp.path() / "q.json", init_pipeline(""));
        const auto points = run_mdlab({"score", (tmp.path() / "q.json").string(), "--node", "s", "--t", "0.5",
                                       "--points", (tmp.path() / "init.npy").string(), "--out",
                                       (tmp.path() / "s.npy").string()});
        INFO(points.err);
        CHECK(points.exit_code == 2);
        CHECK(points.err.find("key '--points'") != std::string::npos);
        CHECK(points.err.find("init.npy: is a FIFO (named pipe), not a regular file") != std::string::npos);
    }
    SECTION("inside a run folder that is resumed or reported") {
        write_text(tmp.path() / "p.json", sample_pipeline("t"));
        const fs::path out = tmp.path() / "o";
        REQUIRE(run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q"}).exit_code == 0);
        fs::remove(out / "cells" / "0000" / "cell.json");
        make_fifo(out / "cells" / "0000" / "cell.json");
        const auto resumed = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "-q"});
        INFO(resumed.err);
        CHECK(resumed.exit_code == 2);
        // The run folder's own check (runfolder/run_folder_files.cpp) finds it before anything is opened.
        CHECK(resumed.err.find("error: key '--out': holds what mdlab never writes") != std::string::npos);
        CHECK(resumed.err.find("cells/0000/cell.json is a FIFO") != std::string::npos);
        const auto report = run_mdlab({"report", out.string()});
        INFO(report.err);
        CHECK(report.exit_code == 2);
        CHECK(report.err.find("cell.json: error: key 'RUN_DIR': is a FIFO (named pipe)") != std::string::npos);
    }
}

TEST_CASE("a missing MDLAB_PLUGIN_PATH entry is an error, as a missing --plugin-dir is") {
    const auto env = run_mdlab({"plugins"}, {"MDLAB_PLUGIN_PATH=::/nonexistent/env-plugins"});
    INFO(env.err);
    CHECK(env.exit_code == 2);
    CHECK(env.err.find("/nonexistent/env-plugins: error: plugin folder does not exist") != std::string::npos);
    CHECK(env.err.find("check MDLAB_PLUGIN_PATH") != std::string::npos);
    const auto dir = run_mdlab({"plugins", "--plugin-dir", "/nonexistent/dir-plugins"});
    CHECK(dir.exit_code == 2);
    CHECK(dir.err.find("/nonexistent/dir-plugins: error: plugin folder does not exist") != std::string::npos);
    CHECK(dir.err.find("check --plugin-dir") != std::string::npos);
    // Empty entries (a trailing ':') are no folder at all and stay allowed.
    CHECK(run_mdlab({"plugins"}, {"MDLAB_PLUGIN_PATH=:"}).exit_code == 0);
}

TEST_CASE("printable escapes terminal control characters and keeps other text") {
    using mdlab::runtime::printable;
    CHECK(printable("a\x1b[2Jb") == "a\\x1b[2Jb");
    CHECK(printable("one\ntwo\r\tthree\x7f") == "one\\ntwo\\r\\tthree\\x7f");
    CHECK(printable("one\ntwo\r\t", true) == "one\ntwo\\r\t");
    CHECK(printable("csi \xc2\x9b end") == "csi \\u009b end");  // C1 control as UTF-8
    CHECK(printable("bad \xff\xc3 byte") == "bad \\xff\\xc3 byte");
    CHECK(printable("caf\xc3\xa9 \xe2\x86\x92 ok") == "caf\xc3\xa9 \xe2\x86\x92 ok");
}

TEST_CASE("control characters in user text are escaped in every message") {
    TempDir tmp;
    const std::string esc = "\x1b[2J";
    // A file name, a --kind value, an unknown option, a node id and a parameter key.
    const fs::path file = tmp.path() / ("p" + esc + ".json");
    write_text(file, R"({"seed": 1, "nodes": [{"id": "c\u001b[31m", "plugin": "circle", "params": {"k\u0007": 1}}]})");
    for (const auto& args : std::vector<std::vector<std::string>>{{"validate", file.string()},
                                                                  {"validate", (tmp.path() / ("x" + esc)).string()},
                                                                  {"plugins", "--kind", "x" + esc},
                                                                  {"run", file.string(), "--x" + esc}}) {
        const auto r = run_mdlab(args);
        INFO(args[0] << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(!has_raw_control(r.err));
        CHECK(r.err.find("\\x1b[") != std::string::npos);
    }
}
