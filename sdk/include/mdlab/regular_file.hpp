// Refusing special files (FIFOs, devices, folders, sockets) before they are opened: opening a FIFO
// blocks until something writes into it, and a device such as /dev/zero never ends.
#pragma once
#include <filesystem>
#include <string>
#include <system_error>

#include "mdlab/error.hpp"

namespace mdlab {

// What `file` is when it is not a regular file ("a FIFO (named pipe)", "a folder", ...), or ""
// when it is one. Symbolic links are followed.
inline std::string not_regular_file(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    std::error_code ec;
    switch (fs::status(file, ec).type()) {
        case fs::file_type::regular: return {};
        case fs::file_type::not_found: return "missing (no such file)";
        case fs::file_type::directory: return "a folder";
        case fs::file_type::fifo: return "a FIFO (named pipe)";
        case fs::file_type::character: return "a character device";
        case fs::file_type::block: return "a block device";
        case fs::file_type::socket: return "a socket";
        default: return ec ? "unreadable (" + ec.message() + ")" : "not a regular file";
    }
}

// Throws InputError ("FILE: is a FIFO (named pipe), not a regular file") unless `file` is a
// regular file; `key` names the parameter or option that gave it.
inline void require_regular_file(const std::filesystem::path& file, const std::string& key = {}) {
    const std::string what = not_regular_file(file);
    if (!what.empty()) throw InputError(file.string() + ": is " + what + ", not a regular file", key);
}

}  // namespace mdlab
