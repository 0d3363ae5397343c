// bench peak: the FMA peak alone, f64 then f32, on every thread the TBB limit allows.
#include "bench_input.hpp"
#include "bench_machine.hpp"

namespace mdlab::runtime {

PeakBenchFigures measure_bench_peak(double seconds) {
    bench::check_peak_seconds(seconds, "--seconds");
    const std::size_t threads = bench::usable_threads();
    PeakBenchFigures f;
    f.f64 = measure_fma_peak(false, threads, seconds);
    f.f32 = measure_fma_peak(true, threads, seconds);
    f.seconds = seconds;
    return f;
}

}  // namespace mdlab::runtime
