// The figures of mdlab bench (bench.hpp) as the command prints them: text for a reader, or one
// JSON object, pretty-printed, with the keys docs/benchmarks.md describes.
#pragma once
#include <string>

#include "mdlab/runtime/bench.hpp"

namespace mdlab::runtime {

std::string bench_score_text(const ScoreBenchFigures& f);
std::string bench_score_json(const ScoreBenchFigures& f);
std::string bench_run_text(const RunBenchFigures& f);
std::string bench_run_json(const RunBenchFigures& f);
std::string bench_peak_text(const PeakBenchFigures& f);
std::string bench_peak_json(const PeakBenchFigures& f);

}  // namespace mdlab::runtime
