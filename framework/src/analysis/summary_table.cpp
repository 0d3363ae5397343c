// The summary over seeds as tables: for report.html and, aligned in plain text, for the terminal.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

namespace {

template <class T>
void add_once(std::vector<T>& list, const T& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// Columns padded to their widest cell, two spaces apart, a rule under the header.
std::string aligned(const std::vector<std::vector<std::string>>& table) {
    std::vector<std::size_t> width;
    const auto length = [](const std::string& s) {  // in characters: "±" is two bytes of UTF-8
        return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
    };
    for (const auto& row : table)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], length(row[i]));
        }
    std::string out;
    for (std::size_t r = 0; r < table.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < table[r].size(); ++i)
            line += "  " + table[r][i] + std::string(width[i] - length(table[r][i]), ' ');
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
        if (r == 0) {
            std::size_t total = 0;
            for (std::size_t w : width) total += w + 2;
            out += "  " + std::string(total - 2, '-') + "\n";
        }
    }
    return out;
}

}  // namespace

std::vector<SummaryTable> summary_tables(const RunRecord& run, const std::vector<SummaryRow>& rows) {
    std::vector<SummaryTable> tables;
    for (const SummaryRow& r : rows) {
        auto t = std::find_if(tables.begin(), tables.end(), [&](const SummaryTable& x) { return x.node == r.node; });
        if (t == tables.end()) {
            t = tables.insert(tables.end(), SummaryTable{r.node, {}, non_seed_axes(run), {}, {}});
        }
        add_once(t->values, r.value);
        add_once(t->plugins, r.plugin);
    }
    for (SummaryTable& t : tables)
        for (const SummaryRow& r : rows) {
            if (r.node != t.node) continue;
            std::vector<std::string> group;
            for (const auto& kv : r.axes) group.push_back(kv.second);
            auto row = std::find_if(t.rows.begin(), t.rows.end(), [&](const auto& x) { return x.axes == group; });
            if (row == t.rows.end())
                row = t.rows.insert(t.rows.end(), {group, 0, std::vector<SampleStats>(t.values.size(), sample_stats({}))});
            const auto v = std::find(t.values.begin(), t.values.end(), r.value) - t.values.begin();
            row->stats[static_cast<std::size_t>(v)] = r.stats;
            row->n = std::max(row->n, r.stats.n);
        }
    return tables;
}

std::string mean_and_half_width(const SampleStats& s, const std::string& plus_minus) {
    if (!std::isfinite(s.mean)) return {};
    const double half = (s.ci_high - s.ci_low) / 2;
    if (!std::isfinite(half)) return fmt::format("{:.4g}", s.mean);
    if (!(half > 0)) return fmt::format("{:.4g} {} 0", s.mean, plus_minus);  // every seed alike
    // Two significant digits of the half-width, the mean to the same decimal place.
    const int decimals = 1 - static_cast<int>(std::floor(std::log10(half)));
    if (decimals > 6 || decimals < -6 || std::abs(s.mean) >= 1e7) return fmt::format("{:.3g} {} {:.2g}", s.mean, plus_minus, half);
    const int d = std::max(0, decimals);
    return fmt::format("{:.{}f} {} {:.{}f}", s.mean, d, plus_minus, half, d);
}

std::string summary_text(const RunRecord& run, const std::vector<SummaryRow>& rows) {
    const std::vector<SummaryTable> tables = summary_tables(run, rows);
    if (tables.empty()) return {};
    bool seeds = false;  // the n column only when some configuration has several seeds
    for (const SummaryTable& t : tables)
        for (const auto& r : t.rows) seeds |= r.n > 1;
    std::string out = seeds ? "summary over seeds: mean \u00b1 half-width of the 95% interval; n: seeds with a value\n"
                            : "";
    // One aligned table per plugin (nodes of one plugin share their columns), a row per node and configuration.
    std::vector<std::string> done;
    for (const SummaryTable& first : tables) {
        const std::string plugins = fmt::format("{}", fmt::join(first.plugins, ", "));
        if (std::find(done.begin(), done.end(), plugins) != done.end()) continue;
        done.push_back(plugins);
        std::vector<const SummaryTable*> group;
        std::vector<std::string> values;
        for (const SummaryTable& t : tables)
            if (t.plugins == first.plugins) {
                group.push_back(&t);
                for (const auto& v : t.values) add_once(values, v);
            }
        std::vector<std::vector<std::string>> table(1, first.axes);
        table[0].push_back("node");
        if (seeds) table[0].push_back("n");
        table[0].insert(table[0].end(), values.begin(), values.end());
        for (const SummaryTable* t : group)
            for (const auto& r : t->rows) {
                std::vector<std::string> line = r.axes;
                line.push_back(t->node);
                if (seeds) line.push_back(std::to_string(r.n));
                for (const auto& v : values) {
                    const auto at = std::find(t->values.begin(), t->values.end(), v);
                    line.push_back(at == t->values.end() ? ""
                                                         : mean_and_half_width(r.stats[static_cast<std::size_t>(at - t->values.begin())], "\u00b1"));
                }
                table.push_back(std::move(line));
            }
        out += plugins + "\n" + aligned(table) + "\n";
    }
    return out;
}

}  // namespace mdlab::runtime
