// The run folder belongs to one run: a second run on a folder in use is refused naming the holder
// (two real processes, and under MPI); a folder of another pipeline is not resumed (what differs
// is named) unless --force, which deletes only mdlab's files; a folder mdlab did not make is never
// written into; default folder names are unique; links inside a run folder are refused; a run
// stopped at its very start leaves a folder the next run takes.
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab/runtime/run_directory.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// Four small cells (a tenth of a second or so), or with `steps` huge one that runs until stopped.
std::string pipeline(const std::string& train_n = "60", const std::string& steps = "20",
                     const std::string& sweep = R"({"gen.t_min": [1e-3, 1e-2], "seed": [1, 2]})") {
    return R"({
  "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": )" +
           train_n + R"(}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 40, "steps": )" +
           steps + R"(}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": )" + sweep + R"(}
})";
}
const std::string endless = pipeline("500", "10000000", R"({"seed": [1, 2]})");

struct Fixture {
    TempDir tmp;
    fs::path file(const std::string& text, const std::string& name = "p.json") const {
        write_text(tmp.path() / name, text);
        return tmp.path() / name;
    }
    CommandResult run(const std::string& text, const fs::path& out, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{"run", file(text).string(), "--out", out.string(), "-q"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_mdlab(args);
    }
};

bool eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

// Runs of `mdlab run` logged in `dir`/run.log.
std::size_t runs_logged(const fs::path& dir) {
    const std::string log = read_text(dir / "run.log");
    std::size_t n = 0;
    for (std::size_t at = log.find("mdlab run "); at != std::string::npos; at = log.find("mdlab run ", at + 1)) ++n;
    return n;
}

std::string host_name() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
}

// Every path under `dir` with its content (empty for folders), but for the lock file, which names
// the last run that took the lock (also one that then refused the folder).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.path().filename() != "mdlab-run.lock")
            out[fs::relative(entry.path(), dir).string()] = entry.is_regular_file() ? read_text(entry.path()) : "";
    return out;
}

}  // namespace

TEST_CASE("a second run on a folder in use exits 2 naming the run that holds it") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    Background first(mdlab_executable().string(), {"run", f.file(endless, "endless.json").string(), "--out", out.string(), "-q"});
    REQUIRE(eventually([&] { return runs_logged(out) == 1; }));

    const auto second = f.run(endless, out);
    INFO(second.err);
    CHECK(second.exit_code == 2);
    CHECK(second.err.find("is in use by another mdlab run: pid " + std::to_string(first.pid()) + " on host " + host_name() +
                          ", started ") != std::string::npos);
    CHECK(runs_logged(out) == 1);  // it wrote nothing there

    SECTION("even with --force") {
        CHECK(f.run(endless, out, {"--force"}).exit_code == 2);
        CHECK(runs_logged(out) == 1);
    }
    SECTION("the lock goes with the run: the next one takes the folder") {
        first.signal(SIGINT);
        CHECK(first.wait().exit_code == 1);
        Background third(mdlab_executable().string(), {"run", (f.tmp.path() / "endless.json").string(), "--out", out.string(), "-q"});
        CHECK(eventually([&] { return runs_logged(out) == 2; }));
        third.signal(SIGINT);
        CHECK(third.wait().exit_code == 1);
    }
}

#ifdef MDLAB_TEST_MPIEXEC
TEST_CASE("under MPI, rank 0 holds the folder's lock for the whole job") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    Background job(MDLAB_TEST_MPIEXEC, {"--allow-run-as-root", "--oversubscribe", "-np", "2", mdlab_executable().string(), "run",
                                        f.file(endless, "endless.json").string(), "--out", out.string(), "-q", "--threads", "1"});
    REQUIRE(eventually([&] { return runs_logged(out) == 1; }));
    const auto second = f.run(endless, out);
    INFO(second.err);
    CHECK(second.exit_code == 2);
    // The holder is rank 0, an mdlab process (not mpirun).
    std::smatch m;
    REQUIRE(std::regex_search(second.err, m, std::regex("in use by another mdlab run: pid (\\d+) on host")));
    CHECK(m[1] != std::to_string(job.pid()));
    CHECK(read_text(fs::path("/proc") / m[1].str() / "cmdline").find("mdlab") != std::string::npos);
    job.signal(SIGTERM);
    job.wait();
}
#endif

