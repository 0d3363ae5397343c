// The memorization metric against hand computations and an independent computation.
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

TEST_CASE("memorization reports its columns in order", "[memorization]") {
    const Matrix x = equispaced(20, 2);
    const auto v = memorization(x, x, circle(2));
    std::vector<std::string> names;
    for (const auto& [k, _] : v) names.push_back(k);
    CHECK(names == std::vector<std::string>{"fraction", "mean_d1", "baseline_fraction", "baseline_mean_d1",
                                            "n_samples"});
}

TEST_CASE("memorization: copies of training points are all memorised", "[memorization]") {
    const Matrix x = equispaced(40, 3, 0.1);
    Matrix y = Matrix::from_shape({15, 3});
    for (std::size_t i = 0; i < 15; ++i)
        for (std::size_t c = 0; c < 3; ++c) y(i, c) = x((7 * i) % 40, c);
    const auto v = memorization(y, x, circle(3));
    CHECK(value(v, "fraction") == 1.0);
    CHECK(value(v, "mean_d1") == 0.0);
    CHECK(value(v, "n_samples") == 15.0);
}

TEST_CASE("memorization: project judges samples off the manifold by where they lie along it", "[memorization]") {
    // Copies of training points pushed off the unit circle radially by 0.4 times the spacing:
    // in R^2 the ratio test sees d1 = 0.4 s against d2 ~ sqrt(s^2 + (0.4 s)^2) and misses many;
    // projected back onto the circle they are exact copies again.
    const std::size_t n = 40;
    const Matrix x = equispaced(n, 2);
    const double spacing = 2.0 * std::sin(pi / double(n));
    Matrix y = x;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < 2; ++c) y(i, c) *= 1.0 + 0.4 * spacing;
    CHECK(value(memorization(y, x, circle(2)), "fraction") < 0.5);
    const auto projected = memorization(y, x, circle(2), R"({"project": true})");
    CHECK(value(projected, "fraction") == 1.0);
    CHECK(value(projected, "mean_d1") < 1e-12);
}

TEST_CASE("memorization: samples midway between training points are not memorised", "[memorization]") {
    // N equispaced training points on the circle, samples at the midpoints of the arcs: d1 = d2
    // (ratio 1). d1 = 2 sin(pi / 2N); the NN distance within X is 2 sin(pi / N) for every point.
    const std::size_t n = 24;
    const Matrix x = equispaced(n, 2);
    const Matrix y = equispaced(n, 2, pi / double(n));
    const auto v = memorization(y, x, circle(2));
    CHECK(value(v, "fraction") == 0.0);
    CHECK(value(v, "mean_d1") == Approx(std::sin(pi / (2.0 * n)) / std::sin(pi / n)).epsilon(1e-9));
    CHECK(value(v, "n_samples") == double(n));
    // Even ratio 0.99 does not catch a ratio of exactly 1.
    CHECK(value(memorization(y, x, circle(2), R"({"ratio": 0.99})"), "fraction") == 0.0);
}

TEST_CASE("memorization: ratio test and normalisation by the median NN distance", "[memorization]") {
    // Training points on the x axis at 0, 2, 3, 7, 12: NN distances 2, 1, 1, 4, 5, median 2.
    const Matrix x = make_matrix(5, 2, {0, 0, 2, 0, 3, 0, 7, 0, 12, 0});
    // samples  d1   d2   d1/d2
    //   0.8    0.8  1.2  0.667   not memorised (memorised at ratio 0.7)
    //  12.2    0.2  5.2  0.038   memorised
    //   5      2    2    1       not memorised (tie between 3 and 7)
    //   2.9    0.1  0.9  0.111   memorised
    const Matrix y = make_matrix(4, 2, {0.8, 0, 12.2, 0, 5, 0, 2.9, 0});
    const auto v = memorization(y, x, circle(2));
    CHECK(value(v, "fraction") == 0.5);
    CHECK(value(v, "mean_d1") == Approx((0.8 + 0.2 + 2.0 + 0.1) / 4.0 / 2.0).epsilon(1e-12));
    const auto v7 = memorization(y, x, circle(2), R"({"ratio": 0.7})");
    CHECK(value(v7, "fraction") == 0.75);
    CHECK(value(v7, "mean_d1") == Approx(value(v, "mean_d1")).epsilon(1e-15));
    const auto v05 = memorization(y, x, circle(2), R"({"ratio": 0.05})");
    CHECK(value(v05, "fraction") == 0.25);
    // Scaling every point scales d1 and the median NN distance alike: mean_d1 is scale-free.
    const auto big = memorization(Matrix(y * 1000.0), Matrix(x * 1000.0), circle(2));
    CHECK(value(big, "fraction") == 0.5);
    CHECK(value(big, "mean_d1") == Approx(value(v, "mean_d1")).epsilon(1e-12));
}

