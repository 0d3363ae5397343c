#include "mdlab/runtime/cell_packet.hpp"

#include <cstdint>
#include <cstring>

#include <mdlab/error.hpp>

namespace mdlab::runtime {

namespace {

// Fixed-width little-endian counts and length-prefixed strings (all ranks run the same build).
class Writer {
public:
    void count(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void text(const std::string& s) {
        count(s.size());
        out_ += s;
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    explicit Reader(const std::string& in) : in_(in) {}
    std::uint64_t count() {
        std::uint64_t v = 0;
        need(sizeof v);
        std::memcpy(&v, in_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    std::string text() {
        const std::uint64_t n = count();
        need(n);
        std::string s = in_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    void finish() const {
        if (pos_ != in_.size()) throw Error("cell packet: " + std::to_string(in_.size() - pos_) + " bytes too many");
    }

private:
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) throw Error("cell packet: truncated");
    }
    const std::string& in_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string encode(const CellPacket& p) {
    Writer w;
    w.count(p.cell);
    w.count(p.cancelled ? 1 : 0);
    w.text(p.record);
    w.count(p.log.size());
    for (const auto& line : p.log) w.text(line);
    w.count(p.files.size());
    for (const auto& [name, content] : p.files) {
        w.text(name);
        w.text(content);
    }
    return w.take();
}

CellPacket decode_cell_packet(const std::string& bytes) {
    Reader r(bytes);
    CellPacket p;
    p.cell = r.count();
    p.cancelled = r.count() != 0;
    p.record = r.text();
    for (std::uint64_t n = r.count(), i = 0; i < n; ++i) p.log.push_back(r.text());
    for (std::uint64_t n = r.count(), i = 0; i < n; ++i) {
        std::string name = r.text();
        p.files.emplace_back(std::move(name), r.text());
    }
    r.finish();
    return p;
}

}  // namespace mdlab::runtime
