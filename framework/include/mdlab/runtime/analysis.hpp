// The analysis of a finished run folder: summary.csv (over seeds), rates.csv (rate fits),
// correlations.csv and equivalence.csv (when declared) and report.html, written next to results.json by `mdlab run` and again by `mdlab report`.
#pragma once
#include <filesystem>
#include <vector>

#include "mdlab/runtime/equivalence_test.hpp"
#include "mdlab/runtime/rank_correlation.hpp"
#include "mdlab/runtime/rate_fit.hpp"
#include "mdlab/runtime/run_record.hpp"
#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

struct Analysis {
    RunRecord run;
    std::vector<SummaryRow> summary;
    std::vector<RateFit> rates;
    std::vector<Correlation> correlations;
    std::vector<Equivalence> equivalence;
};

// Loads the run folder and computes the summary and the fits; throws BadInput when the
// folder is not a run folder.
Analysis analyse_run(const std::filesystem::path& run_dir);

// analyse_run, then writes summary.csv, rates.csv and report.html into the folder, each
// atomically. Returns the analysis (for the terminal's rates text).
// analysis_text: the rates, correlations and equivalence texts for the terminal.
std::string analysis_text(const Analysis& a);
Analysis write_analysis(const std::filesystem::path& run_dir);

}  // namespace mdlab::runtime
