// Checks of command-line values that CLI11's own validators word poorly, and CLI11's error
// messages made safe to print (they echo the user's arguments).
#pragma once
#include <CLI/CLI.hpp>

namespace mdlab::cli {

// A count of at least 1 (threads, steps, sizes): "'0' is not an integer >= 1". CLI11's
// PositiveNumber would print the range of a double instead.
const CLI::Validator& at_least_one();
// A path that is given must name something: `--out ""` is refused rather than read as "unset".
const CLI::Validator& non_empty_path();
// CLI11's parse-error text with control characters escaped (runtime::printable).
std::string failure_message(const CLI::App* app, const CLI::Error& e);

}  // namespace mdlab::cli
