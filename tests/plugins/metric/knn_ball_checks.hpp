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

#include <tbb/task_arena.h>

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

// The metric equals brute(y, x, k) -> {figure 0, figure 1} exactly on small sets: with a given
// reference (k = 1, 3, 5; D = 1, 2, 4), and with the manifold, where the reference is drawn from
// the stream "reference" and the baseline from "baseline" (30 samples, 40 reference points).
template <class Brute>
void check_small_sets(const std::string& metric, const std::vector<std::string>& figures, Brute&& brute) {
    for (std::size_t k : {1, 3, 5}) {
        for (std::size_t d : {1, 2, 4}) {
            const Matrix x = random_matrix(14, d, 10 + d), y = shifted(random_matrix(11, d, 20 + d, 1.1), 0.5);
            const auto v = with_reference(metric, y, x, R"({"k": )" + std::to_string(k) + "}");
            CHECK(names(v) == std::vector<std::string>{figures[0], figures[1], "n_samples", "n_reference"});
            const auto [f0, f1] = brute(y, x, k);
            INFO(metric << ", k = " << k << ", D = " << d << ": " << f0 << ", " << f1);
            CHECK(value(v, figures[0]) == f0);
            CHECK(value(v, figures[1]) == f1);
            CHECK(value(v, "n_samples") == 11);
            CHECK(value(v, "n_reference") == 14);
        }
    }
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(30, 3, 5, 1.2);
    const auto v = evaluate(metric, y, m, R"({"reference_size": 40})");
    CHECK(names(v) == std::vector<std::string>{figures[0], figures[1], "baseline_" + figures[0],
                                               "baseline_" + figures[1], "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 40, "reference"), base = drawn(*m, 30, "baseline");
    const std::size_t k = metric == "precision_recall" ? 3 : 5;  // the defaults
    const auto [f0, f1] = brute(y, ref, k);
    const auto [b0, b1] = brute(base, ref, k);
    CHECK(value(v, figures[0]) == f0);
    CHECK(value(v, figures[1]) == f1);
    CHECK(value(v, "baseline_" + figures[0]) == b0);
    CHECK(value(v, "baseline_" + figures[1]) == b1);
    // The same values on one thread and on two (many chunks of queries).
    const Matrix many = random_matrix(600, 3, 7, 1.2);
    mdlab::Values one, two;
    tbb::task_arena(1).execute([&] { one = evaluate(metric, many, m); });
    tbb::task_arena(2).execute([&] { two = evaluate(metric, many, m); });
    CHECK(one == two);
}

// The metric's two figures for samples `base` shifted along x_1 against the law `m`: 0 for a
// disjoint law (shift 100), and each falling with the shift until it reaches 0 (the last shift).
void check_falls_with_shift(const std::string& metric, const std::vector<std::string>& figures, const Matrix& base,
                            const std::shared_ptr<const mdlab::Manifold>& m, const std::vector<double>& shifts) {
    const auto far = evaluate(metric, shifted(base, 100.0), m);
    for (const auto& f : figures) CHECK(value(far, f) == 0.0);
    std::vector<double> last(figures.size(), 1e300);
    for (double s : shifts) {
        const auto v = evaluate(metric, shifted(base, s), m);
        for (std::size_t i = 0; i < figures.size(); ++i) {
            INFO(metric << ", shift " << s << ": " << figures[i] << " " << value(v, figures[i]));
            CHECK((value(v, figures[i]) < last[i] || value(v, figures[i]) == 0.0));
            last[i] = value(v, figures[i]);
        }
    }
    for (double l : last) CHECK(l == 0.0);
}

std::pair<double, double> mean_and_error(const std::vector<double>& v) {
    double s = 0.0, s2 = 0.0;
    for (double x : v) s += x;
    const double mean = s / double(v.size());
    for (double x : v) s2 += (x - mean) * (x - mean);
    return {mean, std::sqrt(s2 / double(v.size() - 1) / double(v.size()))};
}

}  // namespace
