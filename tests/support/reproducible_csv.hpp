// The part of a run's results.csv or summary.csv that a rerun must reproduce byte for byte:
// every column but the wall times. Those columns are named "wall_s" or "<name>.wall_s"
// (results.hpp, docs/pipelines.md "Results"): seconds measured on the clock, they differ between
// any two runs, while a resumed cell keeps the times its record holds. Every comparison of
// these files between runs (the kept files of tests/expected, thread counts, resumes, ranks,
// instruction-set paths) goes through without_wall_times.
#pragma once
#include <string>
#include <vector>

namespace mdlab::test {

inline bool is_wall_time_column(const std::string& name) {
    const std::string suffix = "wall_s";
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    return name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.';
}

// `csv` (RFC 4180 quoting, lines ending in \n) without its wall-time columns; the other fields
// are kept as written, quotes included.
inline std::string without_wall_times(const std::string& csv) {
    // Split into records of raw fields: commas and line ends inside quotes belong to the field.
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char c : csv) {
        if (c == '"') quoted = !quoted;  // an escaped "" toggles twice
        if (!quoted && (c == ',' || c == '\n')) {
            fields.push_back(std::move(field));
            field.clear();
            if (c == '\n') records.push_back(std::move(fields)), fields.clear();
            continue;
        }
        field += c;
    }
    if (!field.empty() || !fields.empty()) fields.push_back(std::move(field)), records.push_back(std::move(fields));
    if (records.empty()) return csv;
    std::vector<bool> keep;
    for (const std::string& name : records.front()) keep.push_back(!is_wall_time_column(name));
    std::string out;
    for (const auto& record : records) {
        bool first = true;
        for (std::size_t i = 0; i < record.size(); ++i) {
            if (i < keep.size() && !keep[i]) continue;
            out += (first ? "" : ",") + record[i];
            first = false;
        }
        out += '\n';
    }
    if (!csv.empty() && csv.back() != '\n') out.pop_back();
    return out;
}

}  // namespace mdlab::test