TEST_CASE("memorization: the fresh-sample baseline on a circle is far from zero", "[memorization]") {
    // Training points uniform on the circle. For a uniform fresh point with gaps L, R ~ Exp(1) to
    // its neighbours on either side and L' beyond the nearer one, it passes the 1/3 test when
    // R > 3 L and L' > 2 L: probability 2 E[e^{-5 L}] = 1/3 (Poisson limit; a simulation with
    // N = 300 gives 0.333). E[d1] = 1/2 spacing and the median NN distance within X is
    // ln 2 / 2 spacings, so baseline_mean_d1 is near 1 / ln 2 = 1.44.
    auto m = circle(2);
    const Matrix x = m->sample(300, mdlab::RandomStream(17, "train"));
    const Matrix y = x;  // a perfect memoriser, for contrast
    Matrix y4 = Matrix::from_shape({4000, 2});
    for (std::size_t i = 0; i < 4000; ++i)
        for (std::size_t c = 0; c < 2; ++c) y4(i, c) = x(i % 300, c);
    const auto v = memorization(y4, x, m);
    CHECK(value(v, "fraction") == 1.0);
    CHECK(value(v, "n_samples") == 4000.0);
    const double bf = value(v, "baseline_fraction"), bd = value(v, "baseline_mean_d1");
    CHECK(bf > 0.27);
    CHECK(bf < 0.40);
    CHECK(bd > 1.1);
    CHECK(bd < 1.9);
    // The baseline depends on the run's seed (another fresh draw) but not on the samples.
    const auto other = memorization(y, x, m, "{}", 4);
    CHECK(value(other, "baseline_fraction") != bf);
    CHECK(value(other, "baseline_fraction") > 0.2);
    CHECK(value(other, "baseline_fraction") < 0.5);
}

TEST_CASE("memorization: a generaliser's samples sit at the baseline", "[memorization]") {
    // Samples drawn from mu_data independently of X behave like the fresh sample.
    auto m = circle(3);
    const Matrix x = m->sample(400, mdlab::RandomStream(5, "train"));
    const Matrix y = m->sample(3000, mdlab::RandomStream(5, "model"));
    const auto v = memorization(y, x, m);
    CHECK(value(v, "fraction") == Approx(value(v, "baseline_fraction")).margin(0.05));
    CHECK(value(v, "mean_d1") == Approx(value(v, "baseline_mean_d1")).epsilon(0.1));
}

TEST_CASE("memorization matches an independent computation, baseline included", "[memorization]") {
    // Noisy samples around a random training set on the circle in R^3; the baseline is the
    // fresh draw manifold->sample(M, ctx.stream("fresh")) of the run's context.
    auto m = circle(3);
    const Matrix x = m->sample(120, mdlab::RandomStream(21, "train"));
    Matrix y = m->sample(90, mdlab::RandomStream(21, "model"));
    mdlab::Rng rng(22);
    for (std::size_t i = 0; i < 90; ++i) {
        const double s = (i % 3 == 0) ? 0.0005 : 0.02;  // a third almost on training points
        for (std::size_t c = 0; c < 3; ++c) y(i, c) = (i % 3 == 0 ? x(i, c) : y(i, c)) + s * rng.normal();
    }
    for (double ratio : {1.0 / 3.0, 0.1, 0.6}) {
        INFO("ratio " << ratio);
        const std::string params = "{\"ratio\": " + std::to_string(ratio) + "}";
        const auto v = memorization(y, x, m, params, 5);
        const double r = std::stod(std::to_string(ratio));
        const auto own = brute_memorization(y, x, r);
        CHECK(value(v, "fraction") == Approx(own.first).margin(1e-12));
        CHECK(value(v, "mean_d1") == Approx(own.second).epsilon(1e-10));
        mdlab::test::TestContext ctx(5);
        const Matrix fresh = m->sample(90, ctx.stream("fresh"));
        const auto base = brute_memorization(fresh, x, r);
        CHECK(value(v, "baseline_fraction") == Approx(base.first).margin(1e-12));
        CHECK(value(v, "baseline_mean_d1") == Approx(base.second).epsilon(1e-10));
    }
    // Same seed: the same baseline; another seed: another fresh draw.
    const auto a = memorization(y, x, m, "{}", 5), b = memorization(y, x, m, "{}", 5);
    const auto c = memorization(y, x, m, "{}", 6);
    CHECK(a == b);
    CHECK(value(c, "fraction") == value(a, "fraction"));
    CHECK(value(c, "baseline_mean_d1") != value(a, "baseline_mean_d1"));
}

