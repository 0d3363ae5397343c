#include "mdlab/runtime/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace mdlab::runtime {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                              std::tolower(static_cast<unsigned char>(b[j - 1]));
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggest(std::string_view bad, std::vector<std::string> valid, std::string_view noun) {
    if (valid.empty()) return "nothing is " + std::string(noun) + " here";
    std::sort(valid.begin(), valid.end());
    valid.erase(std::unique(valid.begin(), valid.end()), valid.end());
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, bad.size() / 3) + 1;
    for (const auto& v : valid) {
        const std::size_t d = edit_distance(bad, v);
        const bool prefix = !bad.empty() && v.size() > bad.size() && v.compare(0, bad.size(), bad) == 0;
        if (d < best_d || (prefix && best.empty())) {
            best = v;
            best_d = prefix ? std::min(d, best_d) : d;
        }
    }
    std::string list;
    for (const auto& v : valid) list += (list.empty() ? "" : ", ") + v;
    std::string out;
    if (!best.empty()) out = "did you mean '" + best + "'? ";
    return out + std::string(noun) + ": " + list;
}

}  // namespace mdlab::runtime
