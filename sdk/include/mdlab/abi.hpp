// ABI contract between the mdlab host and plugin libraries.
#pragma once
#include <cstdint>

#define MDLAB_ABI_VERSION 3u

#define MDLAB_STRINGIFY_IMPL(x) #x
#define MDLAB_STRINGIFY(x) MDLAB_STRINGIFY_IMPL(x)

// Instruction set the translation unit was compiled for. Host and plugins must agree:
// xtensor's aligned allocator and xsimd's batch types depend on it, and a mismatch shows
// up as crashes on aligned loads, not as link errors.
#if defined(__AVX512F__)
#define MDLAB_ISA "avx512f"
#elif defined(__AVX2__) && defined(__FMA__)
#define MDLAB_ISA "avx2+fma"
#elif defined(__AVX__)
#define MDLAB_ISA "avx"
#elif defined(__SSE4_2__)
#define MDLAB_ISA "sse4.2"
#elif defined(__SSE2__)
#define MDLAB_ISA "sse2"
#else
#define MDLAB_ISA "generic"
#endif

#if defined(XTENSOR_USE_XSIMD)
#define MDLAB_XSIMD "xsimd"
#else
#define MDLAB_XSIMD "noxsimd"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define MDLAB_CXXABI "cxx11abi=" MDLAB_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define MDLAB_CXXABI "cxx11abi=?"
#endif

// Everything that must be equal on both sides of the plugin boundary, as one string.
#define MDLAB_BUILD_SIGNATURE \
    "abi=" MDLAB_STRINGIFY(MDLAB_ABI_VERSION) ";isa=" MDLAB_ISA ";" MDLAB_XSIMD ";" MDLAB_CXXABI

#define MDLAB_VISIBLE __attribute__((visibility("default")))

extern "C" {
// Plain C record a host can read before touching any C++ type of the library.
struct mdlab_abi_info {
    std::uint32_t abi_version;
    const char* build_signature;
};
}

namespace mdlab {
inline constexpr std::uint32_t abi_version = MDLAB_ABI_VERSION;
inline constexpr const char* build_signature = MDLAB_BUILD_SIGNATURE;
inline constexpr const char* abi_symbol = "mdlab_plugin_abi";
inline constexpr const char* table_symbol = "mdlab_plugin_table";
}  // namespace mdlab
