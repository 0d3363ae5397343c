// report.html: one self-contained page (inline CSS and SVG; no scripts, links, fonts or other
// files) showing a run: its axes, the comparison plots (each metric value against each swept
// axis, one line per alternative, with its table), generated samples over the training data in
// a grid, the declared rate fits on log-log axes, the declared comparisons and the summary.
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/rate_fit.hpp"
#include "mdlab/runtime/run_record.hpp"
#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

struct ReportLimits {
    std::size_t panels = 36;         // sample panels (first seed only)
    std::size_t points = 1500;       // points drawn per layer of a panel (deterministic stride)
    std::size_t rate_plots = 48;
    std::size_t comparison_plots = 60;
};

// Reads the sample and sampler point files of the run; a missing or unreadable file gives a
// note on the page instead of a panel.
std::string report_html(const RunRecord& run, const std::vector<SummaryRow>& summary,
                        const std::vector<RateFit>& fits, const ReportLimits& limits = {},
                        const std::string& comparisons = {});

}  // namespace mdlab::runtime
