// The sections of report.html that have a file of their own (report_html.cpp assembles the page).
#pragma once
#include <string>

#include "mdlab/runtime/comparison.hpp"
#include "mdlab/runtime/report_html.hpp"
#include "mdlab/runtime/run_record.hpp"

namespace mdlab::runtime {

// report_samples.cpp: the generated samples of the first seed in a grid, one row per sampler
// node and alternative, one column per combination of the other non-seed axes' values.
std::string samples_section(const RunRecord& run, const ReportLimits& limits);

// report_comparisons.cpp: the comparison plots, each with its table of mean +- half-width
// (rows: the lines, columns: the x values).
std::string comparisons_section(const ComparisonView& view, const ReportLimits& limits);

// A number for the page: 4 significant digits, a dash for NaN.
std::string html_number(double v);

}  // namespace mdlab::runtime
