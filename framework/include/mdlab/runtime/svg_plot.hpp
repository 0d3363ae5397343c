// Inline SVG plots for the report: a scatter panel of 2-D points and a log-log plot with
// fitted lines. Plain SVG elements only (no scripts, no external references, no url()), each
// <svg> tagged with data-plot so tests can find it.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace mdlab::runtime {

// Text for HTML and SVG: & < > " ' escaped.
std::string html_escape(const std::string& text);

struct ScatterLayer {
    std::string label;
    std::string color;  // CSS colour
    double dot = 3.0;   // dot diameter in pixels
    std::vector<std::array<double, 2>> points;
    bool robust_frame = false;  // frame only its central 99% (a few far-off points do not shrink the rest)
};

// Points of every layer, later layers on top, in one square frame with equal scales. Dots
// outside the frame, and non-finite ones, are counted in a note instead of drawn.
std::string scatter_svg(const std::vector<ScatterLayer>& layers, const std::string& x_label,
                        const std::string& y_label);

struct LogLogSeries {
    std::string label, color;
    std::vector<double> x, y;            // individual points (e.g. one per seed)
    std::vector<double> mean_x, mean_y;  // emphasised points (e.g. means over seeds)
    bool has_line = false;
    double slope = 0.0, intercept = 0.0;  // the line ln y = intercept + slope ln x
};

// A dashed guide line of the given slope through (x, y), e.g. a reference exponent.
struct GuideLine {
    std::string label;
    double slope = 0.0, x = 1.0, y = 1.0;
};

// Log-log axes with ticks at powers of ten (1-2-5 subdivisions, or evenly spaced round
// numbers when the range is short), labels, the series and guides, and a legend below.
std::string loglog_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<LogLogSeries>& series, const std::vector<GuideLine>& guides);

// Tick positions for a positive range [lo, hi]: powers of ten, or 1-2-5 times powers of ten,
// whichever first gives at least 3 in range; else multiples of a round step (2 or more ticks).
std::vector<double> log_ticks(double lo, double hi);
// Evenly spaced round numbers in [lo, hi], 1, 2 or 5 times a power of ten apart (2 to 7 of them).
std::vector<double> round_ticks(double lo, double hi);
// The i-th colour of the plots' palette (8 colours, then again).
std::string plot_colour(std::size_t i);
// The dash pattern of line i (an SVG attribute, empty for the first round of colours): lines
// that share a colour (more lines than colours) differ by their dashes.
std::string line_dash(std::size_t i);
// A tick label: 0.01, 300, 1e-05 -> "1e-5".
std::string tick_label(double v);

}  // namespace mdlab::runtime
