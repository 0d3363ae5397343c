// CSV text as RFC 4180 wants it: fields with commas, quotes or line breaks are quoted.
#pragma once
#include <string>
#include <vector>

namespace mdlab::runtime {

std::string csv_field(const std::string& s);
// The fields joined by commas, each quoted when needed, and a newline.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace mdlab::runtime
