#include "mdlab/runtime/cell_packet.hpp"

#include "byte_codec.hpp"

namespace mdlab::runtime {

std::string encode(const CellPacket& p) {
    ByteWriter w;
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
    ByteReader r(bytes, "cell packet");
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
