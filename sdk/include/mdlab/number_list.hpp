// A list of numbers read from a file named by a path parameter: a .npy array with one row or one
// column, or text (.csv, .txt, ...) whose numbers are separated by commas, spaces, tabs or line
// breaks. In text, '#' starts a comment to the end of its line and a first line without any
// number is a header (a column name) and is skipped. Errors name the file, the line and column of
// the bad value, and the parameter `key`.
#pragma once
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "mdlab/error.hpp"
#include "mdlab/npy.hpp"

namespace mdlab {

namespace number_list_detail {

struct Token {
    std::string_view text;
    std::size_t column;  // 1-based
};

// The fields of one line (its comment cut off), split at commas and white space.
inline std::vector<Token> tokens(std::string_view line) {
    line = line.substr(0, line.find('#'));
    std::vector<Token> out;
    std::size_t i = 0;
    auto separator = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r'; };
    while (i < line.size()) {
        if (separator(line[i])) {
            ++i;
            continue;
        }
        const std::size_t b = i;
        while (i < line.size() && !separator(line[i])) ++i;
        out.push_back({line.substr(b, i - b), b + 1});
    }
    return out;
}

inline bool parse(std::string_view s, double& v) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

inline std::vector<double> read_text(const std::filesystem::path& file, const std::string& key) {
    std::ifstream in(file);
    if (!in) throw InputError(file.string() + ": cannot open for reading", key);
    std::vector<double> out;
    std::string line;
    bool first = true;
    for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
        const std::vector<Token> fields = tokens(line);
        if (fields.empty()) continue;
        double v = 0.0;
        if (first) {
            first = false;
            bool any_number = false;
            for (const auto& f : fields) any_number = any_number || parse(f.text, v);
            if (!any_number) continue;  // a header line
        }
        for (const auto& f : fields) {
            if (!parse(f.text, v) || !std::isfinite(v))
                throw InputError(file.string() + ":" + std::to_string(line_no) + ":" + std::to_string(f.column) + ": '" +
                                     std::string(f.text) + "' is not a finite number",
                                 key);
            out.push_back(v);
        }
    }
    if (in.bad()) throw InputError(file.string() + ": read error", key);
    return out;
}

}  // namespace number_list_detail

inline std::vector<double> read_number_list(const std::filesystem::path& file, const std::string& key) {
    require_regular_file(file, key);
    if (file.extension() != ".npy") return number_list_detail::read_text(file, key);
    Matrix m;
    try {
        m = npy::read(file);
    } catch (const InputError& e) {
        throw InputError(e.what(), key);
    }
    if (rows(m) != 1 && cols(m) != 1)
        throw InputError(file.string() + ": expected a list of numbers (a 1-D array, or one row or column), got " +
                             std::to_string(rows(m)) + " x " + std::to_string(cols(m)),
                         key);
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k]))
            throw InputError(file.string() + ": entry " + std::to_string(k) + " is not a finite number", key);
    return std::vector<double>(m.data(), m.data() + m.size());
}

}  // namespace mdlab
