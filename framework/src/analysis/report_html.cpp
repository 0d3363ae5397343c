#include "mdlab/runtime/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/pca.hpp"
#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/svg_plot.hpp"

namespace mdlab::runtime {

namespace {

const char* const style = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1300px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
.panels { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; } figcaption { font-size: 12px; max-width: 300px; }
svg text { font-size: 11px; font-family: sans-serif; fill: #222; }
.note { color: #666; font-size: 13px; }
)";

const std::vector<std::string> palette{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                                       "#17becf"};

std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : "&ndash;"; }

std::string cell_label(const RunCell& cell) {
    std::string out;
    for (const auto& [k, v] : cell.sweep) out += (out.empty() ? "" : ", ") + k + "=" + plain_text(v);
    return out;
}

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

// The data nodes (training sets) a node depends on, through its inputs, in the order found.
std::vector<const RunNode*> training_sets(const RunCell& cell, const RunNode& sampler) {
    std::vector<const RunNode*> found;
    std::set<std::string> seen{sampler.id};
    std::vector<const RunNode*> todo{&sampler};
    while (!todo.empty()) {
        const RunNode* n = todo.back();
        todo.pop_back();
        for (const auto& input : n->inputs) {
            const RunNode* source = cell.node(input.second);
            if (!source || !seen.insert(source->id).second) continue;
            if (source->kind == "data") found.push_back(source);
            todo.push_back(source);
        }
    }
    return found;
}

// Every stride-th finite point, at most `limit`.
std::vector<std::array<double, 2>> thinned(const std::vector<std::array<double, 2>>& points, std::size_t limit) {
    const std::size_t stride = std::max<std::size_t>(1, (points.size() + limit - 1) / limit);
    std::vector<std::array<double, 2>> out;
    for (std::size_t i = 0; i < points.size(); i += stride) out.push_back(points[i]);
    return out;
}

std::string sample_panel(const RunCell& cell, const RunNode& sampler, const ReportLimits& limits) {
    const std::string caption = "<figcaption><b>" + html_escape(sampler.id) + "</b> (" + html_escape(sampler.plugin) +
                                ") &middot; cell " + std::to_string(cell.index) +
                                (cell.sweep.empty() ? "" : " &middot; " + html_escape(cell_label(cell))) +
                                "</figcaption>\n";
    Matrix generated, train;
    std::string train_ids;
    try {
        generated = npy::read(sampler.points);
        for (const RunNode* data : training_sets(cell, sampler)) {
            Matrix m = npy::read(data->points);
            if (cols(m) != cols(generated)) continue;
            train_ids += (train_ids.empty() ? "" : "+") + data->id;
            if (rows(train) == 0) train = std::move(m);
            else train = xt::concatenate(xt::xtuple(train, m), 0);
        }
    } catch (const std::exception& e) {
        return "<figure><p class=\"note\">" + html_escape(e.what()) + "</p>" + caption + "</figure>\n";
    }
    const PrincipalPlane plane = principal_plane(rows(train) ? train : generated);
    const auto train_2d = thinned(project(train, plane), limits.points);
    const auto generated_2d = thinned(project(generated, plane), limits.points);
    std::vector<ScatterLayer> layers;
    if (rows(train))
        layers.push_back({fmt::format("{} ({} of {})", train_ids, train_2d.size(), rows(train)), "#9aa0a6", 3.5,
                          train_2d, false});
    layers.push_back({fmt::format("{} ({} of {})", sampler.id, generated_2d.size(), rows(generated)), "#d6336c", 2.5,
                      generated_2d, true});
    const std::string basis = rows(train) ? "of the training set" : "of the samples (no training set upstream)";
    return "<figure>\n" + scatter_svg(layers, "principal component 1 " + basis, "principal component 2") + caption +
           "</figure>\n";
}

std::string section_samples(const RunRecord& run, const ReportLimits& limits) {
    std::string out = "<h2>Generated samples</h2>\n";
    // First seed only: the other seeds repeat the picture with other noise.
    const RunAxis* seeds = run.axis("seed");
    const bool first_seed_only = seeds && !seeds->values.empty() && is_number(seeds->values.front());
    std::vector<std::pair<const RunCell*, const RunNode*>> panels;
    for (const RunCell& cell : run.cells) {
        if (first_seed_only && static_cast<double>(cell.seed) != number_of(seeds->values.front())) continue;
        for (const RunNode& n : cell.nodes)
            if (n.kind == "sampler" && n.status == "ok" && !n.points.empty()) panels.emplace_back(&cell, &n);
    }
    if (panels.empty()) return out + "<p class=\"note\">No sampler produced points in this run.</p>\n";
    out += "<p class=\"note\">Generated points (colour) over the training points that reached the sampler through "
           "its inputs (grey), projected on the two leading principal components of the training set";
    if (first_seed_only) out += "; seed " + plain_text(seeds->values.front()) + " only";
    if (panels.size() > limits.panels)
        out += fmt::format("; showing the first {} of {} panels", limits.panels, panels.size());
    out += ".</p>\n<div class=\"panels\">\n";
    for (std::size_t i = 0; i < panels.size() && i < limits.panels; ++i)
        out += sample_panel(*panels[i].first, *panels[i].second, limits);
    return out + "</div>\n";
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
        s.color = palette[k % palette.size()];
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
               html_escape(f.status) + (f.declared ? "" : " (auto)") + "</td><td>" + std::to_string(f.x.size()) +
               "</td><td>" + (ok ? number(f.fit.slope) : "") + "</td><td>" +
               (ok ? "[" + number(f.fit.ci_low) + ", " + number(f.fit.ci_high) + "]" : "") + "</td><td>" +
               (ok ? number(f.fit.r2) : "") + "</td><td class=\"text\">" + html_escape(reference) +
               "</td><td class=\"text\">" + html_escape(f.reason) + "</td></tr>\n";
    }
    return out + "</table>\n";
}

std::string section_rates(const RunRecord& run, const std::vector<RateFit>& fits, const ReportLimits& limits) {
    std::string out = "<h2>Rates</h2>\n";
    if (fits.empty())
        return out + "<p class=\"note\">No rate fits: " +
               (run.rates.empty() ? "no rates declared, and no metric varies over a numeric sweep key with at least "
                                    "3 positive values."
                                  : "none of the declared rates could be fitted.") +
               "</p>\n";
    out += "<p class=\"note\">Slope of log(metric) against log(parameter) by least squares over every seed's "
           "point, with a 95% Student-t interval" +
           std::string(run.rates.empty() ? "; no rates declared, so every metric value that varies over a size "
                                           "parameter is fitted" : "") +
           ". Small dots: single seeds; large dots: means over seeds; dashed: reference exponents through the "
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
    const std::vector<std::string> axes = non_seed_axes(run);
    std::vector<std::string> nodes;
    for (const auto& r : summary)
        if (std::find(nodes.begin(), nodes.end(), r.node) == nodes.end()) nodes.push_back(r.node);
    for (const auto& node : nodes) {
        std::vector<std::string> values, plugins;
        std::vector<std::vector<std::pair<std::string, std::string>>> groups;
        for (const auto& r : summary) {
            if (r.node != node) continue;
            if (std::find(values.begin(), values.end(), r.value) == values.end()) values.push_back(r.value);
            if (std::find(plugins.begin(), plugins.end(), r.plugin) == plugins.end()) plugins.push_back(r.plugin);
            if (std::find(groups.begin(), groups.end(), r.axes) == groups.end()) groups.push_back(r.axes);
        }
        std::string plugin_list;
        for (const auto& p : plugins) plugin_list += (plugin_list.empty() ? "" : ", ") + p;
        out += "<h3>" + html_escape(node) + " (" + html_escape(plugin_list) + ")</h3>\n<table><tr>";
        for (const auto& a : axes) out += "<th class=\"text\">" + html_escape(a) + "</th>";
        out += "<th>n</th>";
        for (const auto& v : values) out += "<th>" + html_escape(v) + "</th>";
        out += "</tr>\n";
        for (const auto& g : groups) {
            out += "<tr>";
            for (const auto& kv : g) out += "<td class=\"text\">" + html_escape(kv.second) + "</td>";
            std::string cells;
            std::size_t n = 0;
            for (const auto& v : values) {
                auto r = std::find_if(summary.begin(), summary.end(),
                                      [&](const SummaryRow& s) { return s.node == node && s.axes == g && s.value == v; });
                if (r == summary.end()) {
                    cells += "<td></td>";
                    continue;
                }
                n = std::max(n, r->stats.n);
                const double half = (r->stats.ci_high - r->stats.ci_low) / 2;
                cells += "<td>" + number(r->stats.mean) + (std::isfinite(half) ? " &plusmn; " + number(half) : "") + "</td>";
            }
            out += "<td>" + std::to_string(n) + "</td>" + cells + "</tr>\n";
        }
        out += "</table>\n";
    }
    return out;
}

}  // namespace

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
    out += section_axes(run) + section_samples(run, limits) + section_rates(run, fits, limits) + comparisons +
           section_summary(run, summary);
    return out + "</body>\n</html>\n";
}

}  // namespace mdlab::runtime
