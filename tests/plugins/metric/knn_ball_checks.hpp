// Helpers of the precision_recall and density_coverage tests: brute-force k-NN radii and ball
// memberships (every pairwise distance, sorted), samples with a given reference, and the mean
// and standard error of replicated figures.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport_checks.hpp"

namespace {

double distance(const Matrix& a, std::size_t i, const Matrix& b, std::size_t j) { return dist_pow(a, i, b, j, 1.0); }

// Distance of each row to its k-th nearest other row, by sorting all its distances.
std::vector<double> brute_radii(const Matrix& x, std::size_t k) {
    std::vector<double> r;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        std::vector<double> d;
        for (std::size_t j = 0; j < mdlab::rows(x); ++j)
            if (j != i) d.push_back(distance(x, i, x, j));
        std::sort(d.begin(), d.end());
        r.push_back(d[k - 1]);
    }
    return r;
}

// Number of balls B(c_i, r_i) holding row q of y (closed: <=, open: <).
std::size_t balls_holding(const Matrix& y, std::size_t q, const Matrix& c, const std::vector<double>& r, bool closed) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < mdlab::rows(c); ++i) {
        const double d = distance(y, q, c, i);
        n += closed ? d <= r[i] : d < r[i];
    }
    return n;
}

// The metric with the reference sample given (and no manifold: no baseline).
mdlab::Values with_reference(const std::string& metric, const Matrix& samples, const Matrix& reference,
                             const std::string& params = "{}") {
    auto plugin = mdlab::test::make<mdlab::Metric>(metric, params);
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(samples));
    in.set("reference", std::make_shared<const Matrix>(reference));
    mdlab::test::TestContext ctx(3);
    return plugin->evaluate(in, ctx);
}

// Rows of x shifted by `shift` along the first coordinate.
Matrix shifted(Matrix x, double shift) {
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) x(i, 0) += shift;
    return x;
}

std::pair<double, double> mean_and_error(const std::vector<double>& v) {
    double s = 0.0, s2 = 0.0;
    for (double x : v) s += x;
    const double mean = s / double(v.size());
    for (double x : v) s2 += (x - mean) * (x - mean);
    return {mean, std::sqrt(s2 / double(v.size() - 1) / double(v.size()))};
}

}  // namespace
