#include "mdlab/runtime/summary.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "mdlab/runtime/csv_text.hpp"
#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/student_t.hpp"

namespace mdlab::runtime {

namespace {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
}

SampleStats sample_stats(const std::vector<double>& values) {
    SampleStats s{0, nan, nan, nan, nan};
    double sum = 0.0;
    for (double v : values)
        if (std::isfinite(v)) sum += v, ++s.n;
    if (s.n == 0) return s;
    s.mean = sum / static_cast<double>(s.n);
    if (s.n < 2) return s;
    double squares = 0.0;
    for (double v : values)
        if (std::isfinite(v)) squares += (v - s.mean) * (v - s.mean);
    const double n = static_cast<double>(s.n);
    s.se = std::sqrt(squares / (n - 1.0) / n);
    const double half = t95(n - 1.0) * s.se;
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
    return s;
}

std::vector<std::string> non_seed_axes(const RunRecord& run) {
    std::vector<std::string> keys;
    for (const auto& a : run.axes)
        if (a.type != "seed" && a.key != "seed") keys.push_back(a.key);
    return keys;
}

std::string axis_text(const RunCell& cell, const std::string& key) {
    const boost::json::value* v = cell.axis_value(key);
    return v ? plain_text(*v) : std::string();
}

namespace {

bool any_metric(const RunRecord& run) {
    for (const RunCell& cell : run.cells)
        for (const RunNode& node : cell.nodes)
            if (node.kind == "metric") return true;
    return false;
}

// Appends each named value to the list of its name (lists in order of first appearance).
void append_values(std::vector<std::pair<std::string, std::vector<double>>>& lists,
                   const std::vector<std::pair<std::string, double>>& values) {
    for (const auto& [value_name, value] : values) {
        const std::string& name = value_name;  // a structured binding cannot be captured in C++17
        auto v = std::find_if(lists.begin(), lists.end(), [&](const auto& x) { return x.first == name; });
        if (v == lists.end()) v = lists.insert(lists.end(), {name, {}});
        v->second.push_back(value);
    }
}

}  // namespace

std::vector<SummaryRow> summarize(const RunRecord& run) {
    const std::vector<std::string> keys = non_seed_axes(run);
    struct Series {
        std::string node, plugin;
        std::vector<std::pair<std::string, std::vector<double>>> values;
    };
    struct Group {
        std::vector<std::pair<std::string, std::string>> axes;
        std::vector<Series> series;
        std::vector<std::pair<std::string, std::vector<double>>> cost;
    };
    std::vector<Group> groups;
    const std::string row_kind = any_metric(run) ? "metric" : "sampler";
    for (const RunCell& cell : run.cells) {
        std::vector<std::pair<std::string, std::string>> axes;
        for (const auto& k : keys) axes.emplace_back(k, axis_text(cell, k));
        auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.axes == axes; });
        if (g == groups.end()) g = groups.insert(groups.end(), Group{axes, {}, {}});
        append_values(g->cost, cell.cost);
        for (const RunNode& node : cell.nodes) {
            if (node.kind != row_kind) continue;
            auto s = std::find_if(g->series.begin(), g->series.end(), [&](const Series& x) { return x.node == node.id; });
            if (s == g->series.end()) s = g->series.insert(g->series.end(), Series{node.id, node.plugin, {}});
            append_values(s->values, node.values);
        }
    }
    std::vector<SummaryRow> rows;
    for (const Group& g : groups) {
        std::vector<std::pair<std::string, double>> cost;
        for (const auto& [name, values] : g.cost) cost.emplace_back(name, sample_stats(values).mean);
        for (const Series& s : g.series)
            for (const auto& [name, values] : s.values) rows.push_back({g.axes, s.node, s.plugin, name, sample_stats(values), cost});
    }
    return rows;
}

std::string csv_number(double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); }

std::string summary_csv(const RunRecord& run, const std::vector<SummaryRow>& rows) {
    std::vector<std::string> header = non_seed_axes(run);
    for (const char* c : {"node", "plugin", "value", "n", "mean", "se", "ci_low", "ci_high"}) header.emplace_back(c);
    std::vector<std::string> cost_keys;
    for (const SummaryRow& r : rows)
        for (const auto& kv : r.cost)
            if (std::find(cost_keys.begin(), cost_keys.end(), kv.first) == cost_keys.end()) cost_keys.push_back(kv.first);
    header.insert(header.end(), cost_keys.begin(), cost_keys.end());
    std::string out = csv_line(header);
    for (const SummaryRow& r : rows) {
        std::vector<std::string> f;
        for (const auto& kv : r.axes) f.push_back(kv.second);
        f.insert(f.end(), {r.node, r.plugin, r.value, std::to_string(r.stats.n), csv_number(r.stats.mean),
                           csv_number(r.stats.se), csv_number(r.stats.ci_low), csv_number(r.stats.ci_high)});
        for (const auto& k : cost_keys) {
            auto it = std::find_if(r.cost.begin(), r.cost.end(), [&](const auto& kv) { return kv.first == k; });
            f.push_back(it == r.cost.end() ? std::string() : csv_number(it->second));
        }
        out += csv_line(f);
    }
    return out;
}

}  // namespace mdlab::runtime
