// "Did you mean ...": the closest valid names to a misspelt one.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mdlab::runtime {

std::size_t edit_distance(std::string_view a, std::string_view b);

// "did you mean 'x'? valid: a, b, c" (sorted), or "valid: a, b, c" when nothing is close,
// or "nothing is valid here" for an empty list.
std::string suggest(std::string_view bad, std::vector<std::string> valid, std::string_view noun = "valid");

}  // namespace mdlab::runtime
