// The statistics behind summary.csv, rates.csv and the report's sample panels: Student-t
// quantiles against table values, the least-squares slope against the normal equations and
// by coverage, the summary of a known sample, and principal planes of points on a known plane.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "mdlab/runtime/pca.hpp"
#include "mdlab/runtime/rate_fit.hpp"
#include "mdlab/runtime/student_t.hpp"
#include "mdlab/runtime/summary.hpp"
#include "mdlab/runtime/svg_plot.hpp"

using namespace mdlab::runtime;
using Catch::Detail::Approx;

TEST_CASE("Student-t quantiles match the table values") {
    // Two-sided 95% (p = 0.975) and a few others, to 6 significant digits (R's qt()).
    CHECK(t95(1) == Approx(12.7062047).epsilon(1e-8));
    CHECK(t95(2) == Approx(4.30265273).epsilon(1e-8));
    CHECK(t95(4) == Approx(2.77644511).epsilon(1e-8));
    CHECK(t95(10) == Approx(2.22813885).epsilon(1e-8));
    CHECK(t95(30) == Approx(2.04227246).epsilon(1e-8));
    CHECK(t95(1e7) == Approx(1.95996398).epsilon(1e-6));  // tends to the normal quantile
    CHECK(student_t_quantile(0.995, 5) == Approx(4.03214298).epsilon(1e-8));
    CHECK(student_t_quantile(0.95, 3) == Approx(2.35336343).epsilon(1e-8));
    CHECK(student_t_quantile(0.025, 4) == Approx(-2.77644511).epsilon(1e-8));
    CHECK(student_t_quantile(0.5, 7) == 0.0);
    // The CDF: 1 dof is the Cauchy distribution, 2 dof has a closed form.
    CHECK(student_t_cdf(1.0, 1) == Approx(0.75).epsilon(1e-12));
    CHECK(student_t_cdf(-3.0, 2) == Approx(0.5 - 3.0 / (2 * std::sqrt(11.0))).epsilon(1e-12));
    CHECK(student_t_cdf(student_t_quantile(0.9, 2.5), 2.5) == Approx(0.9).epsilon(1e-12));
}

TEST_CASE("the summary of a known sample: mean, standard error, t interval") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const SampleStats s = sample_stats({1, 2, nan, 3, 4, 5});  // NaN: a failed seed, not counted
    CHECK(s.n == 5);
    CHECK(s.mean == Approx(3.0));
    CHECK(s.se == Approx(std::sqrt(2.5 / 5)));
    CHECK(s.ci_low == Approx(3.0 - 2.77644511 * std::sqrt(0.5)));
    CHECK(s.ci_high == Approx(3.0 + 2.77644511 * std::sqrt(0.5)));
    const SampleStats one = sample_stats({7});
    CHECK(one.n == 1);
    CHECK(one.mean == 7);
    CHECK(std::isnan(one.se));
    CHECK(std::isnan(one.ci_low));
    CHECK(sample_stats({}).n == 0);
    CHECK(std::isnan(sample_stats({nan}).mean));
}

TEST_CASE("an exact power law gives its exponent with zero standard error") {
    std::vector<double> u, v;
    for (double x : {10.0, 30.0, 100.0, 300.0, 1000.0}) u.push_back(std::log(x)), v.push_back(std::log(2.5 * std::pow(x, -0.5)));
    const LineFit f = fit_line(u, v);
    CHECK(f.n == 5);
    CHECK(f.slope == Approx(-0.5).epsilon(1e-12));
    CHECK(f.intercept == Approx(std::log(2.5)).epsilon(1e-12));
    CHECK(f.se == Approx(0.0).margin(1e-12));
    CHECK(f.r2 == Approx(1.0).epsilon(1e-12));
    // Fewer than 3 points, or one x value only: no fit.
    CHECK(std::isnan(fit_line({1, 2}, {1, 2}).slope));
    CHECK(std::isnan(fit_line({1, 1, 1}, {1, 2, 3}).slope));
}

TEST_CASE("a noisy fit agrees with the normal equations") {
    const std::vector<double> u{0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0};
    const std::vector<double> v{1.02, 0.71, 0.55, 0.13, -0.02, -0.41, -0.52};
    const LineFit f = fit_line(u, v);
    // (X^T X) beta = X^T v with X = [1 u], solved by Cramer's rule; Var(slope) = s^2 n / det.
    double su = 0, suu = 0, sv = 0, suv = 0;
    const double n = static_cast<double>(u.size());
    for (std::size_t i = 0; i < u.size(); ++i) su += u[i], suu += u[i] * u[i], sv += v[i], suv += u[i] * v[i];
    const double det = n * suu - su * su;
    const double slope = (n * suv - su * sv) / det, intercept = (suu * sv - su * suv) / det;
    double rss = 0, tss = 0;
    for (std::size_t i = 0; i < u.size(); ++i) {
        rss += std::pow(v[i] - intercept - slope * u[i], 2);
        tss += std::pow(v[i] - sv / n, 2);
    }
    const double se = std::sqrt(rss / (n - 2) * n / det);
    CHECK(f.slope == Approx(slope).epsilon(1e-12));
    CHECK(f.intercept == Approx(intercept).epsilon(1e-12));
    CHECK(f.se == Approx(se).epsilon(1e-10));
    CHECK(f.r2 == Approx(1 - rss / tss).epsilon(1e-12));
    CHECK(f.ci_low == Approx(slope - 2.57058184 * se).epsilon(1e-8));  // t_{0.975, 5}
    CHECK(f.ci_high == Approx(slope + 2.57058184 * se).epsilon(1e-8));
}

