// The C++ code blocks of one section of a Markdown page, so that a test can check that the code
// a page shows is the code of the example it describes (and so stays true).
#pragma once
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "command.hpp"

namespace mdlab::test {

// The text of the ```cpp blocks (fences at the start of a line) between the line `heading` and
// the next line starting with "## ", without the fence lines.
inline std::vector<std::string> cpp_blocks(const std::filesystem::path& page, const std::string& heading) {
    const std::string text = read_text(page);
    std::size_t at = text.find("\n" + heading + "\n");
    if (at == std::string::npos) return {};
    const std::size_t end = std::min(text.find("\n## ", at + 1), text.size());
    std::vector<std::string> blocks;
    while ((at = text.find("\n```cpp\n", at)) < end) {
        const std::size_t body = at + 8, close = text.find("\n```\n", body);
        blocks.push_back(text.substr(body, close + 1 - body));
        at = close + 1;
    }
    return blocks;
}

}  // namespace mdlab::test
