// The statistics behind summary.csv, rates.csv and the report's sample panels: Student-t
// quantiles against table values, the least-squares slope against the normal equations and
// by coverage, the summary of a known sample, principal planes of points on a known plane, and
// the declared comparisons: Spearman's rho with bootstrap intervals and the paired TOST.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "mdlab/runtime/equivalence_test.hpp"
#include "mdlab/runtime/pca.hpp"
#include "mdlab/runtime/rank_correlation.hpp"
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

TEST_CASE("Student-t quantiles and CDF match the closed forms of 1 and 2 degrees of freedom") {
    // 1 dof (Cauchy): F(t) = 1/2 + atan(t) / pi, t_p = tan(pi (p - 1/2)).
    // 2 dof: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), t_p = (2p - 1) / sqrt(2 p (1 - p)).
    // The CDFs are written without cancellation in the lower tail: atan2(1, -t) / pi, and
    // 1 / (r (r - t)) with r = sqrt(2 + t^2) for t < 0.
    const double pi = std::acos(-1.0);
    const auto cdf2 = [](double t) {
        const double r = std::sqrt(2 + t * t);
        return t < 0 ? 1 / (r * (r - t)) : 0.5 + t / (2 * r);
    };
    for (double p : {1e-6, 0.01, 0.1, 0.3, 0.6, 0.9, 0.975, 0.999, 1 - 1e-6}) {
        INFO("p = " << p);
        const double cauchy = std::tan(pi * (p - 0.5)), two = (2 * p - 1) / std::sqrt(2 * p * (1 - p));
        CHECK(student_t_quantile(p, 1) == Approx(cauchy).epsilon(1e-9));  // tan amplifies p's rounding near 0, 1
        CHECK(student_t_quantile(p, 2) == Approx(two).epsilon(1e-12));
        CHECK(student_t_cdf(cauchy, 1) == Approx(std::atan2(1.0, -cauchy) / pi).epsilon(1e-14));
        CHECK(student_t_cdf(two, 2) == Approx(cdf2(two)).epsilon(1e-14));
    }
    CHECK(student_t_cdf(std::numeric_limits<double>::infinity(), 3) == 1.0);
    CHECK(student_t_cdf(-std::numeric_limits<double>::infinity(), 3) == 0.0);
    CHECK(std::isnan(student_t_cdf(std::numeric_limits<double>::quiet_NaN(), 3)));
    CHECK_THROWS_AS(student_t_quantile(0.0, 3), std::invalid_argument);
    CHECK_THROWS_AS(student_t_quantile(0.5, 0.0), std::invalid_argument);
    CHECK_THROWS_AS(student_t_cdf(1.0, -1.0), std::invalid_argument);
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

TEST_CASE("symmetric eigen-decomposition of a known symmetric matrix") {
    // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 5, 3, 1.
    std::vector<double> values;
    std::vector<std::vector<double>> vectors;
    symmetric_eigen({2, 1, 0, 1, 2, 0, 0, 0, 5}, 3, values, vectors);
    REQUIRE(values.size() == 3);
    CHECK(values[0] == Approx(5).epsilon(1e-14));
    CHECK(values[1] == Approx(3).epsilon(1e-14));
    CHECK(values[2] == Approx(1).epsilon(1e-14));
    CHECK(vectors[0][2] == Approx(1));  // largest component made positive
    CHECK(vectors[1][0] == Approx(std::sqrt(0.5)));
    CHECK(vectors[1][1] == Approx(std::sqrt(0.5)));
    // (1, -1, 0) / sqrt 2: two largest components of equal size, the first is made positive.
    CHECK(vectors[2][0] == Approx(std::sqrt(0.5)));
    CHECK(vectors[2][1] == Approx(-std::sqrt(0.5)));
}

TEST_CASE("symmetric eigen-decomposition of the second-difference matrix matches its closed form") {
    // tridiag(-1, 2, -1) of size n: eigenvalues 2 - 2 cos(k pi / (n + 1)), eigenvectors
    // sin(i k pi / (n + 1)) (i = 1..n), normalised by sqrt(2 / (n + 1)).
    const std::size_t n = 24;
    const double pi = std::acos(-1.0), h = pi / double(n + 1);
    std::vector<double> a(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        a[i * n + i] = 2.0;
        if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1.0;
    }
    std::vector<double> values;
    std::vector<std::vector<double>> vectors;
    symmetric_eigen(a, n, values, vectors);
    REQUIRE(values.size() == n);
    for (std::size_t r = 0; r < n; ++r) {
        const std::size_t k = n - r;  // descending eigenvalues
        INFO("eigenpair " << r);
        CHECK(std::fabs(values[r] - (2.0 - 2.0 * std::cos(double(k) * h))) < 1e-13);
        std::vector<double> exact(n);
        std::size_t largest = 0;
        for (std::size_t i = 0; i < n; ++i) {
            exact[i] = std::sqrt(2.0 / double(n + 1)) * std::sin(double((i + 1) * k) * h);
            if (std::fabs(exact[i]) > std::fabs(exact[largest]) + 1e-12) largest = i;
        }
        // The eigenvalues are simple, so the vector is the closed form up to its sign, which the
        // convention fixes: the first of the largest components (a mirror pair) is positive.
        const double sign = exact[largest] < 0 ? -1.0 : 1.0;
        CHECK(vectors[r][largest] > 0);
        double err = 0.0, residual = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            err = std::max(err, std::fabs(vectors[r][i] - sign * exact[i]));
            double av = 0.0;
            for (std::size_t j = 0; j < n; ++j) av += a[i * n + j] * vectors[r][j];
            residual = std::max(residual, std::fabs(av - values[r] * vectors[r][i]));
        }
        CHECK(err < 1e-12);
        CHECK(residual < 1e-13);
    }
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

TEST_CASE("Spearman's rho: monotone maps, mean ranks for ties, the no-tie formula, degenerate cases") {
    const std::vector<double> x{0.3, 1.7, -2.0, 5.0, 0.9, 2.2};
    std::vector<double> cube, neg;
    for (double v : x) cube.push_back(v * v * v), neg.push_back(-std::exp(v));
    CHECK(spearman(x, cube) == Approx(1.0).epsilon(1e-15));
    CHECK(spearman(x, neg) == Approx(-1.0).epsilon(1e-15));
    // Ties: ranks of x are (1, 2.5, 2.5, 4); the Pearson correlation of the ranks by hand is
    // 4.5 / sqrt(4.5 * 5).
    CHECK(spearman({1, 2, 2, 3}, {1, 2, 3, 4}) == Approx(4.5 / std::sqrt(22.5)).epsilon(1e-14));
    // Without ties: 1 - 6 sum d^2 / (n (n^2 - 1)).
    std::mt19937_64 gen(3);
    std::normal_distribution<double> normal;
    std::vector<double> a(40), b(40);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = normal(gen), b[i] = a[i] + normal(gen);
    double d2 = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        double ra = 1, rb = 1;
        for (std::size_t j = 0; j < a.size(); ++j) ra += a[j] < a[i], rb += b[j] < b[i];
        d2 += (ra - rb) * (ra - rb);
    }
    CHECK(spearman(a, b) == Approx(1.0 - 6.0 * d2 / (40.0 * (1600.0 - 1.0))).epsilon(1e-12));
    CHECK(std::isnan(spearman({1, 2, 3}, {2, 2, 2})));
    CHECK(std::isnan(spearman({1, 2}, {1, 2})));
}

