// The machine's floating-point peak as this program can reach it: fused multiply-adds on
// independent register accumulators, on every thread of the TBB arena at once.
#pragma once
#include <cstddef>
#include <string>

namespace mdlab::runtime {

struct FmaPeak {
    double gflops = 0.0;      // all threads together, 2 flops per FMA lane
    double seconds = 0.0;     // wall time of the measurement
    std::size_t threads = 0;  // threads that ran the loop concurrently
    std::string isa;          // the instruction-set path measured: "avx512", "avx2" or "generic"
    int lanes = 0;            // SIMD lanes per FMA instruction
    int accumulators = 0;     // independent FMA chains per thread
};

// Runs the FMA loop for about `seconds` on `threads` threads (each on its own TBB task, started
// together behind a barrier), in 5 rounds, and returns the best round's rate. `single` selects float over double.
FmaPeak measure_fma_peak(bool single, std::size_t threads, double seconds = 0.2);

}  // namespace mdlab::runtime
