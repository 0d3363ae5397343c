#include "bench_machine.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>

#include <mdlab/isa.hpp>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

namespace mdlab::runtime::bench {

std::size_t usable_threads() {
    const std::size_t allowed = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
    return std::max<std::size_t>(1, std::min<std::size_t>(allowed, std::size_t(tbb::this_task_arena::max_concurrency())));
}

KernelPath kernel_path() {
    const char* env = std::getenv("MDLAB_ISA");
    const bool forced = env && *env;
    return {isa::name(isa::active()), isa::cpu_name(),
            forced ? "forced by MDLAB_ISA=" + std::string(env) : "the best this CPU runs, MDLAB_ISA unset"};
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

}  // namespace mdlab::runtime::bench
