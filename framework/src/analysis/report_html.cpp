#include "mdlab/runtime/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/svg_plot.hpp"
#include "report_sections.hpp"

namespace mdlab::runtime {

namespace {

const char* const style = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1300px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
.panels { display: flex; flex-wrap: wrap; gap: 14px; }
.grid { overflow-x: auto; } table.samples td, table.samples th { border: none; padding: 2px; background: none; }
table.samples th { vertical-align: middle; } table.samples svg[data-plot="samples"] { width: 210px; height: 210px; }
figure.comparison { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: flex-start; margin-bottom: 22px; }
table.comparison { font-size: 12px; margin-top: 30px; } table.comparison td { white-space: nowrap; }
figure { margin: 0; } figcaption { font-size: 12px; max-width: 300px; }
svg text { font-size: 11px; font-family: sans-serif; fill: #222; }
.note { color: #666; font-size: 13px; }
)";


std::string section_axes(const RunRecord& run) {
    std::string out = "<h2>Sweep</h2>\n";
    if (run.axes.empty()) return out + "<p class=\"note\">One cell, no sweep.</p>\n";
    out += "<table><tr><th class=\"text\">key</th><th class=\"text\">type</th><th class=\"text\">values</th></tr>\n";
    for (const auto& a : run.axes) {
        std::string values;
        for (const auto& v : a.values) values += (values.empty() ? "" : ", ") + plain_text(v);
        std::string type = a.type + (a.group >= 0 ? fmt::format(" (group {})", a.group) : "");
        out += "<tr><td class=\"text\">" + html_escape(a.key) + "</td><td class=\"text\">" + html_escape(type) +
               "</td><td class=\"text\">" + html_escape(values) + "</td></tr>\n";
    }
    return out + "</table>\n";
}

std::string slope_text(const RateFit& f) {
    if (!f.ok()) return "no fit (" + f.status + ")";
    return fmt::format("slope {:.3g} \u00b1 {:.2g}", f.fit.slope, (f.fit.ci_high - f.fit.ci_low) / 2);
}

std::string rate_plot(const std::vector<const RateFit*>& fits) {
    std::vector<LogLogSeries> series;
    double log_x = 0, log_y = 0;
    std::size_t count = 0;
    for (std::size_t k = 0; k < fits.size(); ++k) {
        const RateFit& f = *fits[k];
        LogLogSeries s;
        const std::string group = group_text(f);
        s.label = (group.empty() ? f.metric() : group) + ": " + slope_text(f) + (f.ok() ? " (95% CI)" : "");
        s.color = plot_colour(k);
        s.x = f.x;
        s.y = f.y;
        std::map<double, std::pair<double, std::size_t>> by_x;  // mean over seeds at each x
        for (std::size_t i = 0; i < f.x.size(); ++i) {
            by_x[f.x[i]].first += f.y[i];
            ++by_x[f.x[i]].second;
            if (f.x[i] > 0 && f.y[i] > 0) log_x += std::log(f.x[i]), log_y += std::log(f.y[i]), ++count;
        }
        for (const auto& [x, sum] : by_x) s.mean_x.push_back(x), s.mean_y.push_back(sum.first / sum.second);
        s.has_line = f.ok();
        s.slope = f.fit.slope;
        s.intercept = f.fit.intercept;
        series.push_back(std::move(s));
    }
    // Reference exponents as guides through the centroid of the data (in log space).
    std::vector<GuideLine> guides;
    if (count)
        for (const auto& [name, exponent] : fits.front()->reference)
            guides.push_back({"reference " + name + ": slope " + tick_label(exponent), exponent,
                              std::exp(log_x / count), std::exp(log_y / count)});
    const RateFit& first = *fits.front();
    return loglog_svg(first.metric() + " vs " + first.over, first.over, first.metric(), series, guides);
}

std::string rates_table(const std::vector<RateFit>& fits) {
    std::string out = "<table><tr><th class=\"text\">metric</th><th class=\"text\">over</th><th class=\"text\">group</th>"
                      "<th class=\"text\">status</th><th>n</th><th>slope</th><th>95% CI</th><th>r&sup2;</th>"
                      "<th class=\"text\">reference</th><th class=\"text\">note</th></tr>\n";
    for (const RateFit& f : fits) {
        std::string reference;
        for (const auto& [name, e] : f.reference) reference += (reference.empty() ? "" : ", ") + name + " " + tick_label(e);
        const bool ok = f.ok();
        out += "<tr><td class=\"text\">" + html_escape(f.metric()) + "</td><td class=\"text\">" + html_escape(f.over) +
               "</td><td class=\"text\">" + html_escape(group_text(f)) + "</td><td class=\"text\">" +
               html_escape(f.status) + "</td><td>" + std::to_string(f.x.size()) +
               "</td><td>" + (ok ? html_number(f.fit.slope) : "") + "</td><td>" +
               (ok ? "[" + html_number(f.fit.ci_low) + ", " + html_number(f.fit.ci_high) + "]" : "") + "</td><td>" +
               (ok ? html_number(f.fit.r2) : "") + "</td><td class=\"text\">" + html_escape(reference) +
               "</td><td class=\"text\">" + html_escape(f.reason) + "</td></tr>\n";
    }
    return out + "</table>\n";
}

std::string section_rates(const RunRecord& run, const std::vector<RateFit>& fits, const ReportLimits& limits) {
    std::string out = "<h2>Rates</h2>\n";
    if (fits.empty())
        return out + "<p class=\"note\">No rate fits: " +
               (run.rates.empty() ? "none declared (the pipeline's \"rates\" section; nothing is fitted "
                                    "automatically)."
                                  : "none of the declared rates could be fitted.") +
               "</p>\n";
    out += "<p class=\"note\">Slope of log(metric) against log(parameter) by least squares over every seed's "
           "point, with a 95% Student-t interval. Small dots: single seeds; large dots: means over seeds; dashed: reference exponents through the "
           "centroid of the data.</p>\n";
    // One plot per metric and parameter, one series per group of the other axes.
    std::vector<std::vector<const RateFit*>> plots;
    for (const RateFit& f : fits) {
        if (f.x.empty()) continue;
        auto p = std::find_if(plots.begin(), plots.end(), [&](const auto& pl) {
            return pl.front()->node == f.node && pl.front()->value == f.value && pl.front()->over == f.over;
        });
        if (p == plots.end()) plots.push_back({&f});
        else p->push_back(&f);
    }
    if (plots.size() > limits.rate_plots)
        out += fmt::format("<p class=\"note\">Showing the first {} of {} rate plots; the table lists every fit.</p>\n",
                           limits.rate_plots, plots.size());
    out += "<div class=\"panels\">\n";
    for (std::size_t i = 0; i < plots.size() && i < limits.rate_plots; ++i)
        out += "<figure>\n" + rate_plot(plots[i]) + "</figure>\n";
    return out + "</div>\n" + rates_table(fits);
}

std::string section_summary(const RunRecord& run, const std::vector<SummaryRow>& summary) {
    std::string out = "<h2>Summary over seeds</h2>\n";
    if (summary.empty()) return out + "<p class=\"note\">No metric values.</p>\n";
    out += "<p class=\"note\">Mean &plusmn; half-width of the 95% Student-t interval over the seeds of each group "
           "(n: seeds with a finite value).</p>\n";
    for (const SummaryTable& t : summary_tables(run, summary)) {
        std::string plugins;
        for (const auto& p : t.plugins) plugins += (plugins.empty() ? "" : ", ") + p;
        out += "<h3>" + html_escape(t.node) + " (" + html_escape(plugins) + ")</h3>\n<table><tr>";
        for (const auto& a : t.axes) out += "<th class=\"text\">" + html_escape(a) + "</th>";
        out += "<th>n</th>";
        for (const auto& v : t.values) out += "<th>" + html_escape(v) + "</th>";
        out += "</tr>\n";
        for (const auto& r : t.rows) {
            out += "<tr>";
            for (const auto& v : r.axes) out += "<td class=\"text\">" + html_escape(v) + "</td>";
            out += "<td>" + std::to_string(r.n) + "</td>";
            for (const auto& s : r.stats) out += "<td>" + mean_and_half_width(s, "&plusmn;") + "</td>";
            out += "</tr>\n";
        }
        out += "</table>\n";
    }
    return out;
}

}  // namespace

std::string html_number(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : "&ndash;"; }

std::string report_html(const RunRecord& run, const std::vector<SummaryRow>& summary, const std::vector<RateFit>& fits,
                        const ReportLimits& limits, const std::string& comparisons) {
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>mdlab: " +
                      html_escape(run.name) + "</title>\n<style>" + style + "</style>\n</head>\n<body>\n";
    out += "<h1>" + html_escape(run.name) + "</h1>\n";
    if (!run.description.empty()) out += "<p>" + html_escape(run.description) + "</p>\n";
    std::size_t failed = 0;
    for (const auto& c : run.cells)
        for (const auto& n : c.nodes) failed += n.status == "failed";
    out += "<p class=\"note\">Run status: <b>" + html_escape(run.status.empty() ? "unknown" : run.status) + "</b> &middot; " +
           fmt::format("{} cell{}", run.cells.size(), run.cells.size() == 1 ? "" : "s") +
           (failed ? fmt::format(" &middot; {} failed node{}", failed, failed == 1 ? "" : "s") : "") +
           " &middot; files: results.csv, results.json, summary.csv, rates.csv, cells/</p>\n";
    out += section_axes(run) + comparisons_section(comparison_view(run, summary), limits) +
           samples_section(run, limits) + section_rates(run, fits, limits) + comparisons + section_summary(run, summary);
    return out + "</body>\n</html>\n";
}

}  // namespace mdlab::runtime
