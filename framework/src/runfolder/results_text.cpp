// The terminal view of the results: one aligned table per plugin of the rows (metrics, or samplers).
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "mdlab/runtime/results.hpp"

namespace mdlab::runtime {

namespace {

std::string aligned(const std::vector<std::vector<std::string>>& table) {
    std::vector<std::size_t> width;
    for (const auto& row : table)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (std::size_t r = 0; r < table.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < table[r].size(); ++i)
            line += (i ? "  " : "  ") + table[r][i] + std::string(width[i] - table[r][i].size(), ' ');
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

std::string results_text(const ValidatedPipeline& vp, const std::vector<ResultRow>& rows) {
    std::vector<std::string> plugins;
    for (const auto& r : rows)
        if (std::find(plugins.begin(), plugins.end(), r.plugin) == plugins.end()) plugins.push_back(r.plugin);
    const bool many_cells = vp.cells.size() > 1;
    std::string out;
    for (const auto& plugin : plugins) {
        std::vector<std::string> keys;
        bool any_problem = false;
        for (const auto& r : rows) {
            if (r.plugin != plugin) continue;
            any_problem |= r.outcome.status != NodeStatus::ok;
            for (const auto& kv : r.outcome.values)
                if (std::find(keys.begin(), keys.end(), kv.first) == keys.end()) keys.push_back(kv.first);
        }
        std::vector<std::vector<std::string>> table(1);
        if (many_cells) table[0].push_back("cell");
        for (const SweepKey* k : vp.pipeline.sweep_keys()) table[0].push_back(k->key);
        table[0].push_back("node");
        table[0].push_back("inputs");
        if (any_problem) table[0].push_back("status");
        table[0].insert(table[0].end(), keys.begin(), keys.end());
        for (const auto& r : rows) {
            if (r.plugin != plugin) continue;
            std::vector<std::string> line;
            if (many_cells) line.push_back(std::to_string(r.cell));
            for (const auto& [k, v] : r.assignments) line.push_back(plain_text(v));
            line.push_back(r.node);
            line.push_back(r.inputs);
            if (any_problem) line.push_back(std::string(to_string(r.outcome.status)));
            for (const auto& k : keys) {
                auto it = std::find_if(r.outcome.values.begin(), r.outcome.values.end(),
                                       [&](const auto& kv) { return kv.first == k; });
                line.push_back(it == r.outcome.values.end() ? "" : fmt::format("{:.4g}", it->second));
            }
            table.push_back(std::move(line));
        }
        out += plugin + "\n" + aligned(table) + "\n";
    }
    return out;
}

}  // namespace mdlab::runtime
