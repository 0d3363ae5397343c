// Helpers of the memorization and manifold_distance tests: a test-local unit circle, point sets,
// and the metrics run through the registry.
#pragma once
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
#include "metric_value.hpp"

using mdlab::Matrix;

namespace {

constexpr double pi = 3.14159265358979323846;

using mdlab::test::TestCircle;

std::shared_ptr<const mdlab::Manifold> circle(std::size_t d) { return std::make_shared<TestCircle>(d); }
std::shared_ptr<const Matrix> points(Matrix m) { return std::make_shared<const Matrix>(std::move(m)); }

Matrix make_matrix(std::size_t m, std::size_t d, const std::vector<double>& v) {
    REQUIRE(v.size() == m * d);
    Matrix x = Matrix::from_shape({m, d});
    std::copy(v.begin(), v.end(), x.begin());
    return x;
}

// n points at angles offset + 2 pi k / n on the unit circle of R^d.
Matrix equispaced(std::size_t n, std::size_t d, double offset = 0.0) {
    Matrix x = mdlab::zeros(n, d);
    for (std::size_t k = 0; k < n; ++k) {
        const double a = offset + 2.0 * pi * double(k) / double(n);
        x(k, 0) = std::cos(a);
        x(k, 1) = std::sin(a);
    }
    return x;
}

using mdlab::test::value;

mdlab::Values memorization(const Matrix& samples, const Matrix& data, std::shared_ptr<const mdlab::Manifold> m,
                           const std::string& params = "{}", std::uint64_t seed = 3) {
    auto metric = mdlab::test::make<mdlab::Metric>("memorization", params);
    mdlab::Inputs in;
    in.set("samples", points(samples));
    in.set("data", points(data));
    in.set("manifold", std::move(m));
    mdlab::test::TestContext ctx(seed);
    return metric->evaluate(in, ctx);
}

// Independent O(M N) computation of (fraction, mean d1 / median NN distance within X).
std::pair<double, double> brute_memorization(const Matrix& y, const Matrix& x, double ratio) {
    auto dist = [](const Matrix& a, std::size_t i, const Matrix& b, std::size_t j) {
        double s = 0.0;
        for (std::size_t c = 0; c < mdlab::cols(a); ++c) s += (a(i, c) - b(j, c)) * (a(i, c) - b(j, c));
        return std::sqrt(s);
    };
    std::vector<double> nn;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        double best = INFINITY;
        for (std::size_t j = 0; j < mdlab::rows(x); ++j)
            if (j != i) best = std::min(best, dist(x, i, x, j));
        nn.push_back(best);
    }
    std::sort(nn.begin(), nn.end());
    const std::size_t n = nn.size();
    const double median = n % 2 ? nn[n / 2] : 0.5 * (nn[n / 2 - 1] + nn[n / 2]);
    double count = 0.0, sum = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(y); ++i) {
        std::vector<double> d;
        for (std::size_t j = 0; j < mdlab::rows(x); ++j) d.push_back(dist(y, i, x, j));
        std::sort(d.begin(), d.end());
        if (d[0] == 0.0 || d[0] / d[1] < ratio) count += 1.0;
        sum += d[0];
    }
    const double m = double(mdlab::rows(y));
    return {count / m, sum / m / median};
}

mdlab::Values manifold_distance(const Matrix& samples, std::shared_ptr<const mdlab::Manifold> m) {
    auto metric = mdlab::test::make<mdlab::Metric>("manifold_distance");
    mdlab::Inputs in;
    in.set("samples", points(samples));
    in.set("manifold", std::move(m));
    mdlab::test::TestContext ctx(3);
    return metric->evaluate(in, ctx);
}

}  // namespace
