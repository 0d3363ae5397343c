#include "mdlab/runtime/comparison.hpp"

#include <algorithm>
#include <cmath>

#include "mdlab/runtime/results.hpp"

namespace mdlab::runtime {

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

std::string text_of(const SummaryRow& r, const std::string& key) {
    for (const auto& [k, v] : r.axes)
        if (k == key) return v;
    return {};
}

Pairs part_of(const SummaryRow& r, const std::vector<std::string>& keys) {
    Pairs out;
    for (const auto& k : keys) out.emplace_back(k, text_of(r, k));
    return out;
}

std::vector<std::string> alternatives_keys(const RunRecord& run) {
    std::vector<std::string> keys;
    for (const auto& a : run.axes)
        if (a.type == "alternatives") keys.push_back(a.key);
    return keys;
}

std::string line_label(const Pairs& values, const RunRecord& run) {
    if (values.size() == 1) {
        const RunAxis* a = run.axis(values.front().first);
        if (a && a->type == "alternatives") return values.front().second;  // the variant's label says it all
    }
    std::string out;
    for (const auto& [k, v] : values) out += (out.empty() ? "" : ", ") + k + "=" + v;
    return out;
}

bool all_numbers(const std::vector<boost::json::value>& values) {
    return !values.empty() && std::all_of(values.begin(), values.end(), [](const auto& v) { return is_number(v); });
}

// Auto y scale: log when every mean is positive and they span two decades or more.
bool y_log_auto(const ComparisonPlot& p) {
    double lo = INFINITY, hi = 0;
    auto take = [&](const std::vector<ComparisonPoint>& points) {
        for (const auto& pt : points)
            if (std::isfinite(pt.stats.mean)) lo = std::min(lo, pt.stats.mean), hi = std::max(hi, pt.stats.mean);
    };
    for (const auto& l : p.lines) take(l.points);
    take(p.baseline);
    return lo > 0 && hi >= 100 * lo;
}

// Adds a point to the plot's line `label` (made on first use, in order of appearance).
void add_point(ComparisonPlot& plot, const std::string& label, const ComparisonPoint& point) {
    auto line = std::find_if(plot.lines.begin(), plot.lines.end(), [&](const auto& l) { return l.label == label; });
    if (line == plot.lines.end()) line = plot.lines.insert(plot.lines.end(), ComparisonLine{label, {}});
    line->points.push_back(point);
}

// The lines' baselines at each x (in the order of x_values), merged into one reference: the mean
// of their means, the interval from the lowest ci_low to the highest ci_high.
std::vector<ComparisonPoint> merged_baselines(const std::vector<ComparisonPoint>& baselines,
                                              const std::vector<std::string>& x_values) {
    std::vector<ComparisonPoint> merged;
    for (const std::string& x : x_values) {
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        std::size_t lines = 0, n = 0;
        ComparisonPoint m;
        for (const auto& b : baselines) {
            if (b.x_text != x || !std::isfinite(b.stats.mean)) continue;
            m = b;
            sum += b.stats.mean, ++lines, n = std::max(n, b.stats.n);
            if (std::isfinite(b.stats.ci_low)) lo = std::min(lo, b.stats.ci_low), hi = std::max(hi, b.stats.ci_high);
        }
        if (!lines) continue;
        m.stats = SampleStats{n, sum / static_cast<double>(lines), NAN, std::isfinite(lo) ? lo : NAN,
                              std::isfinite(hi) ? hi : NAN};
        merged.push_back(m);
    }
    return merged;
}

struct PlotSpec {
    std::string node, value, x;
    std::vector<std::string> line_keys;
    std::string x_scale = "auto", y_scale = "auto";
    bool declared = false;
};

// One plot per combination of the facet axes; rows are the summary rows of the node.
std::vector<ComparisonPlot> plots_for(const RunRecord& run, const std::vector<SummaryRow>& summary, const PlotSpec& spec) {
    const RunAxis* x_axis = run.axis(spec.x);
    if (!x_axis) return {};
    const std::vector<std::string> x_keys = run.axis_keys(spec.x);
    std::vector<std::string> excluded = x_keys;
    for (const auto& k : spec.line_keys)
        for (const auto& partner : run.axis_keys(k)) excluded.push_back(partner);
    std::vector<std::string> facet_keys;
    for (const auto& k : non_seed_axes(run))
        if (!contains(excluded, k)) facet_keys.push_back(k);

    ComparisonPlot base;
    base.node = spec.node;
    base.value = spec.value;
    base.x = spec.x;
    base.x_partners.assign(x_keys.begin() + 1, x_keys.end());
    for (const auto& v : x_axis->values) base.x_values.push_back(plain_text(v));
    base.x_numeric = all_numbers(x_axis->values);
    base.line_keys = spec.line_keys;
    base.declared = spec.declared;
    std::vector<double> numbers;
    if (base.x_numeric)
        for (const auto& v : x_axis->values) numbers.push_back(number_of(v));
    base.x_log = spec.x_scale == "log" || (spec.x_scale == "auto" && base.x_numeric && log_spaced(numbers));
    for (std::size_t i = 0; i < base.x_values.size(); ++i)
        base.x_positions.push_back(base.x_numeric ? numbers[i] : static_cast<double>(i));

    const std::string baseline_value = "baseline_" + spec.value;
    std::vector<ComparisonPlot> plots;
    for (const SummaryRow& r : summary) {
        const bool own = r.value == spec.value, reference = r.value == baseline_value;
        if (r.node != spec.node || !(own || reference)) continue;
        const Pairs facet = part_of(r, facet_keys);
        auto plot = std::find_if(plots.begin(), plots.end(), [&](const ComparisonPlot& p) { return p.facet == facet; });
        if (plot == plots.end()) {
            plot = plots.insert(plots.end(), base);
            plot->facet = facet;
        }
        const auto at = std::find(base.x_values.begin(), base.x_values.end(), text_of(r, spec.x));
        if (at == base.x_values.end()) continue;
        const std::size_t i = static_cast<std::size_t>(at - base.x_values.begin());
        const ComparisonPoint point{*at, base.x_positions[i], r.stats};
        if (reference) {
            plot->baseline_value = baseline_value;
            plot->baseline.push_back(point);  // one per line and x for now; merged below
            continue;
        }
        add_point(*plot, line_label(part_of(r, spec.line_keys), run), point);
    }
    const auto by_x = [&](const ComparisonPoint& a, const ComparisonPoint& b) {
        return std::find(base.x_values.begin(), base.x_values.end(), a.x_text) <
               std::find(base.x_values.begin(), base.x_values.end(), b.x_text);
    };
    for (ComparisonPlot& p : plots) {
        for (auto& l : p.lines) std::stable_sort(l.points.begin(), l.points.end(), by_x);
        p.baseline = merged_baselines(p.baseline, base.x_values);
        p.y_log = spec.y_scale == "log" || (spec.y_scale == "auto" && y_log_auto(p));
    }
    plots.erase(std::remove_if(plots.begin(), plots.end(), [](const ComparisonPlot& p) { return p.lines.empty(); }),
                plots.end());
    return plots;
}

// A plot whose x is a measured value ("gen.nfe"): every configuration's point sits at the mean of
// that value over its seeds, and every non-seed axis that is not a line moves along the lines
// (W2 against NFE, a line per sampler, the step counts along it). One plot, no facets.
std::vector<ComparisonPlot> plots_over_measured(const RunRecord& run, const std::vector<SummaryRow>& summary,
                                                const PlotSpec& spec) {
    const auto [x_node, x_value] = split_metric(spec.x);
    std::vector<std::pair<Pairs, double>> x_at;  // configuration -> mean of x
    for (const SummaryRow& r : summary)
        if (r.node == x_node && r.value == x_value && std::isfinite(r.stats.mean)) x_at.emplace_back(r.axes, r.stats.mean);
    ComparisonPlot plot;
    plot.node = spec.node;
    plot.value = spec.value;
    plot.x = spec.x;
    plot.x_numeric = true;
    plot.line_keys = spec.line_keys;
    plot.declared = spec.declared;
    const std::string baseline_value = "baseline_" + spec.value;
    std::vector<double> xs;
    for (const SummaryRow& r : summary) {
        const bool own = r.value == spec.value, reference = r.value == baseline_value;
        if (r.node != spec.node || !(own || reference)) continue;
        const Pairs axes = r.axes;
        const auto x = std::find_if(x_at.begin(), x_at.end(), [&](const auto& e) { return e.first == axes; });
        if (x == x_at.end()) continue;
        const ComparisonPoint point{csv_number(x->second), x->second, r.stats};
        if (reference) {
            plot.baseline_value = baseline_value;
            plot.baseline.push_back(point);
            continue;
        }
        xs.push_back(x->second);
        add_point(plot, line_label(part_of(r, spec.line_keys), run), point);
    }
    if (plot.lines.empty()) return {};
    const auto by_x = [](const ComparisonPoint& a, const ComparisonPoint& b) { return a.x < b.x; };
    // A node that does not depend on an axis moving along the line (rk45 beside the alternatives
    // of another sampler) repeats its point once per value of that axis: one is kept.
    const auto same = [](const ComparisonPoint& a, const ComparisonPoint& b) {
        const auto eq = [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); };
        return a.x == b.x && a.stats.n == b.stats.n && eq(a.stats.mean, b.stats.mean) && eq(a.stats.se, b.stats.se);
    };
    for (auto& l : plot.lines) {
        std::stable_sort(l.points.begin(), l.points.end(), by_x);
        l.points.erase(std::unique(l.points.begin(), l.points.end(), same), l.points.end());
    }
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    for (double x : xs) {
        plot.x_values.push_back(csv_number(x));
        plot.x_positions.push_back(x);
    }
    plot.x_log = spec.x_scale == "log" || (spec.x_scale == "auto" && log_spaced(xs));
    plot.baseline = merged_baselines(plot.baseline, plot.x_values);
    plot.y_log = spec.y_scale == "log" || (spec.y_scale == "auto" && y_log_auto(plot));
    return {plot};
}