TEST_CASE("the percentile bootstrap of a mean is deterministic and close to the normal interval") {
    std::mt19937_64 gen(5);
    std::normal_distribution<double> normal(1.0, 2.0);
    std::vector<double> v(400);
    for (auto& x : v) x = normal(gen);
    const auto mean_of = [&](const std::vector<std::size_t>& idx, double* out) {
        double s = 0.0;
        for (std::size_t i : idx) s += v[i];
        out[0] = s / double(idx.size());
    };
    const auto a = bootstrap(v.size(), 4000, 0.95, 11, 1, mean_of), b = bootstrap(v.size(), 4000, 0.95, 11, 1, mean_of);
    CHECK(a[0].low == b[0].low);
    CHECK(a[0].high == b[0].high);
    CHECK(a[0].used == 4000);
    const SampleStats s = sample_stats(v);
    const double half = 1.959964 * s.se;
    INFO("bootstrap [" << a[0].low << ", " << a[0].high << "], normal " << s.mean << " +- " << half);
    CHECK((a[0].high - a[0].low) / 2 == Approx(half).epsilon(0.1));
    CHECK((a[0].high + a[0].low) / 2 == Approx(s.mean).margin(0.1 * half));
}

TEST_CASE("TOST: the (1 - 2 alpha) interval and the p-value by hand; the margin decides") {
    const std::vector<double> d{0.012, -0.02, 0.015, 0.006, -0.004};
    double mean = 0.0, ss = 0.0;
    for (double v : d) mean += v / 5.0;
    for (double v : d) ss += (v - mean) * (v - mean);
    const double se = std::sqrt(ss / 4.0 / 5.0), t = 2.13184679;  // qt(0.95, 4)
    const TostResult r = tost(d, 0.05, 0.05);
    CHECK(r.n == 5);
    CHECK(r.mean == Approx(mean).epsilon(1e-12));
    CHECK(r.se == Approx(se).epsilon(1e-14));
    CHECK(r.ci_low == Approx(mean - t * se).epsilon(1e-8));
    CHECK(r.ci_high == Approx(mean + t * se).epsilon(1e-8));
    CHECK(r.equivalent);
    CHECK(r.p < 0.05);
    // A margin at the interval's edge gives p = alpha: the interval and the two tests agree.
    const double edge = std::max(std::abs(r.ci_low), std::abs(r.ci_high));
    CHECK(tost(d, edge, 0.05).p == Approx(0.05).epsilon(1e-8));
    CHECK(!tost(d, 0.9 * edge, 0.05).equivalent);
    CHECK(tost(d, 1.1 * edge, 0.05).equivalent);
    // Identical pairs: the interval is the point 0.
    const TostResult same = tost({0, 0, 0}, 0.01, 0.05);
    CHECK(same.equivalent);
    CHECK(same.ci_low == 0.0);
    CHECK(std::isnan(tost({0.1}, 1.0, 0.05).mean));
}