TEST_CASE("the 95% slope interval covers the true slope in 95% of noisy data sets") {
    std::mt19937_64 rng(20260);
    std::normal_distribution<double> noise(0.0, 0.3);
    const int trials = 20000;
    int covered = 0;
    for (int t = 0; t < trials; ++t) {
        std::vector<double> u, v;
        for (double x : {50.0, 100.0, 200.0, 400.0})
            for (int seed = 0; seed < 2; ++seed) u.push_back(std::log(x)), v.push_back(1.0 - 0.25 * std::log(x) + noise(rng));
        const LineFit f = fit_line(u, v);
        covered += f.ci_low <= -0.25 && -0.25 <= f.ci_high;
    }
    const double rate = static_cast<double>(covered) / trials, se = std::sqrt(0.95 * 0.05 / trials);
    INFO("coverage " << rate << " over " << trials << " data sets");
    CHECK(std::fabs(rate - 0.95) < 3 * se);
}

TEST_CASE("Jacobi eigen-decomposition of a known symmetric matrix") {
    // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 5, 3, 1.
    std::vector<double> values;
    std::vector<std::vector<double>> vectors;
    symmetric_eigen({2, 1, 0, 1, 2, 0, 0, 0, 5}, 3, values, vectors);
    REQUIRE(values.size() == 3);
    CHECK(values[0] == Approx(5));
    CHECK(values[1] == Approx(3));
    CHECK(values[2] == Approx(1));
    CHECK(vectors[0][2] == Approx(1));  // largest component made positive
    CHECK(vectors[1][0] == Approx(std::sqrt(0.5)));
    CHECK(vectors[1][1] == Approx(std::sqrt(0.5)));
}

namespace {

// Points a_i e1 + b_i e2 + c in R^d on the plane spanned by two orthonormal vectors e1, e2
// (not coordinate axes), spread 3x more along e1.
mdlab::Matrix plane_points(std::size_t d, std::vector<double>& e1, std::vector<double>& e2) {
    e1.assign(d, 0.0), e2.assign(d, 0.0);
    for (std::size_t j = 0; j < d; ++j) e1[j] = std::sin(1.0 + j), e2[j] = std::cos(2.0 + 3.0 * j);
    auto dot = [&](const std::vector<double>& a, const std::vector<double>& b) {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) s += a[j] * b[j];
        return s;
    };
    const double n1 = std::sqrt(dot(e1, e1));
    for (double& x : e1) x /= n1;
    const double p = dot(e1, e2);
    for (std::size_t j = 0; j < d; ++j) e2[j] -= p * e1[j];
    const double n2 = std::sqrt(dot(e2, e2));
    for (double& x : e2) x /= n2;
    mdlab::Matrix m = mdlab::Matrix::from_shape({400, d});
    for (std::size_t i = 0; i < 400; ++i) {
        const double a = 3.0 * std::cos(0.37 * i) * (1 + 0.1 * (i % 7)), b = std::sin(0.91 * i);
        for (std::size_t j = 0; j < d; ++j) m(i, j) = 0.5 + a * e1[j] + b * e2[j];
    }
    return m;
}

double abs_dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
    return std::fabs(s);
}

}  // namespace

TEST_CASE("the principal plane of points on a plane is that plane") {
    for (std::size_t d : {5u, 200u}) {  // covariance route and Gram-matrix route
        INFO("dimension " << d);
        std::vector<double> e1, e2;
        const mdlab::Matrix x = plane_points(d, e1, e2);
        const PrincipalPlane plane = principal_plane(x);
        // Both axes lie in span(e1, e2); the sample's a and b correlate a little, so the leading
        // axis is near e1 but not exactly e1.
        for (const auto* axis : {&plane.axis1, &plane.axis2})
            CHECK(std::hypot(abs_dot(*axis, e1), abs_dot(*axis, e2)) == Approx(1.0).epsilon(1e-9));
        CHECK(abs_dot(plane.axis1, plane.axis2) == Approx(0.0).margin(1e-9));
        CHECK(abs_dot(plane.axis1, e1) > 0.99);
        CHECK(plane.variance1 > 4 * plane.variance2);
        // Projection keeps distances within the plane.
        const auto p = project(x, plane);
        double d_ambient = 0;
        for (std::size_t j = 0; j < d; ++j) d_ambient += std::pow(x(3, j) - x(10, j), 2);
        CHECK(std::hypot(p[3][0] - p[10][0], p[3][1] - p[10][1]) == Approx(std::sqrt(d_ambient)).epsilon(1e-9));
        // Deterministic: the same points give the very same plane.
        CHECK(principal_plane(x).axis1 == plane.axis1);
    }
}

TEST_CASE("log-scale ticks: decades, 1-2-5, or round steps on short ranges") {
    CHECK(mdlab::runtime::log_ticks(1e-3, 20) == std::vector<double>{1e-3, 1e-2, 1e-1, 1, 10});
    const auto mid = log_ticks(40, 450);
    CHECK(mid == std::vector<double>{50, 100, 200});
    const auto short_range = log_ticks(0.273, 0.304);
    REQUIRE(short_range.size() >= 2);
    CHECK(short_range.front() == Approx(0.28));
    CHECK(tick_label(1e-5) == "1e-5");
    CHECK(tick_label(0.25) == "0.25");
    CHECK(tick_label(2e6) == "2e6");
}
