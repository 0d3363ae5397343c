// The FMA peak loop on one instruction-set path (compiled once per path, like softmax_isa.cpp):
// K independent chains a_k <- a_k * b + c, each one register of the path wide. `mdlab bench
// peak` (framework/src/bench/fma_peak.cpp) runs it on every thread and turns it into GFLOP/s.
//
// Why it is written this way:
// - Independent chains hide the FMA latency: with latency L cycles and P FMA pipes a core needs
//   at least L * P chains in flight (4 x 2 on current x86). 16 chains of the 32 AVX-512
//   registers leave a wide margin; AVX2 and SSE have 16 registers, so 12 there.
// - The accumulators must stay in registers: a fixed, fully unrolled body over named locals
//   (objdump -d -C build/lib/libmdlab_kernels.so | grep -A40 fma_chains: the AVX-512 loop is 16
//   `vfmadd...pd zmm, zmm, zmm` with no memory operand). A loop that loads and stores its sums
//   each iteration is bound by the store/load latency and reports about a third of the truth.
// - noipa / noinline and run-time operands (the caller reads them from volatiles), so no call
//   is a removable repeat of the previous one; the chains start from different values, so no
//   two can be merged; the sum is returned and used.
// - Without FMA instructions (the generic path of a baseline build) a chain step is a multiply
//   and an add, still counted as 2 flops per lane.
#include "kernel_entries.hpp"
#include "mdlab/kernels/detail/simd_vector.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#define MDLAB_OPAQUE __attribute__((noipa))
#pragma GCC diagnostic ignored "-Wpsabi"  // see simd_vector.hpp
#else
#define MDLAB_OPAQUE __attribute__((noinline))
#endif

namespace mdlab::kernels::MDLAB_ISA_NAMESPACE {

namespace {

constexpr int chain_count = simd::registers >= 32 ? 16 : 12;

template <class T>
MDLAB_OPAQUE double fma_chains(T b_in, T c_in, long iterations) {
    using V = simd::vec<T>;
    const V b = simd::broadcast(b_in), c = simd::broadcast(c_in);
#define MDLAB_CHAIN_INIT(k) V a##k = simd::broadcast(T(1) + T(k) * T(1.0 / 64));
#define MDLAB_CHAIN_STEP(k) a##k = simd::fma(a##k, b, c);
#define MDLAB_CHAIN_SUM(k) total = total + a##k;
#define MDLAB_CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#if defined(__AVX512F__)
#define MDLAB_CHAINS(X) MDLAB_CHAINS12(X) X(12) X(13) X(14) X(15)
#else
#define MDLAB_CHAINS(X) MDLAB_CHAINS12(X)
#endif
    MDLAB_CHAINS(MDLAB_CHAIN_INIT)
    for (long i = 0; i < iterations; ++i) {
        MDLAB_CHAINS(MDLAB_CHAIN_STEP)
    }
    V total = simd::broadcast(T(0));
    MDLAB_CHAINS(MDLAB_CHAIN_SUM)
#undef MDLAB_CHAINS
#undef MDLAB_CHAINS12
#undef MDLAB_CHAIN_SUM
#undef MDLAB_CHAIN_STEP
#undef MDLAB_CHAIN_INIT
    return simd::hsum(total);
}

static_assert(chain_count == (simd::registers >= 32 ? 16 : 12), "MDLAB_CHAINS lists chain_count chains");

}  // namespace

detail::FmaChains fma_chains_entry(bool f32, double b, double c, long iterations) {
    detail::FmaChains r;
    r.chains = chain_count;
    if (f32) {
        r.sum = fma_chains<float>(static_cast<float>(b), static_cast<float>(c), iterations);
        r.lanes = static_cast<int>(simd::width<float>);
    } else {
        r.sum = fma_chains<double>(b, c, iterations);
        r.lanes = static_cast<int>(simd::width<double>);
    }
    return r;
}

}  // namespace mdlab::kernels::MDLAB_ISA_NAMESPACE
