// The kernels' instruction-set dispatch on CPUs that lack AVX-512, and AVX2, emulated by qemu-user
// (Debian: qemu-user; scripts/bootstrap.sh test installs it). The built mdlab runs under
// `qemu-x86_64 -cpu <model>`, with the host's loader and libraries, plugins and libmdlab_kernels
// loaded as usual. QEMU's TCG emulates AVX2 + FMA (7.2 and later) but not AVX-512, so
// - Haswell (AVX2, FMA, BMI2; no AVX-512) must pick the avx2 path and refuse MDLAB_ISA=avx512,
// - Nehalem (SSE4.2 + POPCNT, the x86-64-v2 baseline of the build; no AVX) must pick the generic
//   path and refuse avx512 and avx2,
// and a small quickstart must run there without an illegal instruction (an AVX-512 or AVX
// instruction outside its path would stop it with SIGILL) and give, bit for bit, the results of
// the same path run natively (with glibc's libm variants chosen as on the emulated CPU; to 1e-10
// with the host's). Without qemu-x86_64 the test says so and passes.
//
// QEMU 7.2 (Debian 12) decodes an AVX2 gather indexed by ymm4 wrongly (support/vsib_probe.cpp),
// and the avx2 kernels contain such gathers, so under it the avx2 results are reported, not
// checked; the oracle estimator's kernel is affected in the build this test was written with.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <sstream>

#include <unistd.h>

#include <mdlab/isa.hpp>

#include "command.hpp"
#include "isa_compare.hpp"
#include "mdlab_test.hpp"
#include "reproducible_csv.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;
namespace isa = mdlab::isa;

