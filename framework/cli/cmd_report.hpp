// mdlab report RUN_DIR: rewrite summary.csv, rates.csv and report.html of a run folder.
#pragma once
#include <filesystem>

namespace mdlab::cli {

// Returns the exit code; a folder that is not a run folder throws BadInput (exit code 2).
int report(const std::filesystem::path& run_dir);

}  // namespace mdlab::cli
