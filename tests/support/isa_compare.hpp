// Comparing the results.csv of two runs of one pipeline made on different instruction-set paths
// of the kernels (mdlab/isa.hpp; tests/cli/test_isa_paths.cpp, test_isa_qemu.cpp).
//
// The paths compute the same sums in different orders (vector widths, FMA or not), so their
// results agree to rounding, not bit for bit. Two values agree when
//
//     |a - b| <= isa_relative_tolerance * max(|a|, |b|) + floor(plugin, column)
//
// with isa_relative_tolerance = 1e-10. The kernels agree across paths to ~1e-13 relative (their
// accuracy is 1e-12, softmax_score.hpp); the quickstart's samples differ by at most 3e-15, and
// the worst metric outside the floored values below differs by 3.8e-13 (memorised_full.mean_d1,
// distances of 6.5e-4 between unit-scale points), so 1e-10 leaves a margin of ~300 without
// hiding a path that computes something else. The absolute floor is zero except for values that
// are rounding residue, whose relative agreement means nothing (see absolute_floor). Text that
// is not a number (node, inputs, status) must be equal, as must the rows and the columns.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "csv.hpp"

namespace mdlab::test {

constexpr double isa_relative_tolerance = 1e-10;

// The absolute resolution of a metric column, where its values can be ~0:
// - manifold_distance: the distance of a point with unit-scale coordinates to the unit circle
//   (or sphere) is a difference of two numbers near 1, so each distance is known only to a few
//   ulp(1) = 2.2e-16, whatever its size. The quickstart's memorised samples sit 1e-16 to 2e-7
//   from the circle; the samples agree across paths to 4.4e-16, and distance_full.mean (1.9e-9)
//   has differed by 2.2e-19, which is 1.2e-10 relative (6.6e-12 in a later build of the
//   kernels). 1e-15 = 5 ulp(1).
// - drift_score_gap's identity_error: |m - lambda s - R| / |m|, the rounding of the exact
//   decomposition (m from the streaming kernel, which differs by path): up to 1.3e-14 for the
//   Gaussian kernel of the claim 4 smoke run. 1e-13 = 450 ulp(1).
// Both floors only matter below 1e-5 (1e-3 for identity_error), where 1e-10 relative is smaller.
inline double absolute_floor(const std::string& plugin, const std::string& column) {
    if (plugin == "manifold_distance") return 1e-15;
    if (plugin == "drift_score_gap" && column == "identity_error") return 1e-13;
    return 0.0;
}

// The whole text as a double, if it is one ("" and "ok" are not).
inline bool parse_number(const std::string& text, double& value) {
    if (text.empty()) return false;
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return end == text.c_str() + text.size();
}

struct IsaComparison {
    std::vector<std::string> mismatches;  // one line per value outside the tolerance
    // Per "node.column" (numeric columns only): the largest |a - b| / max(|a|, |b|) and |a - b|.
    std::map<std::string, double> worst_relative, worst_absolute;

    bool agree() const { return mismatches.empty(); }
    // The columns whose values differ at all, worst relative difference first.
    std::string summary() const {
        std::vector<std::pair<double, std::string>> v;
        for (const auto& [key, rel] : worst_relative)
            if (rel > 0.0 || worst_absolute.at(key) > 0.0) v.emplace_back(rel, key);
        std::sort(v.rbegin(), v.rend());
        std::ostringstream s;
        s.precision(3);
        for (const auto& [rel, key] : v)
            s << "\n  " << key << ": " << rel << " relative (" << worst_absolute.at(key) << " absolute)";
        return v.empty() ? std::string(" every value is identical") : s.str();
    }
};

// Compares results.csv texts a and b (labels name them in the messages).
inline IsaComparison compare_isa_results(const std::string& a, const std::string& b, const std::string& label_a,
                                         const std::string& label_b) {
    IsaComparison c;
    const auto rows_a = parse_csv(a), rows_b = parse_csv(b);
    if (rows_a.size() != rows_b.size()) {
        c.mismatches.push_back(label_a + " has " + std::to_string(rows_a.size()) + " rows, " + label_b + " " +
                               std::to_string(rows_b.size()));
        return c;
    }
    for (std::size_t r = 0; r < rows_a.size(); ++r) {
        const CsvRow &ra = rows_a[r], &rb = rows_b[r];
        const std::string node = ra.count("node") ? ra.at("node") : "row " + std::to_string(r);
        const std::string where = "row " + std::to_string(r) + " (node " + node + ")";
        const std::string plugin = ra.count("plugin") ? ra.at("plugin") : "";
        for (const auto& [column, ta] : ra) {
            const auto it = rb.find(column);
            if (it == rb.end()) {
                c.mismatches.push_back(where + ": column " + column + " is missing in " + label_b);
                continue;
            }
            const std::string& tb = it->second;
            const std::string key = node + "." + column;
            double x = 0.0, y = 0.0;
            if (!parse_number(ta, x) || !parse_number(tb, y)) {
                if (ta != tb) c.mismatches.push_back(where + " " + column + ": '" + ta + "' vs '" + tb + "'");
                continue;
            }
            if (ta == tb) {  // also inf and nan
                c.worst_relative.emplace(key, 0.0);
                c.worst_absolute.emplace(key, 0.0);
                continue;
            }
            const double diff = std::abs(x - y), scale = std::max(std::abs(x), std::abs(y));
            const double rel = diff / scale;
            c.worst_relative[key] = std::max(c.worst_relative[key], rel);
            c.worst_absolute[key] = std::max(c.worst_absolute[key], diff);
            if (!(diff <= isa_relative_tolerance * scale + absolute_floor(plugin, column))) {
                std::ostringstream s;
                s.precision(17);
                s << where << " " << column << ": " << label_a << " " << x << ", " << label_b << " " << y
                  << " (relative difference " << rel << ")";
                c.mismatches.push_back(s.str());
            }
        }
        for (const auto& [column, tb] : rb)
            if (!ra.count(column)) c.mismatches.push_back(where + ": column " + column + " is missing in " + label_a);
    }
    return c;
}

}  // namespace mdlab::test