namespace {

// Runs set MDLAB_ISA themselves, and those without it must see none: drop an inherited one.
const bool no_inherited_isa = [] { return ::unsetenv("MDLAB_ISA") == 0; }();

// Sanitizer builds are not run under qemu: their shadow memory and interceptors test memory, not
// instruction sets, and qemu-user does not reliably host them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// qemu-x86_64 on PATH, or "".
std::string find_qemu() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / "qemu-x86_64";
        if (fs::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "";
}

// Whether to run at all; says why not.
bool qemu_available(std::string& qemu) {
    if (sanitized) {
        WARN("sanitizer build: the emulated CPUs are not tested here (the normal build tests them)");
        return false;
    }
    qemu = find_qemu();
    if (qemu.empty()) {
        WARN("qemu-x86_64 is not installed (Debian package qemu-user, which scripts/bootstrap.sh test installs): "
             "the dispatch on CPUs without AVX-512 and without AVX2 is not tested");
        return false;
    }
    return true;
}

CommandResult emulate(const std::string& qemu, const std::string& model, const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {}) {
    std::vector<std::string> all{"-cpu", model, mdlab_executable().string()};
    all.insert(all.end(), args.begin(), args.end());
    return run_program(qemu, all, env);
}

std::string describe_exit(const CommandResult& r) {
    if (r.exit_code == 128 + SIGILL) return "killed by SIGILL (an instruction this CPU lacks)";
    return "exit " + std::to_string(r.exit_code);
}

// The parts of the last line of `mdlab plugins`:
// "kernels: the <path> path on <cpu> (it supports <paths>; MDLAB_ISA=... forces one)".
struct KernelsLine {
    std::string path, cpu, supports;
};

KernelsLine parse_kernels_line(const std::string& out) {
    KernelsLine k;
    const auto at = out.rfind("\nkernels: the ");
    if (at == std::string::npos) return k;
    const std::string line = out.substr(at + 1, out.find('\n', at + 1) - at - 1);
    const auto path_end = line.find(" path on "), cpu_end = line.rfind(" (it supports "), list_end = line.rfind(';');
    if (path_end == std::string::npos || cpu_end == std::string::npos || list_end == std::string::npos) return k;
    k.path = line.substr(13, path_end - 13);
    k.cpu = line.substr(path_end + 9, cpu_end - path_end - 9);
    k.supports = line.substr(cpu_end + 14, list_end - cpu_end - 14);
    return k;
}

// The quickstart at a size qemu runs in one to two seconds (0.02 s natively: TCG is 50-100 times
// slower): 100 training points, 100 samples, 100 steps, still 2 million kernel terms. The cells
// run in mdlab's own process: qemu-user does not emulate the programs its guest starts (without
// binfmt_misc a cell worker would run natively, on the host's CPU), and on a real CPU of that kind
// the worker runs where mdlab does.
const std::vector<std::string> small_quickstart{"--set", "train.n=100", "--set", "full.n=100", "--set",
                                                "early.n=100", "--set", "full.steps=100", "--set",
                                                "early.steps=100", "--threads", "2", "-q", "--isolation", "none"};

std::vector<std::string> quickstart_run(const fs::path& out) {
    const fs::path quickstart = source_dir() / "pipelines" / "quickstart.json";
    std::vector<std::string> args{"run", quickstart.string(), "--out", out.string()};
    args.insert(args.end(), small_quickstart.begin(), small_quickstart.end());
    return args;
}

struct EmulatedCpu {
    std::string model;             // qemu -cpu
    isa::Path path;                // the path mdlab must pick
    std::string supports;          // as `mdlab plugins` lists it
    std::vector<isa::Path> lacks;  // MDLAB_ISA values to refuse
    // glibc picks its own libm variants by CPU (exp, log, sin, cos: FMA versions where AVX2 + FMA
    // are usable), and those round differently from the SSE2 versions. A native run with glibc's
    // view of the CPU masked the same way (GLIBC_TUNABLES) executes what the emulated CPU executes.
    std::string glibc_tunables;
};

void check_emulated_cpu(const std::string& qemu, const EmulatedCpu& cpu) {
    REQUIRE(no_inherited_isa);
    const std::string path = isa::name(cpu.path);
    INFO("qemu-x86_64 -cpu " << cpu.model);

    // The path it picks, and which it supports.
    const auto listing = emulate(qemu, cpu.model, {"plugins"});
    INFO("mdlab plugins: " << describe_exit(listing) << "\nstderr: " << listing.err);
    REQUIRE(listing.exit_code == 0);
    const KernelsLine k = parse_kernels_line(listing.out);
    INFO("cpu '" << k.cpu << "', path '" << k.path << "', supports '" << k.supports << "'");
    CHECK(k.path == path);
    CHECK(k.supports == cpu.supports);
    CHECK_FALSE(k.cpu.empty());
    CHECK(k.cpu != isa::cpu_name());  // qemu's model, not the host

    // Forcing a path it has works; one it lacks is refused, naming the CPU and what it supports.
    for (const isa::Path p : {isa::Path::avx512, isa::Path::avx2, isa::Path::generic}) {
        const std::string name = isa::name(p);
        const bool lacked = std::find(cpu.lacks.begin(), cpu.lacks.end(), p) != cpu.lacks.end();
        const auto r = emulate(qemu, cpu.model, {"plugins"}, {"MDLAB_ISA=" + name});
        INFO("MDLAB_ISA=" << name << ": " << describe_exit(r) << "\nstderr: " << r.err);
        if (lacked) {
            CHECK(r.exit_code == 2);
            CHECK(r.err.find("mdlab: error: MDLAB_ISA=" + name) != std::string::npos);
            CHECK(r.err.find("this CPU (" + k.cpu + ")") != std::string::npos);
            CHECK(r.err.find("supports " + cpu.supports) != std::string::npos);
        } else {
            CHECK(r.exit_code == 0);
            CHECK(parse_kernels_line(r.out).path == name);
        }
    }

    // A small quickstart on the path it picks: no illegal instruction, and the results of the
    // same path run natively.
    TempDir tmp;
    const auto start = std::chrono::steady_clock::now();
    const auto run = emulate(qemu, cpu.model, quickstart_run(tmp.path() / "emulated"));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    INFO("mdlab run under qemu: " << describe_exit(run) << " after " << seconds << " s\nstderr: " << run.err);
    REQUIRE(run.exit_code == 0);
    const std::string emulated = without_wall_times(read_text(tmp.path() / "emulated" / "results.csv"));

    if (!isa::supported(cpu.path)) {
        WARN("this host (" << isa::cpu_name() << ") cannot run the " << path
                           << " path natively: the emulated results are not compared");
        return;
    }
    // Under a QEMU that mis-decodes AVX2 gathers indexed by ymm4 (7.2: vsib_probe.cpp) the avx2
    // kernels compute wrong values wherever the compiler put a gather index in ymm4, so their
    // results are compared and reported, not checked.
    bool trusted = true;
    if (cpu.path == isa::Path::avx2) {
        const auto probe = run_program(qemu, {"-cpu", cpu.model, MDLAB_TEST_VSIB_PROBE});
        trusted = probe.exit_code == 0;
        if (!trusted) {
            const std::string version = run_program(qemu, {"--version"}).out;
            WARN(version.substr(0, version.find('\n'))
                 << " executes AVX2 gathers wrongly (a VSIB index of ymm4 is decoded as no index; later QEMU "
                    "decodes it right), so the avx2 path's results under it are compared but not checked:\n"
                 << probe.out);
        }
    }

    auto native = [&](const std::string& label, const std::vector<std::string>& extra_env) {
        std::vector<std::string> env{"MDLAB_ISA=" + path};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        const auto r = run_mdlab(quickstart_run(tmp.path() / label), env);
        INFO("native run (" << label << "): " << describe_exit(r) << "\nstderr: " << r.err);
        REQUIRE(r.exit_code == 0);
        return without_wall_times(read_text(tmp.path() / label / "results.csv"));
    };

    // Bit-identical: qemu executes the instructions the host executes on this path (with glibc's
    // libm variants chosen as on the emulated CPU).
    std::vector<std::string> same_libm_env;
    if (!cpu.glibc_tunables.empty()) same_libm_env.push_back("GLIBC_TUNABLES=" + cpu.glibc_tunables);
    const std::string same_libm = native("native-same-libm", same_libm_env);
    const std::string native_label =
        "native " + path + (cpu.glibc_tunables.empty() ? "" : " with GLIBC_TUNABLES=" + cpu.glibc_tunables);
    const IsaComparison c = compare_isa_results(same_libm, emulated, native_label, cpu.model);
    std::ostringstream report;
    report << cpu.model << ": the " << path << " path, the small quickstart in " << seconds << " s under qemu; vs "
           << native_label << ":" << c.summary();
    {
        INFO(report.str());
        if (trusted) CHECK(emulated == same_libm);
    }
    // And to rounding with the host's own libm variants: what a user of this build on such a CPU
    // gets against the same path on this machine.
    if (!cpu.glibc_tunables.empty()) {
        const IsaComparison d = compare_isa_results(native("native", {}), emulated, "native " + path, cpu.model);
        std::string all;
        for (const auto& m : d.mismatches) all += "\n  " + m;
        report << "\nvs native " << path << " with the host's libm:" << d.summary();
        INFO(report.str() << all);
        CHECK(d.agree());
    }
    WARN(report.str());
}

}  // namespace

TEST_CASE("an emulated CPU with AVX2 but no AVX-512 (qemu -cpu Haswell) runs the avx2 path") {
    std::string qemu;
    if (!qemu_available(qemu)) return;
    check_emulated_cpu(qemu, {"Haswell", isa::Path::avx2, "avx2, generic", {isa::Path::avx512}, ""});
}

TEST_CASE("an emulated CPU without AVX (qemu -cpu Nehalem, the x86-64-v2 baseline) runs the generic path") {
    std::string qemu;
    if (!qemu_available(qemu)) return;
    check_emulated_cpu(qemu, {"Nehalem", isa::Path::generic, "generic", {isa::Path::avx512, isa::Path::avx2},
                              "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4"});
}
