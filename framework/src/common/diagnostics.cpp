#include "mdlab/runtime/diagnostics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mdlab::runtime {

namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not a valid one.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    const std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    return n;
}

}  // namespace

std::string printable(std::string_view text, bool keep_lines) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_length(text, i);
            if (n == 0) {
                out += fmt::format("\\x{:02x}", c);
            } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) {
                out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));  // C1 control
            } else {
                out.append(text.substr(i, n));
            }
            i += std::max<std::size_t>(n, 1);
            continue;
        }
        if ((c == '\n' || c == '\t') && keep_lines) out += static_cast<char>(c);
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
        ++i;
    }
    return out;
}

std::string Diagnostic::format() const {
    std::string out = file.empty() ? "mdlab" : printable(file);
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": error: ";
    if (!node.empty()) out += "node '" + printable(node) + "'";
    if (!key.empty()) out += (node.empty() ? "" : ", ") + std::string("key '") + printable(key) + "'";
    if (!node.empty() || !key.empty()) out += ": ";
    out += printable(message, true);
    if (!hint.empty()) out += "\n    " + printable(hint, true);
    if (!json_path.empty()) out += "\n    (at JSON path " + printable(json_path) + ")";
    return out;
}

BadInput::BadInput(std::vector<Diagnostic> diagnostics) : diagnostics_(std::move(diagnostics)) {
    for (const auto& d : diagnostics_) {
        if (!text_.empty()) text_ += "\n";
        text_ += d.format();
    }
}

}  // namespace mdlab::runtime
