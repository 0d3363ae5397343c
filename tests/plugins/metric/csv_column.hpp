// A numeric column of a CSV file a metric wrote to its cell folder (per-point values, spectra).
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "csv.hpp"

inline std::vector<double> csv_column(const std::filesystem::path& file, const std::string& column) {
    std::ifstream f(file);
    std::stringstream ss;
    ss << f.rdbuf();
    std::vector<double> out;
    for (const auto& row : mdlab::test::parse_csv(ss.str())) out.push_back(std::stod(row.at(column)));
    return out;
}
