// Behaviour kept: a pipeline's results.csv compared byte for byte with the one kept in
// tests/expected/<path>/<pipeline>.csv for the instruction-set path the run used (paths differ in
// their last bits, so each has its own files), every column but the wall times (the kept files
// have none: reproducible_csv.hpp). A refactor that changes a single bit of a result
// fails. After an intended change of results, regenerate the files with
// `MDLAB_UPDATE_EXPECTED=1 ctest -R "test_expected_results|test_claim"` on a machine that runs
// every path (the claim tests keep the files of the path they run on) and say why in the commit.
#pragma once
#include <filesystem>
#include <string>

#include <mdlab/isa.hpp>

namespace mdlab::test {

// Checks (or, with MDLAB_UPDATE_EXPECTED=1, writes) the kept results.csv of `pipeline` (its file
// name without .json) against run_dir/results.csv, for the run made on `path`.
void check_expected_results(const std::string& pipeline, const std::filesystem::path& run_dir, isa::Path path);

}  // namespace mdlab::test
