#include "csv.hpp"

#include <stdexcept>

namespace mdlab::test {

namespace {

std::vector<std::vector<std::string>> records(const std::string& text) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::string> record;
    std::string field;
    bool quoted = false, any = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
            else if (c == '"') quoted = false;
            else field += c;
            continue;
        }
        any = true;
        if (c == '"') quoted = true;
        else if (c == ',') record.push_back(std::move(field)), field.clear();
        else if (c == '\n') {
            record.push_back(std::move(field));
            field.clear();
            out.push_back(std::move(record));
            record.clear();
            any = false;
        } else if (c != '\r') field += c;
    }
    if (any) {
        record.push_back(std::move(field));
        out.push_back(std::move(record));
    }
    return out;
}

}  // namespace

std::vector<CsvRow> parse_csv(const std::string& text) {
    const auto recs = records(text);
    if (recs.empty()) throw std::runtime_error("empty CSV");
    std::vector<CsvRow> rows;
    for (std::size_t r = 1; r < recs.size(); ++r) {
        if (recs[r].size() != recs[0].size())
            throw std::runtime_error("CSV row " + std::to_string(r) + " has " + std::to_string(recs[r].size()) +
                                     " fields, the header " + std::to_string(recs[0].size()));
        CsvRow row;
        for (std::size_t i = 0; i < recs[0].size(); ++i) row[recs[0][i]] = recs[r][i];
        rows.push_back(std::move(row));
    }
    return rows;
}

const CsvRow& row_where(const std::vector<CsvRow>& rows, const std::string& column, const std::string& value) {
    const CsvRow* found = nullptr;
    for (const auto& r : rows) {
        auto it = r.find(column);
        if (it != r.end() && it->second == value) {
            if (found) throw std::runtime_error("several rows with " + column + " = " + value);
            found = &r;
        }
    }
    if (!found) throw std::runtime_error("no row with " + column + " = " + value);
    return *found;
}

double value_at(const std::vector<CsvRow>& rows, const std::map<std::string, std::string>& where,
                const std::string& column) {
    const CsvRow* hit = nullptr;
    int count = 0;
    for (const auto& r : rows) {
        bool match = true;
        for (const auto& [k, v] : where) {
            auto it = r.find(k);
            if (it == r.end() || it->second != v) {
                match = false;
                break;
            }
        }
        if (match) hit = &r, ++count;
    }
    if (count != 1) throw std::runtime_error("expected one matching row, found " + std::to_string(count));
    return std::stod(hit->at(column));
}

}  // namespace mdlab::test
