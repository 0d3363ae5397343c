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

std::vector<SummaryRow> summarize(const RunRecord& run) {
    const std::vector<std::string> keys = non_seed_axes(run);
    struct Series {
        std::string node, plugin;
        std::vector<std::pair<std::string, std::vector<double>>> values;
    };
    struct Group {
        std::vector<std::pair<std::string, std::string>> axes;
        std::vector<Series> series;
    };
    std::vector<Group> groups;
    for (const RunCell& cell : run.cells) {
        std::vector<std::pair<std::string, std::string>> axes;
        for (const auto& k : keys) axes.emplace_back(k, axis_text(cell, k));
        auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.axes == axes; });
        if (g == groups.end()) g = groups.insert(groups.end(), Group{axes, {}});
        for (const RunNode& node : cell.nodes) {
            if (node.kind != "metric") continue;
            auto s = std::find_if(g->series.begin(), g->series.end(), [&](const Series& x) { return x.node == node.id; });
            if (s == g->series.end()) s = g->series.insert(g->series.end(), Series{node.id, node.plugin, {}});
            for (const auto& [value_name, value] : node.values) {
                const std::string& name = value_name;  // a structured binding cannot be captured in C++17
                auto v = std::find_if(s->values.begin(), s->values.end(), [&](const auto& x) { return x.first == name; });
                if (v == s->values.end()) v = s->values.insert(s->values.end(), {name, {}});
                v->second.push_back(value);
            }
        }
    }
    std::vector<SummaryRow> rows;
    for (const Group& g : groups)
        for (const Series& s : g.series)
            for (const auto& [name, values] : s.values) rows.push_back({g.axes, s.node, s.plugin, name, sample_stats(values)});
    return rows;
}

std::string csv_number(double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); }

std::string summary_csv(const RunRecord& run, const std::vector<SummaryRow>& rows) {
    std::vector<std::string> header = non_seed_axes(run);
    for (const char* c : {"node", "plugin", "value", "n", "mean", "se", "ci_low", "ci_high"}) header.emplace_back(c);
    std::string out = csv_line(header);
    for (const SummaryRow& r : rows) {
        std::vector<std::string> f;
        for (const auto& kv : r.axes) f.push_back(kv.second);
        f.insert(f.end(), {r.node, r.plugin, r.value, std::to_string(r.stats.n), csv_number(r.stats.mean),
                           csv_number(r.stats.se), csv_number(r.stats.ci_low), csv_number(r.stats.ci_high)});
        out += csv_line(f);
    }
    return out;
}

}  // namespace mdlab::runtime
