#include "mdlab/runtime/json_pretty.hpp"

#include <boost/json/serialize.hpp>

namespace mdlab::runtime {

std::string json_pretty(const boost::json::value& v) {
    const std::string s = boost::json::serialize(v);
    std::string out;
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            out += c;
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        switch (c) {
        case '"': in_string = true; out += c; break;
        case '{': case '[':
            if (i + 1 < s.size() && (s[i + 1] == '}' || s[i + 1] == ']')) {
                out += c;
                out += s[++i];
            } else {
                out += c;
                out += '\n' + std::string(2 * ++depth, ' ');
            }
            break;
        case '}': case ']': out += '\n' + std::string(2 * --depth, ' ') + c; break;
        case ',': out += ",\n" + std::string(2 * depth, ' '); break;
        case ':': out += ": "; break;
        default: out += c;
        }
    }
    return out + "\n";
}

}  // namespace mdlab::runtime
