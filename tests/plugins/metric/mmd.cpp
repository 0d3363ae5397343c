// The mmd metric against a direct double-loop computation.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/assignment.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "transport_checks.hpp"

// ---------------------------------------------------------------------------------------------
// mmd

namespace {

double direct_mmd2(const Matrix& x, const Matrix& y, double h) {
    const auto k = [&](const Matrix& a, std::size_t i, const Matrix& b, std::size_t j) {
        return std::exp(-dist_pow(a, i, b, j, 2.0) / (2.0 * h * h));
    };
    const double m = double(mdlab::rows(x)), n = double(mdlab::rows(y));
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t j = 0; j < mdlab::rows(x); ++j)
            if (i != j) sxx += k(x, i, x, j);
    for (std::size_t i = 0; i < mdlab::rows(y); ++i)
        for (std::size_t j = 0; j < mdlab::rows(y); ++j)
            if (i != j) syy += k(y, i, y, j);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t j = 0; j < mdlab::rows(y); ++j) sxy += k(x, i, y, j);
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * sxy / (m * n);
}

// Median of the pairwise distances among the given rows of the pooled matrix [x; y].
double direct_median(const Matrix& x, const Matrix& y, const std::vector<std::size_t>& rows) {
    Matrix pooled = Matrix::from_shape({mdlab::rows(x) + mdlab::rows(y), mdlab::cols(x)});
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t c = 0; c < mdlab::cols(x); ++c) pooled(i, c) = x(i, c);
    for (std::size_t i = 0; i < mdlab::rows(y); ++i)
        for (std::size_t c = 0; c < mdlab::cols(x); ++c) pooled(mdlab::rows(x) + i, c) = y(i, c);
    std::vector<double> d;
    for (std::size_t a = 0; a < rows.size(); ++a)
        for (std::size_t b = a + 1; b < rows.size(); ++b) d.push_back(dist_pow(pooled, rows[a], pooled, rows[b], 1.0));
    std::sort(d.begin(), d.end());
    const std::size_t n = d.size();
    return n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
}

}  // namespace

TEST_CASE("mmd equals a direct double-loop computation, median heuristic included", "[mmd]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(150, 3, 41, 1.4);
    const auto v = evaluate("mmd", y, m, R"({"reference_size": 120})");
    CHECK(names(v) == std::vector<std::string>{"mmd2", "baseline_mmd2", "bandwidth", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 120, "reference"), base = drawn(*m, 150, "baseline");
    std::vector<std::size_t> all(270);
    std::iota(all.begin(), all.end(), 0);
    const double h = direct_median(y, ref, all);
    CHECK(value(v, "bandwidth") == h);  // the same set of distances, the same median
    const double expected = direct_mmd2(y, ref, h);
    INFO("mmd2 " << value(v, "mmd2") << " direct " << expected);
    CHECK(expected > 0.01);  // scale 1.4 vs 1: clearly different laws
    CHECK(value(v, "mmd2") == Approx(expected).epsilon(1e-12));
    // The baseline uses the same kernel; it scatters around 0, so compare on the kernel's scale.
    CHECK(value(v, "baseline_mmd2") == Approx(direct_mmd2(base, ref, h)).margin(1e-13));
    // A fixed bandwidth.
    const auto f = evaluate("mmd", y, m, R"({"reference_size": 120, "bandwidth": 0.7})");
    CHECK(value(f, "bandwidth") == 0.7);
    CHECK(value(f, "mmd2") == Approx(direct_mmd2(y, ref, 0.7)).epsilon(1e-12));
    // The median over a fixed subset of the pooled rows: floor(s * 270 / 50), s = 0..49.
    std::vector<std::size_t> subset;
    for (std::size_t s = 0; s < 50; ++s) subset.push_back(s * 270 / 50);
    const auto sub = evaluate("mmd", y, m, R"({"reference_size": 120, "median_points": 50})");
    CHECK(value(sub, "bandwidth") == direct_median(y, ref, subset));
    CHECK(value(sub, "bandwidth") != h);
}

TEST_CASE("mmd is unbiased: zero on average for one law, positive for shifted laws", "[mmd]") {
    // R independent runs (another seed: another reference and baseline), samples of size 100.
    // Same law: the mean of the U-statistic is within 3 standard errors of 0 (as is the
    // baseline's). Shifted by 0.5 in one coordinate: the mean is many standard errors above 0.
    auto m = gaussian({0.0, 0.0});
    auto shifted = gaussian({0.5, 0.0});
    const int R = 120;
    std::vector<double> same, base, shift;
    for (int r = 0; r < R; ++r) {
        const Matrix y0 = m->sample(100, mdlab::RandomStream(1000 + r, "model"));
        const Matrix y1 = shifted->sample(100, mdlab::RandomStream(1000 + r, "model"));
        const auto v0 = evaluate("mmd", y0, m, "{}", 100 + r);
        same.push_back(value(v0, "mmd2"));
        base.push_back(value(v0, "baseline_mmd2"));
        shift.push_back(value(evaluate("mmd", y1, m, "{}", 100 + r), "mmd2"));
    }
    const auto mean_se = [](const std::vector<double>& v) {
        double s = 0.0, s2 = 0.0;
        for (double x : v) s += x;
        const double mean = s / double(v.size());
        for (double x : v) s2 += (x - mean) * (x - mean);
        return std::make_pair(mean, std::sqrt(s2 / double(v.size() - 1) / double(v.size())));
    };
    const auto [m0, se0] = mean_se(same);
    const auto [mb, seb] = mean_se(base);
    const auto [m1, se1] = mean_se(shift);
    INFO("same law " << m0 << " +- " << se0 << ", baseline " << mb << " +- " << seb << ", shifted " << m1 << " +- "
                     << se1);
    CHECK(std::abs(m0) < 3.0 * se0);
    CHECK(std::abs(mb) < 3.0 * seb);
    CHECK(m1 > 10.0 * se1);
    CHECK(m1 > 10.0 * se0);
    // Some same-law values are negative: the unbiased statistic is not clipped at 0.
    CHECK(*std::min_element(same.begin(), same.end()) < 0.0);
}

TEST_CASE("mmd is independent of the thread count and checks its input", "[mmd][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(900, 3, 12, 1.1);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("mmd", y, m);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("mmd", y, m);
    }
    CHECK(one == two);
    CHECK_THROWS_AS(evaluate("mmd", random_matrix(1, 3, 1), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("mmd", random_matrix(4, 2, 1), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("mmd", y, m, R"({"reference_size": 1})"), mdlab::InputError);
    // All samples and reference points at one place: no median bandwidth.
    auto point = gaussian({1.0, 1.0, 1.0}, 0.0);
    CHECK_THROWS_WITH(evaluate("mmd", Matrix(mdlab::zeros(5, 3) + 1.0), point), Catch::Contains("bandwidth"));
}
