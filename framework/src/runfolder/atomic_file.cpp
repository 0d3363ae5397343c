#include "mdlab/runtime/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <unistd.h>

#include <mdlab/error.hpp>
#include <mdlab/move_into_place.hpp>

namespace mdlab::runtime {

void write_file_atomic(const std::filesystem::path& file, std::string_view content) {
    const std::filesystem::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(file.string() + ": cannot open for writing");
        errno = 0;
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.flush();
        if (!out) {
            const std::string why = errno ? std::strerror(errno) : "unknown reason";
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw Error(file.string() + ": write failed (" + why + "; is the disk full?); the earlier file, if any, is unchanged");
        }
    }
    move_into_place(tmp, file);
}

}  // namespace mdlab::runtime
