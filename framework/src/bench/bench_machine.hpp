// What a bench reports about the machine and the process: the threads it can use, the kernels'
// instruction-set path, the peak resident set.
#pragma once
#include <cstddef>

#include "mdlab/runtime/bench.hpp"

namespace mdlab::runtime::bench {

// Threads the benchmark can use: the global TBB limit (--threads) within the arena's slots.
std::size_t usable_threads();

// The active path (mdlab/isa.hpp), the CPU, and whether MDLAB_ISA forced the path.
KernelPath kernel_path();

// Peak resident set size of this process in MB (Linux reports ru_maxrss in kB).
double peak_rss_mb();

}  // namespace mdlab::runtime::bench
