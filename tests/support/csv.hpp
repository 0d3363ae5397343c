// Reading results.csv in tests (RFC 4180 quoting).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace mdlab::test {

using CsvRow = std::map<std::string, std::string>;

std::vector<CsvRow> parse_csv(const std::string& text);
// The row whose `column` equals `value`; throws when there is not exactly one.
const CsvRow& row_where(const std::vector<CsvRow>& rows, const std::string& column, const std::string& value);
// The one row matching every (column, value) pair; its `column` as a number. Throws when there
// is not exactly one such row.
double value_at(const std::vector<CsvRow>& rows, const std::map<std::string, std::string>& where,
                const std::string& column);

}  // namespace mdlab::test
