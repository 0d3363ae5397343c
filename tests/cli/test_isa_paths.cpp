// The kernels' instruction-set path as the mdlab command sees it (mdlab/isa.hpp): MDLAB_ISA forces
// a path and a bad value is refused before anything runs; `mdlab plugins` names the path; and
// pipelines give the same results on every path this CPU supports, to 1e-10 relative, and
// byte-identical results across thread counts on each path. CPUs that lack a path are tested
// under emulation in test_isa_qemu.cpp.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <sstream>

#include <mdlab/isa.hpp>

#include "command.hpp"
#include "isa_compare.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;
namespace isa = mdlab::isa;

namespace {

// Every run below sets MDLAB_ISA itself when it wants a path, and the runs without it must see
// no MDLAB_ISA at all: drop one inherited from the shell that runs the suite.
const bool no_inherited_isa = [] { return ::unsetenv("MDLAB_ISA") == 0; }();

std::string paths_text(const std::vector<isa::Path>& paths) {
    std::string s;
    for (isa::Path p : paths) s += (s.empty() ? "" : ", ") + std::string(isa::name(p));
    return s;
}

// The last line of `mdlab plugins`.
std::string kernels_line(const std::string& out) {
    const auto at = out.rfind("\nkernels: ");
    if (at == std::string::npos) return "";
    const auto end = out.find('\n', at + 1);
    return out.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

void check_plugins_names(const std::vector<std::string>& env, isa::Path expected) {
    const auto r = run_mdlab({"plugins"}, env);
    INFO("environment: " << (env.empty() ? "MDLAB_ISA unset" : env[0]) << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    const std::string line = kernels_line(r.out);
    INFO("kernels line: " << line);
    const std::string start = "kernels: the " + std::string(isa::name(expected)) + " path on " + isa::cpu_name() + " (";
    CHECK(line.rfind(start, 0) == 0);
    CHECK(line.find("it supports " + paths_text(isa::supported_paths()) + ";") != std::string::npos);
    CHECK(line.find("MDLAB_ISA=" + isa::choices()) != std::string::npos);
}

std::string run_on(const fs::path& pipeline, const std::vector<std::string>& extra, isa::Path path, int threads,
                   const fs::path& out) {
    std::vector<std::string> args{"run", pipeline.string(), "--out", out.string(), "--threads",
                                  std::to_string(threads), "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_mdlab(args, {std::string("MDLAB_ISA=") + isa::name(path)});
    INFO("MDLAB_ISA=" << isa::name(path) << " --threads " << threads << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return without_wall_times(read_text(out / "results.csv"));
}

// Runs the pipeline with every supported path forced, at --threads 1 and 2: each path is
// byte-identical to itself across thread counts, and agrees with the best path to 1e-10
// relative (isa_compare.hpp: the tolerance and the absolute floors of the ~0 values).
void check_pipeline_on_every_path(const fs::path& pipeline, const std::vector<std::string>& extra) {
    REQUIRE(no_inherited_isa);
    TempDir tmp;
    const auto paths = isa::supported_paths();
    std::vector<std::string> csv;
    for (isa::Path p : paths) {
        const std::string name = isa::name(p);
        const std::string one = run_on(pipeline, extra, p, 1, tmp.path() / (name + "-t1"));
        const std::string two = run_on(pipeline, extra, p, 2, tmp.path() / (name + "-t2"));
        INFO(pipeline.filename() << " on the " << name << " path");
        CHECK(one == two);
        csv.push_back(one);
    }
    std::ostringstream measured;
    bool any_differs = false;
    for (std::size_t i = 1; i < paths.size(); ++i) {
        const std::string a = isa::name(paths[0]), b = isa::name(paths[i]);
        const IsaComparison c = compare_isa_results(csv[0], csv[i], a, b);
        std::string all;
        for (const auto& m : c.mismatches) all += "\n  " + m;
        INFO(pipeline.filename() << ": " << a << " vs " << b << " disagree beyond 1e-10 relative:" << all);
        CHECK(c.agree());
        measured << "\n" << a << " vs " << b << ":" << c.summary();
        any_differs = any_differs || csv[i] != csv[0];
    }
    if (paths.size() > 1) {
        // The paths round differently, so identical tables on every path would mean `run` ignores
        // MDLAB_ISA (the quickstart calls the softmax kernel millions of times).
        INFO("every path gave byte-identical results: is MDLAB_ISA reaching the kernels of `mdlab run`?");
        CHECK(any_differs);
        WARN(pipeline.filename() << ", differences across paths (largest per metric):" << measured.str());
    }
}

}  // namespace

TEST_CASE("MDLAB_ISA naming no instruction-set path is refused before anything runs (exit 2)") {
    REQUIRE(no_inherited_isa);
    TempDir tmp;
    for (const char* value : {"bogus", "sse2"}) {
        const auto listing = run_mdlab({"plugins"}, {std::string("MDLAB_ISA=") + value});
        INFO("MDLAB_ISA=" << value << " mdlab plugins\nstdout: " << listing.out << "\nstderr: " << listing.err);
        CHECK(listing.exit_code == 2);
        CHECK(listing.err.find("mdlab: error: MDLAB_ISA=" + std::string(value)) != std::string::npos);
        CHECK(listing.err.find(isa::choices()) != std::string::npos);
        CHECK(isa::choices() == "avx512|avx2|generic");

        const fs::path out = tmp.path() / value;
        const fs::path quickstart = source_dir() / "pipelines" / "quickstart.json";
        const auto run =
            run_mdlab({"run", quickstart.string(), "--out", out.string()}, {std::string("MDLAB_ISA=") + value});
        INFO("mdlab run\nstderr: " << run.err);
        CHECK(run.exit_code == 2);
        CHECK(run.err.find("MDLAB_ISA=" + std::string(value)) != std::string::npos);
        CHECK_FALSE(fs::exists(out));  // refused before the run folder is made
    }
}

TEST_CASE("MDLAB_ISA naming a path this CPU cannot run is refused (exit 2), naming the CPU and what it supports") {
    REQUIRE(no_inherited_isa);
    const auto supported = isa::supported_paths();
    bool tested = false;
    for (isa::Path p : {isa::Path::avx512, isa::Path::avx2, isa::Path::generic}) {
        if (isa::supported(p)) continue;
        tested = true;
        const auto r = run_mdlab({"plugins"}, {std::string("MDLAB_ISA=") + isa::name(p)});
        INFO("MDLAB_ISA=" << isa::name(p) << "\nstderr: " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("MDLAB_ISA=" + std::string(isa::name(p))) != std::string::npos);
        CHECK(r.err.find(isa::cpu_name()) != std::string::npos);
        CHECK(r.err.find("supports " + paths_text(supported)) != std::string::npos);
    }
    if (!tested)
        WARN("this CPU (" << isa::cpu_name() << ") supports every path (" << paths_text(supported)
                          << "): cli.test_isa_qemu checks the refusal on emulated CPUs");
}

TEST_CASE("mdlab plugins names the best path when MDLAB_ISA is unset or empty, and the forced one otherwise") {
    REQUIRE(no_inherited_isa);
    REQUIRE(isa::supported(isa::Path::generic));
    REQUIRE(isa::supported_paths().front() == isa::best());
    check_plugins_names({}, isa::best());
    check_plugins_names({"MDLAB_ISA="}, isa::best());
    for (isa::Path p : isa::supported_paths()) check_plugins_names({std::string("MDLAB_ISA=") + isa::name(p)}, p);
}

TEST_CASE("the quickstart agrees across instruction-set paths and is byte-identical across thread counts on each") {
    check_pipeline_on_every_path(source_dir() / "pipelines" / "quickstart.json", {});
}

// Claim 4 at its smoke size (6 s of CPU): the drifting sampler runs the streaming Laplace
// mean-shift kernel, and drift_score_gap compares the exact decomposition with it.
TEST_CASE("claim 4 at smoke size agrees across instruction-set paths and is byte-identical across thread counts") {
    check_pipeline_on_every_path(source_dir() / "pipelines" / "claim4_drifting_vs_score.json", {"--smoke"});
}
