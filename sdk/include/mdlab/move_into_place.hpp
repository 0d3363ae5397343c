// Renaming a finished temporary file over its final name, the last step of every atomic write.
#pragma once
#include <filesystem>
#include <string>
#include <system_error>

#include "mdlab/error.hpp"

namespace mdlab {

// Renames `tmp` to `file`; on failure removes `tmp` and throws Error naming `file` and the
// system's reason (taken before the clean-up, whose own error code would say "Success").
inline void move_into_place(const std::filesystem::path& tmp, const std::filesystem::path& file) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (!ec) return;
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    throw Error(file.string() + ": cannot move into place: " + why);
}

}  // namespace mdlab
