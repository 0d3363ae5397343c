// The manifold_distance metric on points at known distances.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "circle_metric_checks.hpp"

TEST_CASE("manifold_distance on points at known distances", "[manifold_distance]") {
    // Unit circle in the first two coordinates of R^3. Distances:
    //   (0.6, 0.8, 0) -> 0   (0, 0.5, 0) -> 0.5   (0, 0, 0) -> 1   (1, 0, 2) -> 2   (3, 4, 0) -> 4
    const Matrix y = make_matrix(5, 3, {3, 4, 0, 0, 0.5, 0, 1, 0, 2, 0.6, 0.8, 0, 0, 0, 0});
    const auto v = manifold_distance(y, circle(3));
    std::vector<std::string> names;
    for (const auto& [k, _] : v) names.push_back(k);
    CHECK(names == std::vector<std::string>{"mean", "median", "p95", "max"});
    CHECK(value(v, "mean") == Approx(7.5 / 5.0));
    CHECK(value(v, "median") == Approx(1.0));
    CHECK(value(v, "p95") == Approx(3.6));  // sorted 0 .5 1 2 4, h = 3.8: 2 + 0.8 (4 - 2)
    CHECK(value(v, "max") == Approx(4.0));
    // A single point: every figure is its distance.
    const auto one = manifold_distance(make_matrix(1, 3, {0, 0, -0.25}), circle(3));
    CHECK(value(one, "mean") == Approx(std::sqrt(1.0 + 0.0625)));
    CHECK(value(one, "p95") == Approx(std::sqrt(1.0 + 0.0625)));
    // Points on the manifold are at distance 0.
    const auto on = manifold_distance(equispaced(100, 3, 0.3), circle(3));
    CHECK(value(on, "max") == Approx(0.0).margin(1e-12));
}

TEST_CASE("manifold_distance: radial shells give known quantiles", "[manifold_distance]") {
    // 101 points at radii 1 + i / 100 (i = 0..100), spread over angles: distance i / 100,
    // so the median is 0.5, p95 0.95, max 1, mean 0.5.
    Matrix y = mdlab::zeros(101, 2);
    for (std::size_t i = 0; i < 101; ++i) {
        const double r = 1.0 + double(i) / 100.0, a = 0.7 * double(i);
        y(i, 0) = r * std::cos(a);
        y(i, 1) = r * std::sin(a);
    }
    const auto v = manifold_distance(y, circle(2));
    CHECK(value(v, "mean") == Approx(0.5).epsilon(1e-9));
    CHECK(value(v, "median") == Approx(0.5).epsilon(1e-9));
    CHECK(value(v, "p95") == Approx(0.95).epsilon(1e-9));
    CHECK(value(v, "max") == Approx(1.0).epsilon(1e-9));
}

TEST_CASE("manifold_distance rejects a dimension mismatch", "[manifold_distance]") {
    CHECK_THROWS_AS(manifold_distance(mdlab::zeros(4, 3), circle(2)), mdlab::Error);
    CHECK_THROWS_WITH(manifold_distance(mdlab::zeros(4, 3), circle(2)), Catch::Contains("4 x 3"));
    CHECK_THROWS_AS(manifold_distance(mdlab::zeros(0, 2), circle(2)), mdlab::Error);
}
