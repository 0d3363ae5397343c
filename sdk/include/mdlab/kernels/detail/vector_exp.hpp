// exp(t) for a register of t <= 0 (simd_vector.hpp), branch-free, for the softmax kernels'
// weights exp((d_min - d) a^2 / (2 v)). Accuracy (tests/plugins/test_kernel_fast_paths.cpp
// checks it against exp in long double on every binade of the range): within 1.1 ulp
// (measured 1.01 ulp in double, 1.05 ulp in float) where the result is a normal number, i.e.
// t >= ln(DBL_MIN) = -708.396 (float: ln(FLT_MIN) = -87.34); below that it returns 0 (std::exp
// would return a subnormal or 0: an absolute difference under 2.3e-308 / 1.2e-38, invisible
// next to the largest weight, which is 1). -inf and NaN give 0 (a NaN argument never reaches
// the caller's sums). Floating-point exceptions must not trap (the default): the cleared lanes
// may raise invalid/overflow flags.
//
// Method (Tang's table-driven exp): n = round(16 t / ln 2) by the 1.5 * 2^52 shifter, whose low
// bits then hold n as an integer; r = t - n ln2/16 with ln2/16 split in a head and a tail
// (|r| <= ln2/32); e^t = 2^(n >> 4) * 2^((n & 15)/16) * e^r. The 16 values 2^(j/16) (correctly
// rounded) sit in registers and are picked with one permute; 2^(n >> 4) is added to their
// exponent field as an integer; e^r = 1 + r q(r) with q the Taylor polynomial of degree 6
// (double; truncation error r^8/8! < 1.3e-18) or 2 (float; r^4/4! < 1e-8), and the result is
// S + S (r q(r)) with S = 2^(n >> 4) 2^(j/16): one rounding at the end.
// Without FMA instructions (simd::has_fma false: the generic path of a baseline build) the
// reduction is Cody-Waite's: ln2/16 split so that its head has 39 (float: 13) significant bits,
// n * head is exact for every n in range and t - n * head exact by Sterbenz; the shifter's
// product rounds once more, so n may be off by one near a half-integer and |r| slightly above
// ln2/32, which the polynomial still covers. Measured there: within 1.5 ulp as well.
#pragma once
#include <cstdint>

#include "mdlab/kernels/detail/simd_vector.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // see simd_vector.hpp
#endif

