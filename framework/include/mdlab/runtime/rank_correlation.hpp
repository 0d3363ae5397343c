// Rank correlations across a family of cells (the pipeline's "correlations"): Spearman's rho of
// each declared x with y, a percentile bootstrap interval over cells, and for every x after the
// first the difference rho(x, y) - rho(x_0, y) with a paired bootstrap interval (the same
// resamples for both), which says whether one error measure tracks y better than another.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mdlab/runtime/run_record.hpp"

namespace mdlab::runtime {

// Spearman's rho: the Pearson correlation of the ranks (ties get their mean rank). NaN when
// there are fewer than 3 pairs or either side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

struct Correlation {
    std::string x, y;     // metrics; for a difference row x is the later measure, base the first
    std::string base;     // empty for a plain correlation
    std::string where;    // "key=value, ..." of the selection
    std::string status;   // ok | unknown_metric | too_few_cells
    std::string reason;
    std::size_t n = 0, resamples = 0;  // cells used; resamples with a defined rho
    double rho, ci_low, ci_high, level;  // rho is the difference for a difference row
};

// Every declared correlation of the run, in declaration order.
std::vector<Correlation> rank_correlations(const RunRecord& run);

// Percentile bootstrap of statistics of resampled index sets: `stats` maps indices to one value
// per statistic; returns the (1 - level) / 2 and (1 + level) / 2 quantiles of each (NaN
// resamples skipped) and the number of resamples used per statistic. Deterministic: the
// resamples come from mdlab::Rng(seed).
struct BootstrapInterval {
    double low, high;
    std::size_t used;
};
std::vector<BootstrapInterval> bootstrap(std::size_t n, std::size_t resamples, double level, std::uint64_t seed,
                                         std::size_t statistics,
                                         const std::function<void(const std::vector<std::size_t>&, double*)>& stats);

std::string correlations_csv(const std::vector<Correlation>& rows);
std::string correlations_text(const std::vector<Correlation>& rows);  // empty when none
std::string correlations_html(const std::vector<Correlation>& rows);  // empty when none

}  // namespace mdlab::runtime
