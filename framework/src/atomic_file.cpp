#include "mdlab/runtime/atomic_file.hpp"

#include <fstream>
#include <string>

#include <unistd.h>

#include <mdlab/error.hpp>

namespace mdlab::runtime {

void write_file_atomic(const std::filesystem::path& file, std::string_view content) {
    const std::filesystem::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(file.string() + ": cannot open for writing");
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw Error(file.string() + ": write failed (disk full?)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw Error(file.string() + ": cannot move into place: " + ec.message());
    }
}

}  // namespace mdlab::runtime
