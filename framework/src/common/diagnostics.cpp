#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::runtime {

std::string Diagnostic::format() const {
    std::string out = file.empty() ? "mdlab" : file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": error: ";
    if (!node.empty()) out += "node '" + node + "'";
    if (!key.empty()) out += (node.empty() ? "" : ", ") + std::string("key '") + key + "'";
    if (!node.empty() || !key.empty()) out += ": ";
    out += message;
    if (!hint.empty()) out += "\n    " + hint;
    if (!json_path.empty()) out += "\n    (at JSON path " + json_path + ")";
    return out;
}

BadInput::BadInput(std::vector<Diagnostic> diagnostics) : diagnostics_(std::move(diagnostics)) {
    for (const auto& d : diagnostics_) {
        if (!text_.empty()) text_ += "\n";
        text_ += d.format();
    }
}

}  // namespace mdlab::runtime