// The same finite number in every cell that reports it (NaN when it varies or never appears).
double constant_value(const RunRecord& run, const std::string& node, const std::string& value) {
    double seen = NAN;
    for (const RunCell& cell : run.cells)
        if (const RunNode* n = cell.node(node))
            for (const auto& [k, v] : n->values) {
                if (k != value || !std::isfinite(v)) continue;
                if (std::isnan(seen)) seen = v;
                else if (v != seen) return NAN;
            }
    return seen;
}

// The summary with the cost columns that repeat run to run (a sampler's nfe; not the wall times,
// which would make the page differ between runs) as values of their node: a comparison then
// shows what each alternative spent. Columns the summary already has (a run of samplers only)
// are not added twice.
std::vector<SummaryRow> with_costs(const RunRecord& run, std::vector<SummaryRow> summary) {
    const std::vector<std::string> keys = non_seed_axes(run);
    const auto has = [&](const std::string& node, const std::string& value) {
        return std::any_of(summary.begin(), summary.end(), [&](const SummaryRow& r) { return r.node == node && r.value == value; });
    };
    std::vector<SummaryRow> costs;
    std::vector<std::vector<double>> samples;  // by row of `costs`
    for (const RunCell& cell : run.cells) {
        Pairs axes;
        for (const auto& k : keys) axes.emplace_back(k, axis_text(cell, k));
        for (const auto& [column, v] : cell.cost) {
            // Named copies, not a structured binding: clang 14 (the fuzz build) cannot capture one.
            const auto split = split_metric(column);
            const std::string& node = split.first;
            const std::string& value = split.second;
            if (node.empty() || value.find("wall_s") != std::string::npos || has(node, value)) continue;
            auto row = std::find_if(costs.begin(), costs.end(), [&](const SummaryRow& r) {
                return r.axes == axes && r.node == node && r.value == value;
            });
            if (row == costs.end()) {
                row = costs.insert(costs.end(), SummaryRow{axes, node, {}, value, {}, {}});
                samples.emplace_back();
            }
            samples[static_cast<std::size_t>(row - costs.begin())].push_back(v);
        }
    }
    for (std::size_t i = 0; i < costs.size(); ++i) costs[i].stats = sample_stats(samples[i]);
    summary.insert(summary.end(), costs.begin(), costs.end());
    return summary;
}

}  // namespace

