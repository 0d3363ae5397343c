// One SIMD register of doubles or floats, written with GCC/Clang vector extensions: +, -, *,
// comparisons, ?: and bit casts act lane by lane and compile to one instruction each. The
// register is as wide as the instruction set the translation unit is compiled for: 64 bytes
// (8 doubles, 16 floats) with AVX-512, 32 with AVX2, 16 (SSE) otherwise. The compiler's
// auto-vectoriser is not involved, so the register width does not depend on its cost model.
// Used by the dense softmax kernels (softmax_microkernel.hpp) and the vector exp (vector_exp.hpp).
//
// Everything here lives in an inline namespace named after the instruction-set path the file is
// compiled for (MDLAB_ISA_NAMESPACE): libmdlab_kernels compiles these headers once per path
// (mdlab/isa.hpp, mdlab_add_isa_sources in sdk/cmake/mdlabPlugin.cmake), and the copies must
// not be merged by the linker (the same name with a different register width is an ODR
// violation that would run AVX-512 code on an AVX2 machine).
//
// Fused multiply-add is spelled out (simd::fma): the kernels rely on it for accuracy and on
// getting the same rounding at every call site, whatever the compiler's contraction setting.
// Without FMA instructions (the generic path on a baseline build) it is a multiply and an add
// (two roundings); simd::has_fma says which.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

// The namespace of this compilation's instruction-set path: mdlab_add_isa_sources defines
// MDLAB_ISA_SOURCE (generic, avx2 or avx512) for each copy it compiles; an ordinary source gets
// the copy for its own -march.
#define MDLAB_ISA_CONCAT_IMPL(a, b) a##b
#define MDLAB_ISA_CONCAT(a, b) MDLAB_ISA_CONCAT_IMPL(a, b)
#if defined(MDLAB_ISA_SOURCE)
#define MDLAB_ISA_NAMESPACE MDLAB_ISA_CONCAT(isa_, MDLAB_ISA_SOURCE)
#else
#define MDLAB_ISA_NAMESPACE isa_inline
#endif

