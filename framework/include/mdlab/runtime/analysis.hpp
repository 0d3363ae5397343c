// The analysis of a finished run folder: summary.csv (over seeds), rates.csv (rate fits) and
// report.html, written next to results.json by `mdlab run` and again by `mdlab report`.
#pragma once
#include <filesystem>
#include <vector>

#include "mdlab/runtime/rate_fit.hpp"
#include "mdlab/runtime/run_record.hpp"
#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

struct Analysis {
    RunRecord run;
    std::vector<SummaryRow> summary;
    std::vector<RateFit> rates;
};

// Loads the run folder and computes the summary and the fits; throws BadInput when the
// folder is not a run folder.
Analysis analyse_run(const std::filesystem::path& run_dir);

// analyse_run, then writes summary.csv, rates.csv and report.html into the folder, each
// atomically. Returns the analysis (for the terminal's rates text).
Analysis write_analysis(const std::filesystem::path& run_dir);

}  // namespace mdlab::runtime
