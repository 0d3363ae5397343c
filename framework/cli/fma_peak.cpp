// The FMA peak: K independent chains a_k <- a_k * b + c per thread, each one SIMD register wide.
//
// Why it is written this way:
// - Independent chains hide the FMA latency: with latency L cycles and P FMA pipes a core needs
//   at least L * P chains in flight (4 x 2 on current x86). 16 AVX-512 accumulators (of the 32
//   zmm registers) leave a wide margin; AVX2 has only 16 ymm registers, so 12 there.
// - The accumulators must stay in registers. The loop is a fixed, fully unrolled body over
//   named locals, and the generated code was checked (objdump -d on the mdlab binary, function
//   fma_chains<double>): the loop is 16 `vfmadd...pd zmm, zmm, zmm` with no memory operand.
//   A loop that loads and stores its sums each iteration is bound by the store/load latency and
//   reports about a third of the truth.
// - The multiplier and addend are read from volatiles at every call, so nothing is a
//   compile-time constant and no call is a removable repeat of the previous one (GCC otherwise
//   proves the function pure and hoists it out of the timing loop: 1000x the truth); the chains
//   start from different values, so no two can be merged; and the sums are written to a
//   volatile sink, so the work is used.
// - b = 1 - 2^-20 and c = 2^-20: every chain converges to 1 and never overflows or goes subnormal.
// - Every thread of the arena runs the loop at once (a spinning barrier lines them up), and the
//   rate is the total flop count over the wall time from the first start to the last finish;
//   the result is the best of 5 such rounds (the machine may be shared).
// Flops: 2 per FMA lane (one multiply, one add).
#include "fma_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace mdlab::cli {