// 64-byte vectors passed by value change the ABI without AVX-512 (GCC -Wpsabi); everything
// here is inline, so there is no ABI to keep.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mdlab::kernels::simd {
inline namespace MDLAB_ISA_NAMESPACE {

// A type of this path's own, for giving inline code outside this namespace a copy per path
// (KeyIndex::candidates<simd::path>).
struct path {};

// One register, and how many the tiles may keep live (AVX-512 has 32, AVX2 and SSE 16).
#if defined(__AVX512F__)
inline constexpr std::size_t bytes = 64;
inline constexpr std::size_t registers = 32;
#elif defined(__AVX2__)
inline constexpr std::size_t bytes = 32;
inline constexpr std::size_t registers = 16;
#else
inline constexpr std::size_t bytes = 16;
inline constexpr std::size_t registers = 16;
#endif
#if defined(__FMA__) || defined(__AVX512F__)
inline constexpr bool has_fma = true;
#else
inline constexpr bool has_fma = false;
#endif

template <class T>
struct Lanes;
template <>
struct Lanes<double> {
    typedef double type __attribute__((vector_size(bytes)));
    typedef std::int64_t itype __attribute__((vector_size(bytes)));
    typedef std::uint64_t utype __attribute__((vector_size(bytes)));
    typedef std::int64_t int_scalar;
};
template <>
struct Lanes<float> {
    typedef float type __attribute__((vector_size(bytes)));
    typedef std::int32_t itype __attribute__((vector_size(bytes)));
    typedef std::uint32_t utype __attribute__((vector_size(bytes)));
    typedef std::int32_t int_scalar;
};

template <class T>
using vec = typename Lanes<T>::type;  // lanes of T
template <class T>
using ivec = typename Lanes<T>::itype;  // integer lanes of the same width (masks, bit patterns)
template <class T>
using uvec = typename Lanes<T>::utype;  // unsigned lanes: bit-pattern arithmetic that wraps
template <class T>
inline constexpr std::size_t width = bytes / sizeof(T);  // lanes per register

// Unaligned load / store (vmovups: no penalty when the address happens to be aligned).
template <class T>
inline vec<T> load(const T* p) {
    vec<T> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class T>
inline void store(T* p, vec<T> v) {
    std::memcpy(p, &v, sizeof v);
}
inline vec<double> broadcast(double x) {
#if defined(__AVX512F__)
    return _mm512_set1_pd(x);
#elif defined(__AVX2__)
    return _mm256_set1_pd(x);  // a lane loop compiles to inserts, not one vbroadcastsd
#elif defined(__SSE2__)
    return _mm_set1_pd(x);
#else
    vec<double> v;
    for (std::size_t l = 0; l < width<double>; ++l) v[l] = x;
    return v;
#endif
}
inline vec<float> broadcast(float x) {
#if defined(__AVX512F__)
    return _mm512_set1_ps(x);
#elif defined(__AVX2__)
    return _mm256_set1_ps(x);
#elif defined(__SSE2__)
    return _mm_set1_ps(x);
#else
    vec<float> v;
    for (std::size_t l = 0; l < width<float>; ++l) v[l] = x;
    return v;
#endif
}

// a * b + c with one rounding (without FMA instructions: a multiply and an add).
inline vec<double> fma(vec<double> a, vec<double> b, vec<double> c) {
#if defined(__AVX512F__)
    return _mm512_fmadd_pd(a, b, c);
#elif defined(__AVX2__) && defined(__FMA__)
    return _mm256_fmadd_pd(a, b, c);
#elif defined(__FMA__)
    return _mm_fmadd_pd(a, b, c);
#else
    return a * b + c;
#endif
}
inline vec<float> fma(vec<float> a, vec<float> b, vec<float> c) {
#if defined(__AVX512F__)
    return _mm512_fmadd_ps(a, b, c);
#elif defined(__AVX2__) && defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#elif defined(__FMA__)
    return _mm_fmadd_ps(a, b, c);
#else
    return a * b + c;
#endif
}

// Makes the compiler treat v as computed here, so it keeps a loaded value in a register for
// its several uses instead of loading it again for each (GCC otherwise re-loads the keys
// register for every query of a tile). No instruction is emitted.
template <class V>
inline void keep_in_register(V& v) {
#if defined(__GNUC__) && defined(__AVX512F__)
    asm("" : "+v"(v));
#elif defined(__GNUC__) && defined(__SSE2__)
    asm("" : "+x"(v));
#else
    (void)v;
#endif
}

// The lane type of a register type V (vec<double> or vec<float>).
template <class V>
using lane_t = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<V>()[0])>>;

// Lane-wise minimum; a NaN in b is ignored (b < a is false), one in a is kept.
template <class V>
inline V min(V a, V b) {
    return b < a ? b : a;
}

// Smallest lane (exact: the order does not matter without NaN). GCC: by halving with lane
// swaps; Clang has no variable-mask shuffle builtin, so a lane loop there.
template <class V>
inline lane_t<V> hmin(V v) {
    constexpr std::size_t w = width<lane_t<V>>;
#if defined(__clang__)
    lane_t<V> m = v[0];
    for (std::size_t l = 1; l < w; ++l) m = v[l] < m ? v[l] : m;
    return m;
#else
    // Constant masks spelled out for the AVX-512 widths: built in a loop, GCC 12 loads them as
    // broadcast vectors each time (measured 10% of the f32 kernel on Zen 5).
    using I = ivec<lane_t<V>>;
    if constexpr (w == 16) {
        v = min(v, __builtin_shuffle(v, I{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7}));
        v = min(v, __builtin_shuffle(v, I{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11}));
        v = min(v, __builtin_shuffle(v, I{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13}));
        v = min(v, __builtin_shuffle(v, I{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14}));
    } else if constexpr (w == 8) {
        v = min(v, __builtin_shuffle(v, I{4, 5, 6, 7, 0, 1, 2, 3}));
        v = min(v, __builtin_shuffle(v, I{2, 3, 0, 1, 6, 7, 4, 5}));
        v = min(v, __builtin_shuffle(v, I{1, 0, 3, 2, 5, 4, 7, 6}));
    } else if constexpr (w == 4) {
        v = min(v, __builtin_shuffle(v, I{2, 3, 0, 1}));
        v = min(v, __builtin_shuffle(v, I{1, 0, 3, 2}));
    } else if constexpr (w == 2) {
        v = min(v, __builtin_shuffle(v, I{1, 0}));
    }
    return v[0];
#endif
}

// Sum of the lanes in a fixed order (pairwise halving), as double.
template <class V>
inline double hsum(V v) {
    constexpr std::size_t w = width<lane_t<V>>;
    double h[w];
    for (std::size_t l = 0; l < w; ++l) h[l] = static_cast<double>(v[l]);
    for (std::size_t n = w / 2; n > 0; n /= 2)
        for (std::size_t l = 0; l < n; ++l) h[l] += h[l + n];
    return h[0];
}

}  // namespace MDLAB_ISA_NAMESPACE
}  // namespace mdlab::kernels::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