namespace mdlab::kernels::simd {
inline namespace MDLAB_ISA_NAMESPACE {

namespace exp_detail {

template <class T>
struct Constants;

template <>
struct Constants<double> {
    static constexpr double lowest = -708.39641853226410;  // ln(DBL_MIN): below, the result is 0
    static constexpr double shifter = 0x1.8p52;
    static constexpr double inv_step = 0x1.71547652b82fep+4;  // 16 / ln 2
    static constexpr double step_hi = 0x1.62e42fefa39efp-5;   // ln2 / 16, head
    static constexpr double step_lo = 0x1.abc9e3b39803fp-60;  // ln2 / 16, tail
    static constexpr double short_hi = 0x1.62e42fefa0000p-5;  // without FMA: 39-bit head
    static constexpr double short_lo = 0x1.cf79abc9e3b3ap-44;  //   and the rest
    static constexpr int mantissa_bits = 52;
    // 2^(j/16), j = 0..15, correctly rounded.
    static constexpr double table[16] = {
        0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
        0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
        0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
        0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
};

template <>
struct Constants<float> {
    static constexpr float lowest = -87.33654475f;  // ln(FLT_MIN)
    static constexpr float shifter = 0x1.8p23f;
    static constexpr float inv_step = 0x1.715476p+4f;
    static constexpr float step_hi = 0x1.62e430p-5f;
    static constexpr float step_lo = -0x1.05c610p-33f;
    static constexpr float short_hi = 0x1.62ep-5f;      // without FMA: 13-bit head
    static constexpr float short_lo = 0x1.0bfbe8p-19f;  //   and the rest
    static constexpr int mantissa_bits = 23;
    static constexpr float table[16] = {
        0x1.000000p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fe0p+0f, 0x1.3dea64p+0f,
        0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
        0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
};

// r q(r) = e^r - 1 on |r| <= ln2/32 (Taylor; Horner).
inline vec<double> expm1_small(vec<double> r) {
    vec<double> q = broadcast(0x1.a01a01a01a01ap-13);        // 1/7!
    q = fma(q, r, broadcast(0x1.6c16c16c16c17p-10));          // 1/6!
    q = fma(q, r, broadcast(0x1.1111111111111p-7));           // 1/5!
    q = fma(q, r, broadcast(0x1.5555555555555p-5));           // 1/4!
    q = fma(q, r, broadcast(0x1.5555555555555p-3));           // 1/3!
    q = fma(q, r, broadcast(0.5));
    q = fma(q, r, broadcast(1.0));
    return q * r;
}
inline vec<float> expm1_small(vec<float> r) {
    vec<float> q = broadcast(0x1.555556p-3f);
    q = fma(q, r, broadcast(0.5f));
    q = fma(q, r, broadcast(1.0f));
    return q * r;
}

// table[j] for the low 4 bits j of each lane of n.
inline vec<double> lookup(ivec<double> j) {
#if defined(__AVX512F__)
    const vec<double> lo = load(Constants<double>::table), hi = load(Constants<double>::table + 8);
    return _mm512_permutex2var_pd(lo, (__m512i)j, hi);  // index bit 3 picks hi
#elif defined(__AVX2__)
    return _mm256_i64gather_pd(Constants<double>::table, (__m256i)(j & 15), 8);
#else
    vec<double> r;
    for (std::size_t l = 0; l < width<double>; ++l) r[l] = Constants<double>::table[j[l] & 15];
    return r;
#endif
}
inline vec<float> lookup(ivec<float> j) {
#if defined(__AVX512F__)
    const vec<float> t = load(Constants<float>::table);
    return _mm512_permutexvar_ps((__m512i)j, t);  // uses the low 4 bits
#elif defined(__AVX2__)
    // Two 8-entry permutes (low 3 bits), bit 3 picks between them (blendv reads the sign bit).
    const __m256 lo = _mm256_permutevar8x32_ps(load(Constants<float>::table), (__m256i)j);
    const __m256 hi = _mm256_permutevar8x32_ps(load(Constants<float>::table + 8), (__m256i)j);
    return _mm256_blendv_ps(lo, hi, (__m256)(j << 28));
#else
    vec<float> r;
    for (std::size_t l = 0; l < width<float>; ++l) r[l] = Constants<float>::table[j[l] & 15];
    return r;
#endif
}

template <class T>
inline vec<T> exp_nonpositive(vec<T> t) {
    using C = Constants<T>;
    using I = ivec<T>;
    // Lanes with a normal result (false for NaN). The others compute garbage (NaN for -inf,
    // a wrapped exponent below ln(DBL_MIN)) and are cleared at the end; there is no clamp.
    const I keep = t >= C::lowest;
    vec<T> shifted, r;
    if constexpr (has_fma) {
        shifted = fma(t, broadcast(C::inv_step), broadcast(C::shifter));
        const vec<T> n = shifted - C::shifter;  // round(16 t / ln 2), exact
        r = fma(n, broadcast(-C::step_hi), t);
        r = fma(n, broadcast(-C::step_lo), r);
    } else {
        shifted = t * C::inv_step + C::shifter;
        const vec<T> n = shifted - C::shifter;
        r = (t - n * C::short_hi) - n * C::short_lo;
    }
    // The shifter's low mantissa bits hold n (two's complement): subtracting the shifter's bit
    // pattern recovers it as an integer. The bit arithmetic runs in unsigned lanes, which wrap
    // by definition in the discarded lanes (signed lanes would overflow there).
    using U = uvec<T>;
    const I ni = (I)((U)shifted - (U)broadcast(C::shifter));
    const U scale = (U)(ni >> 4) << C::mantissa_bits;  // 2^(n >> 4) in the exponent field
    const vec<T> s = (vec<T>)((U)lookup(ni) + scale);
    const vec<T> e = fma(s, exp_detail::expm1_small(r), s);
    return (vec<T>)((I)e & keep);
}

}  // namespace exp_detail

// exp_nonpositive returns 0 exactly for t < exp_lowest<T> (and NaN).
template <class T>
inline constexpr T exp_lowest = exp_detail::Constants<T>::lowest;

// e^t lane by lane for t <= 0 (see the header comment for the accuracy and the flush to 0).
inline vec<double> exp_nonpositive(vec<double> t) { return exp_detail::exp_nonpositive<double>(t); }
inline vec<float> exp_nonpositive(vec<float> t) { return exp_detail::exp_nonpositive<float>(t); }

}  // namespace MDLAB_ISA_NAMESPACE
}  // namespace mdlab::kernels::simd

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