namespace {
// Cells over seeds 1..5 and an alternatives axis "score" in {a, b, c}; node "m" reports
// y = seed-dependent noise plus 0.01 for b, x1 = y^3 (rank-identical), x2 = -seed.
RunRecord synthetic_run() {
    RunRecord run;
    run.axes.push_back(RunAxis{"score", "alternatives", -1, {boost::json::value("a"), boost::json::value("b"), boost::json::value("c")}});
    run.axes.push_back(RunAxis{"seed", "seed", -1, {}});
    const double noise[] = {0.3, -0.1, 0.7, 0.2, -0.5};
    std::size_t index = 0;
    for (const char* alt : {"a", "b", "c"})
        for (std::uint64_t seed = 1; seed <= 5; ++seed) {
            RunCell c;
            c.index = index++;
            c.seed = seed;
            c.sweep = {{"score", boost::json::value(alt)}, {"seed", boost::json::value(seed)}};
            const double y = noise[seed - 1] + (std::string(alt) == "b" ? 0.01 : 0.0);
            RunNode n;
            n.id = "m";
            n.kind = "metric";
            n.values = {{"y", y}, {"x1", y * y * y}, {"x2", -double(seed)}};
            c.nodes.push_back(n);
            run.cells.push_back(c);
        }
    return run;
}
}  // namespace

TEST_CASE("declared correlations select cells with where; equivalence pairs cells by seed") {
    RunRecord run = synthetic_run();
    CorrelationDecl c;
    c.y = "m.y";
    c.x = {"m.x2", "m.x1"};
    c.where = {{"score", "a"}};
    c.bootstrap = 500;
    run.correlations.push_back(c);
    const auto rows = rank_correlations(run);
    REQUIRE(rows.size() == 3);  // rho(x2), rho(x1), rho(x1) - rho(x2)
    CHECK(rows[0].n == 5);
    CHECK(rows[0].rho == Approx(spearman({-1, -2, -3, -4, -5}, {0.3, -0.1, 0.7, 0.2, -0.5})).epsilon(1e-14));
    CHECK(rows[1].rho == Approx(1.0).epsilon(1e-14));
    CHECK(rows[2].base == "m.x2");
    CHECK(rows[2].rho == Approx(rows[1].rho - rows[0].rho).epsilon(1e-14));
    CHECK(rows[1].ci_low == Approx(1.0).epsilon(1e-14));  // every resample is rank-identical
    CHECK(rows[0].ci_low <= rows[0].rho);
    CHECK(rows[0].ci_high >= rows[0].rho);
    CHECK(correlations_csv(rows).find("m.x1,m.x2,score=a,ok,5,") != std::string::npos);

    EquivalenceDecl e;
    e.metric = "m.y";
    e.axis = "score";
    e.test = "b";
    e.control = "a";
    e.margin = 0.02;
    run.equivalence.push_back(e);
    e.test = "c";
    e.margin = 1e-3;
    run.equivalence.push_back(e);
    e.test = "z";
    run.equivalence.push_back(e);
    const auto eq = equivalence_tests(run);
    REQUIRE(eq.size() == 3);
    // b - a = 0.01 on every seed: the interval is the point 0.01, inside the margin 0.02.
    CHECK(eq[0].status == "ok");
    CHECK(eq[0].result.n == 5);
    CHECK(eq[0].result.mean == Approx(0.01).epsilon(1e-9));
    CHECK(eq[0].result.equivalent);
    CHECK(eq[1].result.mean == 0.0);
    CHECK(eq[1].result.equivalent);
    CHECK(eq[2].status == "unknown_value");
    CHECK(equivalence_csv(eq).find(",yes,") != std::string::npos);
}
