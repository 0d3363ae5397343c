// libFuzzer target: the .npy reader on arbitrary bytes. Every input must give an array or an
// mdlab::Error naming the file; anything else (a crash, a sanitizer report, a huge allocation
// from a lying header) is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <mdlab/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::filesystem::path file =
        std::filesystem::temp_directory_path() / ("mdlab-fuzz-npy-" + std::to_string(::getpid()) + ".npy");
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const mdlab::Matrix m = mdlab::npy::read(file);
        if (m.size() > size) __builtin_trap();  // more values than the file has bytes
    } catch (const mdlab::Error&) {
    }
    return 0;
}
