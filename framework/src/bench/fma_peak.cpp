// The FMA peak of the active instruction-set path (mdlab/isa.hpp): every thread of the arena
// runs the path's FMA chain loop (sdk/src/kernels/fma_chains_isa.cpp, which says how the loop
// is kept honest) at once.
//
// - Every thread of the arena runs the loop at once (a spinning barrier lines them up), and the
//   rate is the total flop count over the wall time from the first start to the last finish;
//   the result is the best of 5 such rounds (the machine may be shared).
// - b = 1 - 2^-20 and c = 2^-20, read from volatiles at every call: every chain converges to 1
//   and never overflows or goes subnormal, and nothing is a compile-time constant.
// Flops: 2 per FMA lane (one multiply, one add).
#include "mdlab/runtime/bench_fma_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <mdlab/kernels/detail/fma_chains.hpp>

namespace mdlab::runtime {

namespace {

using Clock = std::chrono::steady_clock;

volatile double sink = 0.0;           // the chains' results end here: the loop has an observable effect
volatile double multiplier = 1.0 - 1.0 / 1048576.0;  // read at run time: no constant folding
volatile double addend = 1.0 / 1048576.0;

struct ThreadRun {
    Clock::time_point start, end;
    double flops = 0.0;
    double result = 0.0;
};

ThreadRun run_thread(bool f32, std::atomic<std::size_t>& arrived, std::size_t threads, double seconds) {
    constexpr long block = 1L << 14;  // ~0.1 ms between clock reads
    ThreadRun r;
    // The operands are read from volatiles at every call, so no call can be skipped as a repeat.
    const kernels::FmaChainRun warm = kernels::fma_chains(f32, multiplier, addend, block);  // warm caches and clocks
    r.result += warm.sum;
    // Line the threads up so that they overlap; give up after 2 s (fewer threads than asked).
    arrived.fetch_add(1);
    const auto give_up = Clock::now() + std::chrono::seconds(2);
    while (arrived.load() < threads && Clock::now() < give_up) std::this_thread::yield();

    r.start = Clock::now();
    const auto deadline = r.start + std::chrono::duration<double>(seconds);
    long blocks = 0;
    do {
        r.result += kernels::fma_chains(f32, multiplier, addend, block).sum;
        ++blocks;
    } while (Clock::now() < deadline);
    r.end = Clock::now();
    r.flops = 2.0 * warm.lanes * double(warm.chains) * double(block) * double(blocks);
    return r;
}

// One round: every thread at once for `seconds`; returns GFLOP/s over the round's wall time.
double round_gflops(bool f32, std::size_t threads, double seconds) {
    std::vector<ThreadRun> runs(threads);
    std::atomic<std::size_t> arrived{0};
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, threads, 1),
        [&](const tbb::blocked_range<std::size_t>& range) {
            for (std::size_t i = range.begin(); i != range.end(); ++i) runs[i] = run_thread(f32, arrived, threads, seconds);
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
FmaPeak measure(bool f32, std::size_t threads, double seconds) {
    threads = std::max<std::size_t>(threads, 1);
    constexpr int rounds = 5;
    const auto start = Clock::now();
    double best = 0.0;
    for (int i = 0; i < rounds; ++i) best = std::max(best, round_gflops(f32, threads, seconds / rounds));
    FmaPeak p;
    p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    p.gflops = best;
    p.threads = threads;
    const kernels::FmaChainRun shape = kernels::fma_chains(f32, multiplier, addend, 1);
    p.isa = isa::name(shape.path);
    p.lanes = shape.lanes;
    p.accumulators = shape.chains;
    return p;
}

}  // namespace

FmaPeak measure_fma_peak(bool single, std::size_t threads, double seconds) {
    return measure(single, threads, seconds);
}

}  // namespace mdlab::runtime