namespace {

using Clock = std::chrono::steady_clock;

// One SIMD register of T with the FMA of the widest instruction set the build targets.
template <class T>
struct Simd;

#if defined(__AVX512F__)
constexpr const char* isa_name = "avx512";
constexpr int chain_count = 16;
template <>
struct Simd<double> {
    using R = __m512d;
    static constexpr int lanes = 8;
    static R set1(double x) { return _mm512_set1_pd(x); }
    static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
    static R add(R a, R b) { return _mm512_add_pd(a, b); }
    static double sum(R a) {  // a store, not _mm512_reduce_add_pd: GCC 12 warns inside that one
        alignas(64) double v[8];
        _mm512_store_pd(v, a);
        double s = 0.0;
        for (double x : v) s += x;
        return s;
    }
};
template <>
struct Simd<float> {
    using R = __m512;
    static constexpr int lanes = 16;
    static R set1(float x) { return _mm512_set1_ps(x); }
    static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
    static R add(R a, R b) { return _mm512_add_ps(a, b); }
    static float sum(R a) {
        alignas(64) float v[16];
        _mm512_store_ps(v, a);
        float s = 0.0f;
        for (float x : v) s += x;
        return s;
    }
};
#elif defined(__FMA__) && defined(__AVX__)
constexpr const char* isa_name = "avx2";
constexpr int chain_count = 12;
template <>
struct Simd<double> {
    using R = __m256d;
    static constexpr int lanes = 4;
    static R set1(double x) { return _mm256_set1_pd(x); }
    static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
    static R add(R a, R b) { return _mm256_add_pd(a, b); }
    static double sum(R a) {
        alignas(32) double v[4];
        _mm256_store_pd(v, a);
        return (v[0] + v[1]) + (v[2] + v[3]);
    }
};
template <>
struct Simd<float> {
    using R = __m256;
    static constexpr int lanes = 8;
    static R set1(float x) { return _mm256_set1_ps(x); }
    static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
    static R add(R a, R b) { return _mm256_add_ps(a, b); }
    static float sum(R a) {
        alignas(32) float v[8];
        _mm256_store_ps(v, a);
        float s = 0.0f;
        for (float x : v) s += x;
        return s;
    }
};
#else
// No FMA instructions: a multiply and an add, still counted as 2 flops.
constexpr const char* isa_name = "scalar";
constexpr int chain_count = 8;
template <class T>
struct ScalarSimd {
    using R = T;
    static constexpr int lanes = 1;
    static R set1(T x) { return x; }
    static R fma(R a, R b, R c) { return a * b + c; }
    static R add(R a, R b) { return a + b; }
    static T sum(R a) { return a; }
};
template <>
struct Simd<double> : ScalarSimd<double> {};
template <>
struct Simd<float> : ScalarSimd<float> {};
#endif

// `iters` rounds of chain_count independent FMAs; returns the sum of the chains so the work is used.
// Named locals (not an array) so that the accumulators are registers, not stack slots.
// noipa (GCC): otherwise GCC proves the function pure and hoists repeated calls out of the timing loop.
#if defined(__GNUC__) && !defined(__clang__)
#define MDLAB_OPAQUE __attribute__((noipa))
#else
#define MDLAB_OPAQUE __attribute__((noinline))
#endif
template <class T>
MDLAB_OPAQUE T fma_chains(T b_in, T c_in, long iters) {
    using S = Simd<T>;
    using R = typename S::R;
    const R b = S::set1(b_in), c = S::set1(c_in);
    // Distinct starting values: identical chains could legally be merged by the compiler.
#define MDLAB_CHAIN_INIT(k) R a##k = S::set1(T(1) + T(k) * T(1.0 / 64));
#define MDLAB_CHAIN_STEP(k) a##k = S::fma(a##k, b, c);
#define MDLAB_CHAIN_SUM(k) total = S::add(total, a##k);
#if defined(__AVX512F__)
#define MDLAB_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#elif defined(__FMA__) && defined(__AVX__)
#define MDLAB_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#else
#define MDLAB_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#endif
    MDLAB_CHAINS(MDLAB_CHAIN_INIT)
    for (long i = 0; i < iters; ++i) {
        MDLAB_CHAINS(MDLAB_CHAIN_STEP)
    }
    R total = S::set1(T(0));
    MDLAB_CHAINS(MDLAB_CHAIN_SUM)
#undef MDLAB_CHAINS
#undef MDLAB_CHAIN_SUM
#undef MDLAB_CHAIN_STEP
#undef MDLAB_CHAIN_INIT
    return S::sum(total);
}

volatile double sink = 0.0;           // the chains' results end here: the loop has an observable effect
volatile double multiplier = 1.0 - 1.0 / 1048576.0;  // read at run time: no constant folding
volatile double addend = 1.0 / 1048576.0;

struct ThreadRun {
    Clock::time_point start, end;
    double flops = 0.0;
    double result = 0.0;
};

template <class T>
ThreadRun run_thread(std::atomic<std::size_t>& arrived, std::size_t threads, double seconds) {
    using S = Simd<T>;
    constexpr long block = 1L << 14;  // ~0.1 ms between clock reads
    ThreadRun r;
    // The operands are read from volatiles at every call, so no call can be skipped as a repeat.
    r.result += static_cast<double>(fma_chains<T>(T(multiplier), T(addend), block));  // warm caches and clocks
    // Line the threads up so that they overlap; give up after 2 s (fewer threads than asked).
    arrived.fetch_add(1);
    const auto give_up = Clock::now() + std::chrono::seconds(2);
    while (arrived.load() < threads && Clock::now() < give_up) std::this_thread::yield();

    r.start = Clock::now();
    const auto deadline = r.start + std::chrono::duration<double>(seconds);
    long blocks = 0;
    do {
        r.result += static_cast<double>(fma_chains<T>(T(multiplier), T(addend), block));
        ++blocks;
    } while (Clock::now() < deadline);
    r.end = Clock::now();
    r.flops = 2.0 * S::lanes * double(chain_count) * double(block) * double(blocks);
    return r;
}

// One round: every thread at once for `seconds`; returns GFLOP/s over the round's wall time.
template <class T>
double round_gflops(std::size_t threads, double seconds) {
    std::vector<ThreadRun> runs(threads);
    std::atomic<std::size_t> arrived{0};
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, threads, 1),
        [&](const tbb::blocked_range<std::size_t>& range) {
            for (std::size_t i = range.begin(); i != range.end(); ++i) runs[i] = run_thread<T>(arrived, threads, seconds);
        },
        tbb::simple_partitioner());
    auto first = runs[0].start, last = runs[0].end;
    double flops = 0.0, result = 0.0;
    for (const auto& r : runs) {
        first = std::min(first, r.start);
        last = std::max(last, r.end);
        flops += r.flops;
        result += r.result;
    }
    sink = sink + result;
    return flops / std::chrono::duration<double>(last - first).count() * 1e-9;
}

// The best of a few short rounds: on a shared machine another process may hold a core for part
// of the time, and the peak is what the hardware does when it is not interrupted.
template <class T>
FmaPeak measure(std::size_t threads, double seconds) {
    threads = std::max<std::size_t>(threads, 1);
    constexpr int rounds = 5;
    const auto start = Clock::now();
    double best = 0.0;
    for (int i = 0; i < rounds; ++i) best = std::max(best, round_gflops<T>(threads, seconds / rounds));
    FmaPeak p;
    p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    p.gflops = best;
    p.threads = threads;
    p.isa = isa_name;
    p.lanes = Simd<T>::lanes;
    p.accumulators = chain_count;
    return p;
}

}  // namespace

FmaPeak measure_fma_peak(bool single, std::size_t threads, double seconds) {
    return single ? measure<float>(threads, seconds) : measure<double>(threads, seconds);
}

}  // namespace mdlab::cli
