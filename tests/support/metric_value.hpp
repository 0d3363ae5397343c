// What a metric reported: the value under a name (failing the test case when there is none), and
// the names in order.
#pragma once
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>

namespace mdlab::test {

inline double value(const mdlab::Values& v, const std::string& name) {
    for (const auto& [k, x] : v)
        if (k == name) return x;
    FAIL("no value '" << name << "'");
    return 0.0;
}

inline std::vector<std::string> names(const mdlab::Values& v) {
    std::vector<std::string> out;
    for (const auto& [k, _] : v) out.push_back(k);
    return out;
}

}  // namespace mdlab::test
