#include <fmt/format.h>

#include "mdlab/runtime/svg_plot.hpp"
#include "report_sections.hpp"

namespace mdlab::runtime {

namespace {

std::string facet_text(const ComparisonPlot& p) {
    std::string out;
    for (const auto& [k, v] : p.facet) out += (out.empty() ? "" : ", ") + k + "=" + v;
    return out;
}

// Rows: the lines (and the baseline); columns: the x values; cells: mean +- half-width, n on hover.
std::string comparison_table(const ComparisonPlot& p) {
    std::string corner;
    for (const auto& k : p.line_keys) corner += (corner.empty() ? "" : ", ") + k;
    std::string out = "<table class=\"comparison\" data-metric=\"" + html_escape(p.metric()) + "\" data-x=\"" +
                      html_escape(p.x) + "\"><tr><th class=\"text\">" +
                      html_escape((corner.empty() ? p.metric() : corner) + " \\ " + p.x) + "</th>";
    for (const auto& x : p.x_values) out += "<th>" + html_escape(x) + "</th>";
    out += "</tr>\n";
    const auto row = [&](const std::string& label, const std::string& colour, const std::vector<ComparisonPoint>& points,
                         const char* cls) {
        std::string r = std::string("<tr class=\"") + cls + "\"><td class=\"text\">" +
                        (colour.empty() ? "" : "<span style=\"color:" + colour + "\">&#9632;</span> ") +
                        html_escape(label) + "</td>";
        for (const auto& x : p.x_values) {
            const ComparisonPoint* found = nullptr;
            for (const auto& pt : points)
                if (pt.x_text == x) found = &pt;
            r += found ? "<td title=\"n = " + std::to_string(found->stats.n) + " seeds\">" +
                             mean_and_half_width(found->stats, "&plusmn;") + "</td>"
                       : "<td></td>";
        }
        return r + "</tr>\n";
    };
    for (std::size_t i = 0; i < p.lines.size(); ++i)
        out += row(p.lines[i].label.empty() ? p.metric() : p.lines[i].label, plot_colour(i), p.lines[i].points, "line");
    if (!p.baseline.empty()) out += row(p.baseline_value + " (fresh sample)", {}, p.baseline, "baseline");
    return out + "</table>\n";
}

}  // namespace

std::string comparisons_section(const ComparisonView& view, const ReportLimits& limits) {
    std::string out = "<h2>Comparisons</h2>\n";
    if (view.plots.empty() && view.missing.empty())
        return out + "<p class=\"note\">No comparison plots: the run sweeps no axis other than the seed and the "
                     "alternatives (the summary below compares them).</p>\n";
    out += "<p class=\"note\">Each metric value against each swept axis, one line per alternative: dots are the means "
           "over seeds, the shaded band their 95% Student-t interval (intervals far beyond the means are cut at the "
           "frame), the grey band with a dashed line the metric's fresh-sample baseline (what a sample of the data "
           "itself scores). Other swept axes are fixed per plot. The table beside a plot holds the same figures: "
           "mean &plusmn; half-width of the interval.</p>\n";
    if (!view.constants.empty()) {
        std::string list;
        for (const auto& c : view.constants)
            list += (list.empty() ? "" : ", ") + html_escape(c.node + "." + c.value) + " = " + html_number(c.number);
        out += "<p class=\"note\">Not plotted, the same in every cell: " + list + ".</p>\n";
    }
    if (!view.missing.empty()) {
        std::string list;
        for (const auto& m : view.missing) list += (list.empty() ? "" : ", ") + html_escape(m);
        out += "<p class=\"note\">Declared plots of values no node reported: " + list + ".</p>\n";
    }
    if (view.plots.size() > limits.comparison_plots)
        out += fmt::format("<p class=\"note\">Showing the first {} of {} comparison plots; declare the ones you want "
                           "in the pipeline's \"plots\" (they come first).</p>\n",
                           limits.comparison_plots, view.plots.size());
    out += "<div class=\"comparisons\">\n";
    for (std::size_t i = 0; i < view.plots.size() && i < limits.comparison_plots; ++i) {
        const ComparisonPlot& p = view.plots[i];
        const std::string facet = facet_text(p);
        out += "<figure class=\"comparison\">\n<div>\n" + comparison_svg(p) + "<figcaption>" +
               (p.declared ? "declared plot" : "") + (p.declared && !facet.empty() ? " &middot; " : "") +
               html_escape(facet) + "</figcaption>\n</div>\n" + comparison_table(p) + "</figure>\n";
    }
    return out + "</div>\n";
}

}  // namespace mdlab::runtime
