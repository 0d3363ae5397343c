#include "scratch_context.hpp"

#include <atomic>

#include <unistd.h>

namespace mdlab::python {

namespace fs = std::filesystem;

ScratchFolder::~ScratchFolder() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
}

const fs::path& ScratchFolder::path() const {
    if (dir_.empty()) {
        static std::atomic<unsigned> counter{0};
        dir_ = fs::temp_directory_path() /
               ("mdlab-python-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(dir_);
    }
    return dir_;
}

}  // namespace mdlab::python
