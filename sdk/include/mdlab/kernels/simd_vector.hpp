// One 64-byte SIMD register of doubles (8 lanes) or floats (16 lanes), written with GCC/Clang
// vector extensions: +, -, *, comparisons, ?: and bit casts act lane by lane and compile to one
// AVX-512 instruction each under -march with AVX-512 (to two AVX2 instructions, or to scalar
// code, elsewhere). The compiler's auto-vectoriser is not involved, so the register width does
// not depend on its cost model (GCC 12's generic tuning prefers 256-bit vectors for loops).
// Used by the dense softmax kernels (softmax_microkernel.hpp) and the vector exp (vector_exp.hpp).
//
// Fused multiply-add is spelled out (simd::fma): the kernels rely on it for accuracy and on
// getting the same rounding at every call site, whatever the compiler's contraction setting.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// 64-byte vectors passed by value change the ABI without AVX-512 (GCC -Wpsabi); everything
// here is inline, so there is no ABI to keep.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mdlab::kernels::simd {

inline constexpr std::size_t bytes = 64;  // one AVX-512 register

template <class T>
struct Lanes;
template <>
struct Lanes<double> {
    typedef double type __attribute__((vector_size(64)));
    typedef std::int64_t itype __attribute__((vector_size(64)));
    typedef std::uint64_t utype __attribute__((vector_size(64)));
    typedef std::int64_t int_scalar;
};
template <>
struct Lanes<float> {
    typedef float type __attribute__((vector_size(64)));
    typedef std::int32_t itype __attribute__((vector_size(64)));
    typedef std::uint32_t utype __attribute__((vector_size(64)));
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
#else
    vec<double> v;
    for (std::size_t l = 0; l < width<double>; ++l) v[l] = x;
    return v;
#endif
}
inline vec<float> broadcast(float x) {
#if defined(__AVX512F__)
    return _mm512_set1_ps(x);
#else
    vec<float> v;
    for (std::size_t l = 0; l < width<float>; ++l) v[l] = x;
    return v;
#endif
}

// a * b + c with one rounding.
inline vec<double> fma(vec<double> a, vec<double> b, vec<double> c) {
#if defined(__AVX512F__)
    return _mm512_fmadd_pd(a, b, c);
#else
    vec<double> r;
    for (std::size_t l = 0; l < width<double>; ++l) r[l] = std::fma(a[l], b[l], c[l]);
    return r;
#endif
}
inline vec<float> fma(vec<float> a, vec<float> b, vec<float> c) {
#if defined(__AVX512F__)
    return _mm512_fmadd_ps(a, b, c);
#else
    vec<float> r;
    for (std::size_t l = 0; l < width<float>; ++l) r[l] = std::fma(a[l], b[l], c[l]);
    return r;
#endif
}

// Makes the compiler treat v as computed here, so it keeps a loaded value in a register for
// its several uses instead of loading it again for each (GCC otherwise re-loads the keys
// register for every query of a tile). No instruction is emitted.
template <class V>
inline void keep_in_register(V& v) {
#if defined(__GNUC__) && defined(__AVX512F__)
    asm("" : "+v"(v));
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

// Smallest lane, by halving with lane swaps (exact: the order does not matter without NaN).
inline double hmin(vec<double> v) {
    using I = ivec<double>;
    v = min(v, __builtin_shuffle(v, I{4, 5, 6, 7, 0, 1, 2, 3}));
    v = min(v, __builtin_shuffle(v, I{2, 3, 0, 1, 6, 7, 4, 5}));
    v = min(v, __builtin_shuffle(v, I{1, 0, 3, 2, 5, 4, 7, 6}));
    return v[0];
}
inline float hmin(vec<float> v) {
    using I = ivec<float>;
    v = min(v, __builtin_shuffle(v, I{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7}));
    v = min(v, __builtin_shuffle(v, I{4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11}));
    v = min(v, __builtin_shuffle(v, I{2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13}));
    v = min(v, __builtin_shuffle(v, I{1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14}));
    return v[0];
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

}  // namespace mdlab::kernels::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
