// Reading a trajectory file the samplers write, independently of mdlab::npy.
#pragma once
#include <catch2/catch.hpp>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace mdlab::test {

// A float64 C-order .npy file of any rank, read byte by byte (npy::read takes 1-D and 2-D only):
// checks the magic, the header and that the payload size matches the shape exactly.
struct RawNpy {
    std::vector<std::size_t> shape;
    std::vector<double> data;
};
inline RawNpy read_raw_npy(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() >= 10);
    REQUIRE(bytes.compare(0, 6, "\x93NUMPY") == 0);
    REQUIRE(bytes[6] == 1);
    const std::size_t hlen = std::size_t(static_cast<unsigned char>(bytes[8])) |
                             (std::size_t(static_cast<unsigned char>(bytes[9])) << 8);
    REQUIRE((10 + hlen) % 64 == 0);  // numpy pads the header so the data is aligned
    const std::string header = bytes.substr(10, hlen);
    INFO("header: " << header);
    REQUIRE(header.find("'descr': '<f8'") != std::string::npos);
    REQUIRE(header.find("'fortran_order': False") != std::string::npos);
    const auto open = header.find("'shape': (");
    REQUIRE(open != std::string::npos);
    const auto close = header.find(')', open);
    REQUIRE(close != std::string::npos);
    RawNpy r;
    std::size_t count = 1;
    std::string dims = header.substr(open + 10, close - open - 10);
    for (std::size_t p = 0; p < dims.size();) {
        while (p < dims.size() && (dims[p] == ',' || dims[p] == ' ')) ++p;
        if (p >= dims.size()) break;
        std::size_t q = p;
        while (q < dims.size() && std::isdigit(static_cast<unsigned char>(dims[q]))) ++q;
        REQUIRE(q > p);
        r.shape.push_back(std::stoul(dims.substr(p, q - p)));
        count *= r.shape.back();
        p = q;
    }
    REQUIRE(bytes.size() - 10 - hlen == count * sizeof(double));
    r.data.resize(count);
    std::memcpy(r.data.data(), bytes.data() + 10 + hlen, count * sizeof(double));
    return r;
}

}  // namespace mdlab::test
