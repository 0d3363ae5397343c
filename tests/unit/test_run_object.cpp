// The runtime's Run object without the command line. In: a tiny two-cell pipeline as a file and
// as JSON text. Out: checks that both give the same results.csv as `mdlab run`, that bad text is
// reported with its name and line:column, that resume, --force and a cancel flag behave as on
// the command line, and where a text pipeline's default run folder goes.
#include <atomic>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/registry.hpp"
#include "mdlab/runtime/run.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab;
using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const std::string tiny = R"({
  "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 50}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 50, "steps": 20}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"seed": [1, 2]}}
})";

runtime::RunOptions options(const fs::path& out) {
    runtime::RunOptions o;
    o.out = out;
    o.progress = false;
    return o;
}

runtime::RunResult run_text(const fs::path& out, runtime::RunOptions o = {}) {
    if (o.out.empty()) o = options(out);
    return runtime::Run(registry(), runtime::PipelineSource::text(tiny, "tiny.json"), o).execute();
}

// Runs with the working folder set to `dir`, for the default run folder runs/<name>-<time>.
struct WorkingFolder {
    fs::path before = fs::current_path();
    explicit WorkingFolder(const fs::path& dir) { fs::current_path(dir); }
    ~WorkingFolder() { fs::current_path(before); }
};

}  // namespace

TEST_CASE("a run from JSON text writes the same results.csv as the run from the file and as mdlab run") {
    TempDir tmp;
    const fs::path file = tmp.path() / "tiny.json";
    write_text(file, tiny);

    const auto from_file = runtime::Run(registry(), runtime::PipelineSource::file(file), options(tmp.path() / "file")).execute();
    const auto from_text = run_text(tmp.path() / "text");
    const auto cli = run_mdlab({"run", file.string(), "--out", (tmp.path() / "cli").string(), "-q"});
    INFO(cli.err);
    REQUIRE(cli.exit_code == 0);

    CHECK(from_file.exit_code() == 0);
    CHECK(from_text.exit_code() == 0);
    CHECK(from_text.outcome.cells.size() == 2);
    CHECK(from_text.rows.size() == 2);
    CHECK(from_text.failures.empty());
    CHECK(fs::exists(from_text.report()));
    const std::string csv = without_wall_times(read_text(tmp.path() / "file" / "results.csv"));
    CHECK(without_wall_times(read_text(tmp.path() / "text" / "results.csv")) == csv);
    CHECK(without_wall_times(read_text(tmp.path() / "cli" / "results.csv")) == csv);
    CHECK(read_text(tmp.path() / "text" / "run.log").rfind("mdlab run tiny.json: 6 nodes, 2 cells", 0) == 0);
}

TEST_CASE("bad JSON text is BadInput naming the text's name, line and column") {
    const std::string broken = "{\n  \"seed\": 1,\n  \"nodes\": [,]\n}";
    try {
        runtime::Run(registry(), runtime::PipelineSource::text(broken, "broken.json"), options("unused"));
        FAIL("no BadInput");
    } catch (const runtime::BadInput& e) {
        REQUIRE(!e.diagnostics().empty());
        const auto& d = e.diagnostics().front();
        CHECK(d.file == "broken.json");
        CHECK(d.line == 3);
        CHECK(d.column > 0);
        CHECK_THAT(d.format(), Catch::StartsWith("broken.json:3:"));
    }
    // The default name, and a validation error (an unknown plugin) found through the text.
    try {
        runtime::Run(registry(), runtime::PipelineSource::text(R"({"seed": 1, "nodes": [{"id": "a", "plugin": "nope"}]})"),
                     options("unused"));
        FAIL("no BadInput");
    } catch (const runtime::BadInput& e) {
        CHECK_THAT(std::string(e.what()), Catch::StartsWith("<string>:1:"));
        CHECK_THAT(std::string(e.what()), Catch::Contains("node 'a'"));
    }
    CHECK(!fs::exists("unused"));
}

TEST_CASE("a second run into the same folder resumes it; with force it starts again") {
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto first = run_text(out);
    REQUIRE(first.exit_code() == 0);
    CHECK(!first.resumed);
    const std::string csv = read_text(out / "results.csv");

    const auto again = run_text(out);
    CHECK(again.exit_code() == 0);
    CHECK(again.resumed);
    CHECK(again.resumed_cells == 2);
    CHECK(again.outcome.cells.at(0).resumed);
    CHECK(read_text(out / "results.csv") == csv);

    auto o = options(out);
    o.force = true;
    const auto forced = run_text(out, o);
    CHECK(forced.exit_code() == 0);
    CHECK(!forced.resumed);
    CHECK(forced.resumed_cells == 0);
    CHECK(!forced.outcome.cells.at(0).resumed);
    CHECK(without_wall_times(read_text(out / "results.csv")) == without_wall_times(csv));

    // A non-empty folder that holds no run is refused, as `mdlab run --out` refuses it.
    const fs::path other = tmp.path() / "other";
    fs::create_directories(other);
    write_text(other / "notes.txt", "mine");
    CHECK_THROWS_AS(run_text(other), runtime::BadInput);
    CHECK(read_text(other / "notes.txt") == "mine");
}

TEST_CASE("a cancel flag set before execute stops the run before its first cell") {
    TempDir tmp;
    std::atomic<bool> stop{true};
    auto o = options(tmp.path() / "run");
    o.cancel = &stop;
    const auto r = run_text(tmp.path() / "run", o);
    CHECK(r.cancelled());
    CHECK(r.outcome.cells.empty());
    CHECK(r.cells == 2);
    CHECK(r.exit_code() == 1);
    CHECK(fs::exists(tmp.path() / "run" / "results.csv"));
}

TEST_CASE("a text pipeline's default run folder is runs/<name>-<time>, or runs/pipeline-<time>") {
    TempDir tmp;
    const WorkingFolder here(tmp.path());
    runtime::RunOptions o;
    o.progress = false;
    const auto named = runtime::Run(registry(), runtime::PipelineSource::text(tiny, "tiny.json"), o).execute();
    CHECK(named.folder.parent_path() == "runs");
    CHECK_THAT(named.folder.filename().string(), Catch::StartsWith("tiny-"));
    const auto unnamed = runtime::Run(registry(), runtime::PipelineSource::text(tiny), o).execute();
    CHECK(unnamed.folder.parent_path() == "runs");
    CHECK_THAT(unnamed.folder.filename().string(), Catch::StartsWith("pipeline-"));
    CHECK(fs::exists(unnamed.folder / "results.csv"));
}
