// The value a metric reported under a name, failing the test case when there is none.
#pragma once
#include <catch2/catch.hpp>

#include <string>

#include <mdlab/mdlab.hpp>

namespace mdlab::test {

inline double value(const mdlab::Values& v, const std::string& name) {
    for (const auto& [k, x] : v)
        if (k == name) return x;
    FAIL("no value '" << name << "'");
    return 0.0;
}

}  // namespace mdlab::test
