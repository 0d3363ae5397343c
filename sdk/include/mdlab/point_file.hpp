// Points read from a file named by a plugin parameter: a .npy array or CSV text, one point per
// row. Used by the dataset manifold (its `path`) and by gaussian_mixture (given means and
// variances); every error is an InputError naming the file, the line and column where known,
// and the parameter `key`.
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/npy.hpp"

namespace mdlab::point_file {

namespace fs = std::filesystem;

inline std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return s.substr(b, e - b);
}

// The whole token as a double (locale-independent std::from_chars; a leading '+' is allowed).
inline bool parse_number(const std::string& token, double& value) {
    const char* b = token.data();
    const char* e = b + token.size();
    if (b != e && *b == '+') ++b;
    if (b == e) return false;
    const auto r = std::from_chars(b, e, value);
    return r.ec == std::errc() && r.ptr == e;
}

inline std::vector<std::string> split_commas(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return fields;
}

// Numbers separated by commas, one point per line. Blank lines and lines starting with '#' are
// skipped; the first remaining line is a header when none of its fields is a number. Every row
// must have the same number of values; a value that is not a finite number is refused with its
// line and column.
inline Matrix read_csv(const fs::path& file, const std::string& key) {
    std::ifstream in(file);
    if (!in) throw InputError(file.string() + ": cannot open for reading", key);
    const std::string where = file.string() + ": ";
    std::vector<double> values;
    std::size_t columns = 0, first_row_line = 0, line_no = 0;
    bool first = true;
    std::string line;
    while (std::getline(in, line)) {
        ++line_no;
        const std::string text = trim(line);
        if (text.empty() || text[0] == '#') continue;
        const std::vector<std::string> fields = split_commas(text);
        if (first) {
            first = false;
            double v;
            bool any_number = false;
            for (const auto& f : fields) any_number = any_number || parse_number(f, v);
            if (!any_number) {  // a header line: its width fixes the row width
                columns = fields.size();
                first_row_line = line_no;
                continue;
            }
        }
        if (columns == 0) {
            columns = fields.size();
            first_row_line = line_no;
        } else if (fields.size() != columns) {
            throw InputError(where + "line " + std::to_string(line_no) + " has " + std::to_string(fields.size()) +
                             " values, but line " + std::to_string(first_row_line) + " has " +
                             std::to_string(columns) + " (rows must all have the same number of comma-separated values)",
                             key);
        }
        for (std::size_t c = 0; c < fields.size(); ++c) {
            double v = 0.0;
            const std::string& f = fields[c];
            if (!parse_number(f, v) || !std::isfinite(v)) {
                std::string why = f.empty() ? "is empty" : "'" + f + "' is not a finite number";
                if (f.find_first_of(" \t;") != std::string::npos) why += " (values must be separated by commas)";
                throw InputError(where + "line " + std::to_string(line_no) + ", column " + std::to_string(c + 1) +
                                 ": the value " + why,
                                 key);
            }
            values.push_back(v);
        }
    }
    if (in.bad()) throw InputError(where + "read error", key);
    if (values.empty()) throw InputError(where + "contains no data rows", key);
    Matrix m = Matrix::from_shape({values.size() / columns, columns});
    std::copy(values.begin(), values.end(), m.data());
    return m;
}

inline bool has_npy_magic(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char magic[6] = {};
    return in.read(magic, 6) && std::memcmp(magic, "\x93NUMPY", 6) == 0;
}

// A .npy array (recognised by its magic string, whatever the file's extension) or CSV text.
// A file named .npy is always read as .npy, so a damaged one is reported as such, not as CSV.
inline Matrix read_points(const fs::path& file, const std::string& key) {
    require_regular_file(file, key);
    Matrix m;
    if (has_npy_magic(file) || file.extension() == ".npy") {
        try {
            m = npy::read(file);
        } catch (const InputError& e) {
            throw InputError(e.what(), key);
        }
        for (std::size_t i = 0; i < rows(m); ++i)
            for (std::size_t j = 0; j < cols(m); ++j)
                if (!std::isfinite(m(i, j)))
                    throw InputError(file.string() + ": row " + std::to_string(i) + ", column " +
                                     std::to_string(j) + " is not a finite number",
                                     key);
    } else {
        m = read_csv(file, key);
    }
    if (rows(m) == 0 || cols(m) == 0)
        throw InputError(file.string() + ": the array is empty (" + std::to_string(rows(m)) + " x " +
                         std::to_string(cols(m)) + ")",
                         key);
    return m;
}

}  // namespace mdlab::point_file