TEST_CASE("memorization: exact copies count, the ratio bound is strict", "[memorization]") {
    // Training points 0, 0 (a duplicate), 3, 10, 20 on the x axis: NN distances 0, 0, 3, 7, 10,
    // median 3. Sample 0: d1 = d2 = 0, an exact copy -> memorised although 0/0 is undefined.
    // Sample 4: d1 = 1 (to 3), d2 = 4 (to 0): ratio exactly 1/4.
    const Matrix x = make_matrix(5, 2, {0, 0, 0, 0, 3, 0, 10, 0, 20, 0});
    const Matrix y = make_matrix(2, 2, {0, 0, 4, 0});
    const auto v = memorization(y, x, circle(2), R"({"ratio": 0.25})");
    CHECK(value(v, "fraction") == 0.5);  // the copy only: 1/4 < 1/4 is false
    CHECK(value(v, "mean_d1") == Approx(0.5 / 3.0));
    CHECK(value(memorization(y, x, circle(2), R"({"ratio": 0.2500001})"), "fraction") == 1.0);
}

TEST_CASE("memorization is independent of the thread count", "[memorization][threads]") {
    auto m = circle(4);
    const Matrix x = m->sample(1500, mdlab::RandomStream(8, "train"));
    Matrix y = m->sample(1200, mdlab::RandomStream(8, "model"));
    for (std::size_t i = 0; i < 1200; i += 3) y(i, 2) = 0.01;  // some off the data, some copies
    for (std::size_t i = 1; i < 1200; i += 5)
        for (std::size_t c = 0; c < 4; ++c) y(i, c) = x(i, c);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = memorization(y, x, m);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = memorization(y, x, m);
    }
    CHECK(one == two);
    CHECK(value(one, "fraction") >= 240.0 / 1200.0);
}

TEST_CASE("memorization rejects bad inputs with clear errors", "[memorization]") {
    const Matrix x = equispaced(10, 2);
    const Matrix y = mdlab::zeros(5, 3);
    CHECK_THROWS_AS(memorization(y, x, circle(2)), mdlab::Error);
    CHECK_THROWS_WITH(memorization(y, x, circle(2)), Catch::Contains("5 x 3") && Catch::Contains("10 x 2"));
    // fewer than 3 training points
    CHECK_THROWS_WITH(memorization(equispaced(4, 2), equispaced(2, 2), circle(2)),
                      Catch::Contains("at least 3 training points"));
    // manifold of another dimension than the data
    CHECK_THROWS_AS(memorization(equispaced(4, 3), equispaced(10, 3), circle(2)), mdlab::Error);
    // a missing input
    {
        auto metric = mdlab::test::make<mdlab::Metric>("memorization");
        mdlab::Inputs in;
        in.set("samples", points(x));
        in.set("data", points(x));
        mdlab::test::TestContext ctx(1);
        CHECK_THROWS_WITH(metric->evaluate(in, ctx), Catch::Contains("manifold"));
    }
    // ratio outside (0, 1) is refused by the parameter validation
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("memorization", R"({"ratio": 1.0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("memorization", R"({"ratio": 0})"));
    // non-finite samples
    Matrix bad = equispaced(4, 2);
    bad(2, 1) = std::nan("");
    CHECK_THROWS_WITH(memorization(bad, x, circle(2)), Catch::Contains("row 2"));
}
