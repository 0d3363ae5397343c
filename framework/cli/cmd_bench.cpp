// mdlab bench score / mdlab bench run / mdlab bench peak: the options applied (the thread limit)
// and the figures printed. What is measured, and how, is the runtime's bench
// (mdlab/runtime/bench.hpp, framework/src/bench/).
#include <iostream>

#include "commands.hpp"
#include "mdlab/runtime/bench_report.hpp"

namespace mdlab::cli {

int bench_peak(const BenchPeakArgs& args) {
    const ThreadLimit limit(args.threads);
    const runtime::PeakBenchFigures f = runtime::measure_bench_peak(args.seconds);
    std::cout << (args.json ? runtime::bench_peak_json(f) : runtime::bench_peak_text(f));
    return 0;
}

int bench_score(const BenchScoreArgs& args, const runtime::Registry& registry) {
    const ThreadLimit limit(args.threads);
    const runtime::ScoreBenchFigures f = runtime::measure_bench_score(args, args, registry);
    std::cout << (args.json ? runtime::bench_score_json(f) : runtime::bench_score_text(f));
    return 0;
}

int bench_run(const BenchRunArgs& args, const runtime::Registry& registry) {
    const ThreadLimit limit(args.threads);
    const runtime::RunBenchFigures f = runtime::measure_bench_run(args, args, registry);
    std::cout << (args.json ? runtime::bench_run_json(f) : runtime::bench_run_text(f));
    return 0;
}

}  // namespace mdlab::cli
