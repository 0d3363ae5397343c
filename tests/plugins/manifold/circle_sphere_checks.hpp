// Helpers of the circle and sphere tests: norms, a chi-square uniformity statistic, points from
// angles, and the checks every quadrature rule must pass.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;
using mdlab::Vector;
using namespace mdlab::test;  // the helpers of manifold_check.hpp

double row_norm(const Matrix& x, std::size_t i) {
    double s = 0.0;
    for (std::size_t j = 0; j < mdlab::cols(x); ++j) s += x(i, j) * x(i, j);
    return std::sqrt(s);
}

// Pearson chi-square statistic of values against the uniform law on [lo, hi) with `bins` bins.
double chi_square_uniform(const std::vector<double>& v, double lo, double hi, std::size_t bins) {
    std::vector<double> count(bins, 0.0);
    for (double x : v) {
        REQUIRE(x >= lo);
        REQUIRE(x <= hi);
        std::size_t b = static_cast<std::size_t>((x - lo) / (hi - lo) * static_cast<double>(bins));
        count[std::min(b, bins - 1)] += 1.0;
    }
    const double expected = static_cast<double>(v.size()) / static_cast<double>(bins);
    double chi2 = 0.0;
    for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
    return chi2;
}

// Unit vector in R^{k+1} with hyperspherical angles th (th_1..th_{k-1} polar, th_k azimuthal).
std::vector<double> from_angles(const std::vector<double>& th) {
    const std::size_t k = th.size();
    std::vector<double> y(k + 1);
    double s = 1.0;
    for (std::size_t i = 0; i < k; ++i) {
        y[i] = s * std::cos(th[i]);
        s *= std::sin(th[i]);
    }
    y[k] = s;
    return y;
}

}  // namespace

// ============================================================================================
// Densities, quadrature, tangent bases and normal noise
// ============================================================================================

namespace {

void check_weights(const mdlab::Quadrature& q, std::size_t count, const mdlab::Manifold& m) {
    REQUIRE(mdlab::rows(q.nodes) == count);
    REQUIRE(mdlab::cols(q.nodes) == m.ambient_dim());
    REQUIRE(q.weights.size() == count);
    double s = 0.0;
    for (double w : q.weights) {
        REQUIRE(w >= 0.0);
        s += w;
    }
    CHECK(std::abs(s - 1.0) < 1e-12);
    const Vector d = m.distance(q.nodes);
    CHECK(*std::max_element(d.begin(), d.end()) < 1e-12);
}

}  // namespace