TEST_CASE("a folder holding a run of another pipeline is refused, naming what differs, unless --force") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run", fresh = f.tmp.path() / "fresh";
    REQUIRE(f.run(pipeline(), out).exit_code == 0);
    const auto before = snapshot(out);

    SECTION("another parameter value") {
        const auto r = f.run(pipeline("50"), out, {"--set", "gen.n=30"});
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("holds a run of another pipeline") != std::string::npos);
        CHECK(r.err.find("node 'train': parameter 'n' is 50 here, 60 in the folder's run") != std::string::npos);
        CHECK(r.err.find("node 'gen': parameter 'n' is 30 here, 40 in the folder's run") != std::string::npos);
        CHECK(r.err.find("node 'circle'") == std::string::npos);  // only what differs
        CHECK(snapshot(out) == before);

        const auto forced = f.run(pipeline("50"), out, {"--set", "gen.n=30", "--force"});
        INFO(forced.err);
        CHECK(forced.exit_code == 0);
        REQUIRE(f.run(pipeline("50"), fresh, {"--set", "gen.n=30"}).exit_code == 0);
        CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(read_text(fresh / "results.csv")));
    }
    SECTION("another plugin, a node more") {
        std::string other = pipeline();
        other.replace(other.find("euler_maruyama"), 14, "pf_ode_euler");
        CHECK(f.run(other, out).err.find("node 'gen': plugin \"pf_ode_euler\" here, \"euler_maruyama\" in the folder's run") !=
              std::string::npos);
        std::string more = pipeline();
        more.replace(more.find("\n  ],"), 0, R"(,
    {"id": "dist2", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}})");
        CHECK(f.run(more, out).err.find("node 'dist2' is new") != std::string::npos);
        CHECK(snapshot(out) == before);
    }
    SECTION("the same pipeline with its sweep grown, or another axis, resumes") {
        const auto grown = f.run(pipeline("60", "20", R"({"gen.t_min": [1e-3, 3e-3, 1e-2], "seed": [1, 2]})"), out);
        INFO(grown.err);
        CHECK(grown.exit_code == 0);
        CHECK(grown.err.find("resumed") != std::string::npos);
        // gen.steps, a parameter until now, becomes an axis (its old value among the new ones).
        const auto axis = f.run(pipeline("60", "20", R"({"gen.t_min": [1e-3, 3e-3, 1e-2], "seed": [1, 2], "gen.steps": [10, 20]})"), out);
        INFO(axis.err);
        CHECK(axis.exit_code == 0);
        CHECK(axis.err.find("resumed " + out.string() + ": 6 of 12 cells") != std::string::npos);
    }
}

TEST_CASE("a seed outside the sweep is part of the pipeline") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    const std::string one = pipeline("60", "20", R"({"gen.t_min": [1e-3, 1e-2]})");
    REQUIRE(f.run(one, out).exit_code == 0);
    std::string other = one;
    other.replace(other.find("\"seed\": 5"), 9, "\"seed\": 6");
    const auto r = f.run(other, out);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("seed is 6 here, 5 in the folder's run") != std::string::npos);
}

TEST_CASE("a folder mdlab did not make is never written into, not even with --force") {
    Fixture f;
    const fs::path theirs = f.tmp.path() / "theirs";
    fs::create_directories(theirs / "cells" / "0000");
    write_text(theirs / "pipeline.json", "{\"mine\": true}");
    write_text(theirs / "cells" / "0000" / "gen.npy", "not mdlab's");
    const auto before = snapshot(theirs);
    for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--force"}}) {
        const auto r = f.run(pipeline(), theirs, extra);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("holds no earlier run (it has no mdlab-run.json") != std::string::npos);
        CHECK(snapshot(theirs) == before);
    }
}

TEST_CASE("--force deletes only what mdlab wrote") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    REQUIRE(f.run(pipeline(), out).exit_code == 0);
    write_text(out / "notes.txt", "mine");
    fs::create_directories(out / "cells" / "mine");
    write_text(out / "cells" / "mine" / "keep.npy", "mine too");
    write_text(out / "cells" / "0003" / "extra.txt", "in a cell folder: mdlab's");
    write_text(out / "results.csv.tmp.12345", "a run's temporary");
    write_text(out / "results.csv.tmp.mine", "a name of my own");

    const auto r = f.run(pipeline("50"), out, {"--force"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_text(out / "notes.txt") == "mine");
    CHECK(read_text(out / "cells" / "mine" / "keep.npy") == "mine too");
    CHECK(read_text(out / "results.csv.tmp.mine") == "a name of my own");
    CHECK_FALSE(fs::exists(out / "cells" / "0003" / "extra.txt"));
    CHECK_FALSE(fs::exists(out / "results.csv.tmp.12345"));
    CHECK(runs_logged(out) == 1);  // the log starts afresh
}

