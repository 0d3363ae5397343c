// Which instruction-set path the kernels take (mdlab/isa.hpp): CPU detection, MDLAB_ISA, overrides.
#include "mdlab/isa.hpp"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "mdlab/error.hpp"

namespace mdlab::isa {

namespace {

constexpr Path all_paths[] = {Path::avx512, Path::avx2, Path::generic};

// libgcc's checks include the OS side (XCR0 has the AVX / AVX-512 register state enabled).
bool cpu_has(Path path) {
    __builtin_cpu_init();
    switch (path) {
        case Path::generic:
            return true;
#if defined(__clang__)
        case Path::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
        case Path::avx512:
            return cpu_has(Path::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512cd");
#else
        // The paths are compiled for these microarchitecture levels (sdk/CMakeLists.txt).
        case Path::avx2:
            return __builtin_cpu_supports("x86-64-v3");
        case Path::avx512:
            return __builtin_cpu_supports("x86-64-v4");
#endif
    }
    return false;
}

constexpr int unset = -1;
std::atomic<int> forced{unset};  // an Override's path
std::once_flag chosen_once;
Path chosen = Path::generic;
std::string chosen_error;

void choose() {
    const char* env = std::getenv("MDLAB_ISA");
    if (!env || !*env) {
        chosen = best();
        return;
    }
    const auto path = parse(env);
    if (!path) {
        chosen_error = std::string("MDLAB_ISA=") + env + " is not an instruction-set path; valid choices: " + choices();
        return;
    }
    if (!supported(*path)) {
        std::string have;
        for (Path p : supported_paths()) have += (have.empty() ? "" : ", ") + std::string(name(p));
        chosen_error = std::string("MDLAB_ISA=") + env + ": this CPU (" + cpu_name() + ") cannot run the " + env +
                       " path; it supports " + have + " (unset MDLAB_ISA to use the best)";
        return;
    }
    chosen = *path;
}

}  // namespace

const char* name(Path path) {
    switch (path) {
        case Path::generic: return "generic";
        case Path::avx2: return "avx2";
        case Path::avx512: return "avx512";
    }
    return "?";
}

std::optional<Path> parse(std::string_view text) {
    for (Path p : all_paths)
        if (text == name(p)) return p;
    return std::nullopt;
}

std::string choices() { return "avx512|avx2|generic"; }

std::string cpu_name() {
    unsigned regs[12] = {};
    for (unsigned i = 0; i < 3; ++i)
        if (!__get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]))
            return "unknown CPU";
    char text[sizeof regs + 1] = {};
    std::memcpy(text, regs, sizeof regs);
    std::string s(text);
    const auto first = s.find_first_not_of(' '), last = s.find_last_not_of(' ');
    return first == std::string::npos ? "unknown CPU" : s.substr(first, last - first + 1);
}

bool supported(Path path) { return cpu_has(path); }

std::vector<Path> supported_paths() {
    std::vector<Path> out;
    for (Path p : all_paths)
        if (supported(p)) out.push_back(p);
    return out;
}

Path best() { return supported_paths().front(); }

Path active() {
    const int f = forced.load(std::memory_order_acquire);
    if (f != unset) return static_cast<Path>(f);
    std::call_once(chosen_once, choose);
    if (!chosen_error.empty()) throw InputError(chosen_error, "MDLAB_ISA");
    return chosen;
}

Override::Override(Path path) : previous_(forced.load()) {
    if (!supported(path))
        throw Error(std::string("isa::Override: this CPU (") + cpu_name() + ") cannot run the " + name(path) + " path");
    forced.store(static_cast<int>(path), std::memory_order_release);
}

Override::~Override() { forced.store(previous_, std::memory_order_release); }

}  // namespace mdlab::isa