bool log_spaced(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() < 2 || !(values.front() > 0) || !std::isfinite(values.back())) return false;
    const double ratio = values.back() / values.front();
    if (values.size() == 2) return ratio >= 100;
    if (ratio < 4) return false;
    // Spread of the gaps relative to their mean, in linear and in log units.
    const auto spread = [](const std::vector<double>& v) {
        std::vector<double> gaps;
        for (std::size_t i = 1; i < v.size(); ++i) gaps.push_back(v[i] - v[i - 1]);
        double mean = 0, squares = 0;
        for (double g : gaps) mean += g;
        mean /= static_cast<double>(gaps.size());
        for (double g : gaps) squares += (g - mean) * (g - mean);
        return std::sqrt(squares / static_cast<double>(gaps.size())) / mean;
    };
    std::vector<double> logs;
    for (double v : values) logs.push_back(std::log(v));
    return spread(logs) <= spread(values);
}

ComparisonView comparison_view(const RunRecord& run, const std::vector<SummaryRow>& metric_summary) {
    const std::vector<SummaryRow> summary = with_costs(run, metric_summary);
    ComparisonView view;
    std::vector<std::pair<std::string, std::string>> values;  // node, value in order of first appearance
    for (const SummaryRow& r : summary)
        if (std::find(values.begin(), values.end(), std::make_pair(r.node, r.value)) == values.end())
            values.emplace_back(r.node, r.value);
    const auto reported = [&](const std::string& node, const std::string& value) {
        return std::find(values.begin(), values.end(), std::make_pair(node, value)) != values.end();
    };
    const auto append = [&](std::vector<ComparisonPlot> plots) {
        view.plots.insert(view.plots.end(), std::make_move_iterator(plots.begin()), std::make_move_iterator(plots.end()));
    };

    for (const PlotDecl& d : run.plots)
        for (const std::string& y : d.y) {
            const auto [node, value] = split_metric(y);
            if (!reported(node, value)) {
                view.missing.push_back(y);
                continue;
            }
            PlotSpec spec{node, value, d.x, d.lines, d.x_scale, d.y_scale, true};
            if (!d.lines_declared) {
                spec.line_keys.clear();
                for (const auto& k : alternatives_keys(run))
                    if (k != d.x) spec.line_keys.push_back(k);
            }
            const bool measured = !run.axis(d.x);  // validation allowed "<node>.<value>" only
            if (measured && !reported(split_metric(d.x).first, split_metric(d.x).second)) {
                view.missing.push_back(d.x);
                continue;
            }
            append(measured ? plots_over_measured(run, summary, spec) : plots_for(run, summary, spec));
        }

    // Default x axes: every non-seed axis but the alternatives (they are the lines), a zip group once.
    std::vector<std::string> x_axes;
    std::vector<int> groups_seen;
    for (const auto& a : run.axes) {
        if (a.type == "seed" || a.key == "seed" || a.type == "alternatives") continue;
        if (a.group >= 0) {
            if (std::find(groups_seen.begin(), groups_seen.end(), a.group) != groups_seen.end()) continue;
            groups_seen.push_back(a.group);
        }
        x_axes.push_back(a.key);
    }
    std::vector<std::vector<ComparisonPlot>> by_pair;  // per value and x axis, one plot per facet
    for (const auto& [node, value] : values) {
        if (value.rfind("baseline_", 0) == 0 && reported(node, value.substr(9))) continue;  // drawn as a reference
        const double constant = constant_value(run, node, value);
        if (std::isfinite(constant)) {
            view.constants.push_back({node, value, constant});
            continue;
        }
        for (const auto& x : x_axes) by_pair.push_back(plots_for(run, summary, {node, value, x, alternatives_keys(run)}));
    }
    // The first facet of every value and axis, then the second of each, ...: when the page shows
    // only the first plots, they cover every value and axis before repeating one for other facets.
    for (std::size_t facet = 0;; ++facet) {
        bool any = false;
        for (auto& plots : by_pair)
            if (facet < plots.size()) view.plots.push_back(std::move(plots[facet])), any = true;
        if (!any) break;
    }
    return view;
}

}  // namespace mdlab::runtime
