// The generalization metric on copies, fresh samples and hand-made configurations.
#include <algorithm>
#include <functional>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/knn_divergence.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "density_metric_checks.hpp"

// ---------------------------------------------------------------------------------------------
// generalization

namespace {

mdlab::Values generalization(const Matrix& samples, const Matrix& data, std::shared_ptr<const mdlab::Manifold> m,
                             const std::string& params = "{}", std::uint64_t seed = 3) {
    return evaluate("generalization", samples, std::move(m), params, seed, &data);
}

}  // namespace

TEST_CASE("generalization: copies, fresh samples and samples off the manifold", "[generalization]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(3);
    const Matrix x = m->sample(300, mdlab::RandomStream(17, "train"));
    // Copies of training points: on M but all memorised.
    Matrix copies = Matrix::from_shape({1000, 3});
    for (std::size_t i = 0; i < 1000; ++i)
        for (std::size_t c = 0; c < 3; ++c) copies(i, c) = x(i % 300, c);
    const auto v = generalization(copies, x, m);
    CHECK(names(v) == std::vector<std::string>{"fraction", "near_fraction", "novel_fraction", "baseline_fraction",
                                              "baseline_near_fraction", "baseline_novel_fraction", "n_samples"});
    CHECK(value(v, "fraction") == 0.0);
    CHECK(value(v, "novel_fraction") == 0.0);
    CHECK(value(v, "near_fraction") == 1.0);
    // The baseline: a fresh sample on M (near = 1) passes the 1/3 ratio test about 2/3 of the
    // time on a circle (memorisation's baseline is 1/3; Poisson limit, see test_metrics.cpp).
    CHECK(value(v, "baseline_near_fraction") == 1.0);
    CHECK(value(v, "baseline_fraction") == value(v, "baseline_novel_fraction"));
    const double se13 = std::sqrt(2.0 / 9.0 / 1000.0);
    CHECK(std::abs(value(v, "baseline_novel_fraction") - 2.0 / 3.0) < 4.0 * se13 + 0.02);

    // Fresh samples of mu_data: at the baseline within binomial error (two independent samples).
    const Matrix fresh = m->sample(1000, mdlab::RandomStream(17, "model"));
    const auto f = generalization(fresh, x, m);
    CHECK(std::abs(value(f, "fraction") - value(f, "baseline_fraction")) < 4.0 * std::sqrt(2.0) * se13);
    CHECK(value(f, "near_fraction") == 1.0);

    // Pushed off M radially by 0.06 > delta = 0.05: never near, so fraction 0; novelty is
    // unchanged in kind (d1 and d2 both grow). At 0.04 < delta: all near again.
    const Matrix out = Matrix(fresh * 1.06), in = Matrix(fresh * 1.04);
    const auto o = generalization(out, x, m);
    CHECK(value(o, "near_fraction") == 0.0);
    CHECK(value(o, "fraction") == 0.0);
    CHECK(value(o, "novel_fraction") > 0.5);
    const auto i = generalization(in, x, m);
    CHECK(value(i, "near_fraction") == 1.0);
    CHECK(value(i, "fraction") == value(i, "novel_fraction"));
    // A larger delta counts the pushed samples as near.
    CHECK(value(generalization(out, x, m, R"({"delta": 0.1})"), "near_fraction") == 1.0);
}

TEST_CASE("generalization: hand-made configuration", "[generalization]") {
    // Training points on the unit circle at angles 0, 0.1, 1, 2, 3 (radians); samples:
    //   angle 0.01, radius 1      d1 = chord(0.01), d2 = chord(0.09): ratio 0.111 -> memorised, near
    //   angle 0.05, radius 1      d1 = d2 = chord(0.05)            -> novel, near
    //   angle 1.5, radius 1.2     off M by 0.2                     -> novel (ratio 1), not near
    //   angle 2.5, radius 1.01    off M by 0.01                    -> novel (equidistant), near
    const std::vector<double> ta = {0.0, 0.1, 1.0, 2.0, 3.0};
    Matrix x = mdlab::zeros(5, 2);
    for (std::size_t i = 0; i < 5; ++i) x(i, 0) = std::cos(ta[i]), x(i, 1) = std::sin(ta[i]);
    const std::vector<std::pair<double, double>> ys = {{0.01, 1.0}, {0.05, 1.0}, {1.5, 1.2}, {2.5, 1.01}};
    Matrix y = mdlab::zeros(4, 2);
    for (std::size_t i = 0; i < 4; ++i)
        y(i, 0) = ys[i].second * std::cos(ys[i].first), y(i, 1) = ys[i].second * std::sin(ys[i].first);
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(2);
    const auto v = generalization(y, x, m);
    CHECK(value(v, "near_fraction") == 0.75);
    CHECK(value(v, "novel_fraction") == 0.75);
    CHECK(value(v, "fraction") == 0.5);
    // ratio 0.1 < 0.111: the first sample is novel too.
    CHECK(value(generalization(y, x, m, R"({"ratio": 0.1})"), "fraction") == 0.75);
    // delta 0.005: only the two samples exactly on M are near.
    CHECK(value(generalization(y, x, m, R"({"delta": 0.005})"), "near_fraction") == 0.5);
}

TEST_CASE("generalization checks its inputs", "[generalization]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(2);
    const Matrix x = m->sample(10, mdlab::RandomStream(1, "train"));
    try {
        generalization(Matrix(mdlab::zeros(4, 3)), x, m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "samples");
        CHECK_THAT(std::string(e.what()), Catch::Contains("4 x 3"));
    }
    try {
        generalization(x, Matrix(mdlab::zeros(1, 2)), m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "data");
    }
    Matrix bad = x;
    bad(2, 0) = NAN;
    CHECK_THROWS_WITH(generalization(x, bad, m), Catch::Contains("row 2") && Catch::Contains("data"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("generalization", R"({"delta": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("generalization", R"({"ratio": 1})"));
}
