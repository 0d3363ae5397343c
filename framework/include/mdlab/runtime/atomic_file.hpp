// Files written so that an interrupted run never leaves a torn one: write a temporary file
// next to the target, then rename it into place.
#pragma once
#include <filesystem>
#include <string_view>

namespace mdlab::runtime {

// Throws mdlab::Error naming the file when it cannot be written.
void write_file_atomic(const std::filesystem::path& file, std::string_view content);

}  // namespace mdlab::runtime
