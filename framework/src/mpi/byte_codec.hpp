// Fixed-width little-endian counts and length-prefixed strings: the cell packets sent between
// MPI ranks and to and from local cell workers (the same build on both ends).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

#include <mdlab/error.hpp>

namespace mdlab::runtime {

class ByteWriter {
public:
    void count(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void number(double v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void text(const std::string& s) {
        count(s.size());
        out_ += s;
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class ByteReader {
public:
    // `what` names the message in errors ("cell packet").
    ByteReader(const std::string& in, std::string what) : in_(in), what_(std::move(what)) {}
    std::uint64_t count() { return fixed<std::uint64_t>(); }
    double number() { return fixed<double>(); }
    std::string text() {
        const std::uint64_t n = count();
        need(n);
        std::string s = in_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    void finish() const {
        if (pos_ != in_.size()) throw Error(what_ + ": " + std::to_string(in_.size() - pos_) + " bytes too many");
    }

private:
    template <class T>
    T fixed() {
        T v{};
        need(sizeof v);
        std::memcpy(&v, in_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) throw Error(what_ + ": truncated");
    }
    const std::string& in_;
    std::string what_;
    std::size_t pos_ = 0;
};

}  // namespace mdlab::runtime
