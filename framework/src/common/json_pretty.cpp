#include "mdlab/runtime/json_pretty.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

namespace mdlab::runtime {

std::string json_number(double v) {
    if (!std::isfinite(v)) return boost::json::serialize(boost::json::value(v));
    const double a = std::abs(v);
    const bool plain = a == 0.0 || (a >= 1e-7 && a < 1e21);
    char buf[64];  // enough for 21 digits, a sign, a point and 17 decimals
    const auto r = std::to_chars(buf, buf + sizeof buf, v, plain ? std::chars_format::fixed : std::chars_format::scientific);
    std::string out(buf, r.ptr);
    if (!plain) {  // "1e-08" -> "1e-8": no leading zeros in the exponent
        const auto e = out.find('e');
        std::size_t digits = e + 2;
        while (digits + 1 < out.size() && out[digits] == '0') out.erase(digits, 1);
    }
    return out;
}

namespace {

// A line break and the indentation of `depth`; nothing in compact text (depth < 0).
void newline(std::string& out, int depth) {
    if (depth >= 0) out += '\n' + std::string(2 * static_cast<std::size_t>(depth), ' ');
}

void write(std::string& out, const boost::json::value& v, int indent);

// An object's members or an array's elements between `open` and `close`, one per line when
// indented; empty ones as {} and [].
template <class Items, class WriteItem>
void write_items(std::string& out, const Items& items, char open, char close, int indent, WriteItem write_item) {
    out += open;
    if (!items.empty()) {
        const int inner = indent < 0 ? -1 : indent + 1;
        bool first = true;
        for (const auto& item : items) {
            if (!first) out += ',';
            first = false;
            newline(out, inner);
            write_item(item, inner);
        }
        newline(out, indent);
    }
    out += close;
}

// Writes `v`; `indent` < 0 writes compact text, otherwise the depth of `v` in the document.
void write(std::string& out, const boost::json::value& v, int indent) {
    switch (v.kind()) {
    case boost::json::kind::object:
        write_items(out, v.get_object(), '{', '}', indent, [&](const boost::json::key_value_pair& kv, int inner) {
            out += boost::json::serialize(kv.key());
            out += inner < 0 ? ":" : ": ";
            write(out, kv.value(), inner);
        });
        return;
    case boost::json::kind::array:
        write_items(out, v.get_array(), '[', ']', indent,
                    [&](const boost::json::value& item, int inner) { write(out, item, inner); });
        return;
    case boost::json::kind::double_: out += json_number(v.get_double()); return;
    default: out += boost::json::serialize(v);  // strings, integers, booleans, null
    }
}

}  // namespace

std::string json_pretty(const boost::json::value& v) {
    std::string out;
    write(out, v, 0);
    return out + "\n";
}

std::string json_text(const boost::json::value& v) {
    std::string out;
    write(out, v, -1);
    return out;
}

}  // namespace mdlab::runtime