TEST_CASE("default run folders are unique, also for runs started in the same second") {
    TempDir tmp;
    // The same name twice: each call creates a folder of its own.
    const fs::path name = tmp.path() / "runs" / "p-20260101-000000";
    const fs::path a = mdlab::runtime::new_run_dir(name), b = mdlab::runtime::new_run_dir(name);
    CHECK(a == name);
    CHECK(b == fs::path(name.string() + "-2"));
    CHECK(fs::is_directory(a));
    CHECK(fs::is_directory(b));

    // Two processes started at once without --out.
    write_text(tmp.path() / "p.json", pipeline());
    auto start = [&] {
        return std::make_unique<Background>(
            "sh", std::vector<std::string>{"-c", "cd \"$1\" && exec \"$2\" run p.json -q", "sh", tmp.path().string(),
                                           mdlab_executable().string()});
    };
    auto one = start(), two = start();
    const auto r1 = one->wait(), r2 = two->wait();
    INFO(r1.err << r2.err);
    CHECK(r1.exit_code == 0);
    CHECK(r2.exit_code == 0);
    CHECK(r1.err.find("resumed") == std::string::npos);
    CHECK(r2.err.find("resumed") == std::string::npos);
    std::set<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(tmp.path() / "runs"))
        if (entry.path().filename().string().rfind("p-", 0) == 0 && entry.path() != a && entry.path() != b)
            folders.insert(entry.path());
    CHECK(folders.size() == 2);
    for (const auto& folder : folders) CHECK(runs_logged(folder) == 1);
}

TEST_CASE("links and special files inside a run folder are refused, never written through") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run", elsewhere = f.tmp.path() / "elsewhere";
    REQUIRE(f.run(pipeline(), out).exit_code == 0);
    fs::create_directories(elsewhere);
    write_text(elsewhere / "precious.csv", "precious");
    const auto outside = snapshot(elsewhere);

    SECTION("a cell folder that is a link") {
        fs::remove_all(out / "cells" / "0001");
        fs::create_directory_symlink(elsewhere, out / "cells" / "0001");
        for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--force"}}) {
            const auto r = f.run(pipeline(), out, extra);
            INFO(r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("cells/0001 is a symbolic link") != std::string::npos);
        }
    }
    SECTION("a results file that is a link") {
        fs::remove(out / "results.csv");
        fs::create_symlink(elsewhere / "precious.csv", out / "results.csv");
        const auto r = f.run(pipeline(), out, {"--force"});
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("results.csv is a symbolic link") != std::string::npos);
    }
    SECTION("a FIFO among a cell's files") {
        fs::remove(out / "cells" / "0002" / "gen.npy");
        REQUIRE(::mkfifo((out / "cells" / "0002" / "gen.npy").c_str(), 0644) == 0);
        const auto r = f.run(pipeline(), out);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("cells/0002/gen.npy is a FIFO") != std::string::npos);
    }
    CHECK(snapshot(elsewhere) == outside);
}

TEST_CASE("a run stopped at its very start leaves a folder the next run takes") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    SECTION("stopped after taking the lock: only the lock file") {
        fs::create_directories(out);
        write_text(out / "mdlab-run.lock", "");
        const auto r = f.run(pipeline(), out);
        INFO(r.err);
        CHECK(r.exit_code == 0);
    }
    SECTION("stopped after writing the marker: the marker and an empty log") {
        const fs::path model = f.tmp.path() / "model";
        REQUIRE(f.run(pipeline(), model).exit_code == 0);
        fs::create_directories(out);
        fs::copy_file(model / "mdlab-run.json", out / "mdlab-run.json");
        write_text(out / "run.log", "");
        const auto r = f.run(pipeline(), out);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(read_text(model / "results.csv")));
    }
    SECTION("a real run killed within its first milliseconds") {
        for (const int ms : {0, 2, 5, 10, 20, 40}) {
            const fs::path killed = f.tmp.path() / ("killed" + std::to_string(ms));
            for (const int sig : {SIGINT, SIGKILL}) {
                fs::remove_all(killed);
                Background run(mdlab_executable().string(), {"run", f.file(pipeline()).string(), "--out", killed.string(), "-q"});
                std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                run.signal(sig);
                run.wait();
                const auto rerun = f.run(pipeline(), killed);
                INFO(ms << " ms, signal " << sig << ": " << rerun.err);
                CHECK(rerun.exit_code == 0);
            }
        }
    }
}

TEST_CASE("the marker: an unreadable one is refused, another mdlab version is noted") {
    Fixture f;
    const fs::path out = f.tmp.path() / "run";
    REQUIRE(f.run(pipeline(), out).exit_code == 0);
    const std::string marker = read_text(out / "mdlab-run.json");
    REQUIRE(marker.find("\"pipeline_digest\"") != std::string::npos);

    SECTION("another version resumes, and the log says so") {
        std::string older = marker;
        older.replace(older.find("\"mdlab_version\": \""), std::string("\"mdlab_version\": \"").size(), "\"mdlab_version\": \"0.0.1-");
        write_text(out / "mdlab-run.json", older);
        const auto r = f.run(pipeline(), out);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(read_text(out / "run.log").find("the run resumed here was written by mdlab \"0.0.1-") != std::string::npos);
    }
    SECTION("a torn marker: exit 2 without --force") {
        write_text(out / "mdlab-run.json", marker.substr(0, marker.size() / 2));
        const auto r = f.run(pipeline(), out);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("cannot read mdlab-run.json") != std::string::npos);
        CHECK(f.run(pipeline(), out, {"--force"}).exit_code == 0);
        CHECK(read_text(out / "mdlab-run.json") == marker);
    }
}
