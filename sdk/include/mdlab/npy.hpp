// Reading and writing NumPy .npy files (format 1.0-3.0), so Python users load results directly.
// Reads little-endian float64 / float32 arrays of one or two dimensions, C or Fortran order.
// Writes float64, C order, atomically (temporary file, then rename).
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <system_error>
#include <unistd.h>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/move_into_place.hpp"
#include "mdlab/regular_file.hpp"

namespace mdlab::npy {

namespace detail {

// What the system said about the last failed file operation (errno), e.g. "No space left on device".
inline std::string os_reason() {
    return errno != 0 ? std::generic_category().message(errno) : std::string("unknown reason (disk full?)");
}
inline InputError bad(const std::filesystem::path& file, const std::string& why) {
    return InputError(file.string() + ": not a readable .npy array: " + why);
}
// Value of a key in the header dict, e.g. 'descr': '<f8' -> <f8.
inline std::string field(const std::string& header, const std::string& key,
                         const std::filesystem::path& file) {
    const std::string quoted = "'" + key + "'";
    auto p = header.find(quoted);
    if (p == std::string::npos) throw bad(file, "header has no " + quoted);
    p = header.find(':', p + quoted.size());
    if (p == std::string::npos) throw bad(file, "header entry " + quoted + " has no value");
    ++p;
    while (p < header.size() && header[p] == ' ') ++p;
    if (p >= header.size()) throw bad(file, "header entry " + quoted + " has no value");
    char open = header[p];
    char close = open == '(' ? ')' : open == '\'' ? '\'' : ',';
    auto q = header.find(close, p + 1);
    if (q == std::string::npos) throw bad(file, "header entry " + quoted + " is not terminated");
    if (open == '(' || open == '\'') return header.substr(p + 1, q - p - 1);
    return header.substr(p, q - p);
}
}  // namespace detail

// Reads a 1-D (as n x 1) or 2-D array of float64 or float32 values.
inline Matrix read(const std::filesystem::path& file) {
    require_regular_file(file);  // a FIFO would block the open, a device never end
    std::ifstream in(file, std::ios::binary);
    if (!in) throw InputError(file.string() + ": cannot open for reading");
    in.seekg(0, std::ios::end);
    const auto file_size = static_cast<std::uint64_t>(in.tellg());
    in.seekg(0);
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        throw detail::bad(file, "missing the \\x93NUMPY magic string");
    const int major = static_cast<unsigned char>(magic[6]);
    std::uint32_t header_len = 0;
    if (major == 1) {
        unsigned char b[2];
        if (!in.read(reinterpret_cast<char*>(b), 2)) throw detail::bad(file, "truncated header");
        header_len = b[0] | (b[1] << 8);
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        if (!in.read(reinterpret_cast<char*>(b), 4)) throw detail::bad(file, "truncated header");
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    } else {
        throw detail::bad(file, "unsupported format version " + std::to_string(major));
    }
    if (header_len > 1u << 20 || header_len > file_size) throw detail::bad(file, "header length is absurd");
    std::string header(header_len, '\0');
    if (!in.read(header.data(), header_len)) throw detail::bad(file, "truncated header");

    const std::string descr = detail::field(header, "descr", file);
    std::size_t item = 0;
    if (descr == "<f8" || descr == "=f8") item = 8;
    else if (descr == "<f4" || descr == "=f4") item = 4;
    else
        throw detail::bad(file, "dtype '" + descr + "' is not supported (use float64 '<f8' or float32 '<f4')");
    const std::string order = detail::field(header, "fortran_order", file);
    bool fortran = false;
    if (order == "True") fortran = true;
    else if (order != "False") throw detail::bad(file, "fortran_order is neither True nor False");

    std::vector<std::uint64_t> shape;
    const std::string shape_text = detail::field(header, "shape", file);
    std::size_t pos = 0;
    while (pos < shape_text.size()) {
        while (pos < shape_text.size() && (shape_text[pos] == ' ' || shape_text[pos] == ',')) ++pos;
        if (pos >= shape_text.size()) break;
        std::size_t end = pos;
        while (end < shape_text.size() && shape_text[end] >= '0' && shape_text[end] <= '9') ++end;
        if (end == pos || end - pos > 12) throw detail::bad(file, "shape '(" + shape_text + ")' is not a tuple of sizes");
        shape.push_back(std::stoull(shape_text.substr(pos, end - pos)));
        pos = end;
    }
    if (shape.empty() || shape.size() > 2)
        throw detail::bad(file, "expected a 1-D or 2-D array, found shape (" + shape_text + ")");
    const std::uint64_t n = shape[0], d = shape.size() == 2 ? shape[1] : 1;
    if (d != 0 && n > (std::uint64_t{1} << 40) / d) throw detail::bad(file, "shape is absurdly large");
    const std::uint64_t payload = file_size - 8 - (major == 1 ? 2 : 4) - header_len;
    if (payload < n * d * item)
        throw detail::bad(file, "truncated data: shape (" + shape_text + ") needs " +
                                    std::to_string(n * d * item) + " bytes, file has " + std::to_string(payload));
    Matrix m = Matrix::from_shape({static_cast<std::size_t>(n), static_cast<std::size_t>(d)});
    std::vector<char> raw(n * d * item);
    in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    for (std::uint64_t k = 0; k < n * d; ++k) {
        double v;
        if (item == 8) std::memcpy(&v, raw.data() + k * 8, 8);
        else {
            float f;
            std::memcpy(&f, raw.data() + k * 4, 4);
            v = f;
        }
        // Fortran order stores column after column.
        const std::uint64_t i = fortran ? k % n : k / d, j = fortran ? k / n : k % d;
        m(i, j) = v;
    }
    return m;
}

// Writes a float64 array of any shape, C order, via a temporary file renamed into place.
inline void write_array(const std::filesystem::path& file, const double* data, const std::vector<std::size_t>& shape) {
    std::string dims;
    std::size_t count = 1;
    for (std::size_t s : shape) {
        dims += std::to_string(s) + ", ";
        count *= s;
    }
    if (shape.size() > 1) dims.erase(dims.size() - 2);  // numpy writes (n,) for 1-D, (n, d) otherwise
    else if (!shape.empty()) dims.pop_back();
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
    const std::size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    const auto tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        errno = 0;
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error(file.string() + ": cannot open for writing: " + detail::os_reason());
        out.write("\x93NUMPY\x01\x00", 8);
        const auto len = static_cast<std::uint16_t>(header.size());
        const char lb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
        out.write(lb, 2);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(double)));
        out.flush();
        if (!out) {
            const std::string why = detail::os_reason();
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw Error(file.string() + ": write failed: " + why);
        }
    }
    move_into_place(tmp, file);
}

// Writes a 2-D float64 array (n x d).
inline void write(const std::filesystem::path& file, const Matrix& m) {
    write_array(file, m.data(), {m.shape()[0], m.shape()[1]});
}

}  // namespace mdlab::npy
