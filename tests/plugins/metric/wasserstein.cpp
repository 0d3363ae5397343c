// The wasserstein metric against brute force and translated copies.
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
// wasserstein

TEST_CASE("wasserstein matches brute force on the reconstructed reference", "[wasserstein]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(7, 3, 31, 1.3);
    const auto v = evaluate("wasserstein", y, m);
    CHECK(names(v) == std::vector<std::string>{"w1", "w2", "baseline_w1", "baseline_w2", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 7, "reference"), base = drawn(*m, 7, "baseline");
    CHECK(value(v, "w1") == Approx(brute_wasserstein(y, ref, 1.0)).epsilon(1e-12));
    CHECK(value(v, "w2") == Approx(brute_wasserstein(y, ref, 2.0)).epsilon(1e-12));
    CHECK(value(v, "baseline_w1") == Approx(brute_wasserstein(base, ref, 1.0)).epsilon(1e-12));
    CHECK(value(v, "baseline_w2") == Approx(brute_wasserstein(base, ref, 2.0)).epsilon(1e-12));
    CHECK(value(v, "n_samples") == 7.0);
    // W2 >= W1 (Jensen), for the samples and the baseline.
    CHECK(value(v, "w2") >= value(v, "w1"));
    CHECK(value(v, "baseline_w2") >= value(v, "baseline_w1"));
}

TEST_CASE("wasserstein of a translated copy of the reference is the translation length", "[wasserstein]") {
    // W2(R + c, R)^2 = |c|^2 + W2(centred)^2 = |c|^2, and |c| = |mean difference| <= W1 <= W2:
    // both equal |c| exactly, whatever the reference.
    auto m = gaussian({1.0, -2.0, 0.5, 0.0}, 0.7);
    const std::size_t n = 400;
    Matrix y = drawn(*m, n, "reference");
    const double c[4] = {0.3, -0.1, 0.2, 0.25};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 4; ++a) y(i, a) += c[a];
    const double len = std::sqrt(0.09 + 0.01 + 0.04 + 0.0625);
    const auto v = evaluate("wasserstein", y, m);
    CHECK(value(v, "w1") == Approx(len).epsilon(1e-9));
    CHECK(value(v, "w2") == Approx(len).epsilon(1e-9));
    // The baseline (another fresh sample against the same reference) is the finite-sample floor.
    CHECK(value(v, "baseline_w1") > 0.0);
    CHECK(value(v, "baseline_w2") >= value(v, "baseline_w1"));
}

TEST_CASE("wasserstein against a given reference sample", "[wasserstein]") {
    // Two given point sets, no manifold: the figures are between them (W1 = W2 = |c| for a
    // translated copy, 0 for a permutation), with no baseline; a reference of r n points works
    // as the drawn one does.
    const Matrix r = random_matrix(60, 3, 41, 1.0);
    auto with_reference = [](const Matrix& y, const Matrix& ref, std::shared_ptr<const mdlab::Manifold> m,
                             const std::string& params = "{}") {
        auto plugin = mdlab::test::make<mdlab::Metric>("wasserstein", params);
        mdlab::Inputs in;
        in.set("samples", std::make_shared<const Matrix>(y));
        in.set("reference", std::make_shared<const Matrix>(ref));
        if (m) in.set("manifold", std::move(m));
        mdlab::test::TestContext ctx(3);
        return plugin->evaluate(in, ctx);
    };
    Matrix shifted = r, reversed = r;
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t a = 0; a < 3; ++a) {
            shifted(i, a) += a == 1 ? 0.4 : 0.0;
            reversed(i, a) = r(59 - i, a);
        }
    auto v = with_reference(shifted, r, nullptr);
    CHECK(names(v) == std::vector<std::string>{"w1", "w2", "n_samples", "n_reference"});
    CHECK(value(v, "w1") == Approx(0.4).epsilon(1e-9));
    CHECK(value(v, "w2") == Approx(0.4).epsilon(1e-9));
    CHECK(value(with_reference(reversed, r, nullptr), "w1") == Approx(0.0).margin(1e-12));
    // 20 samples against 60 points, three translated copies of them: uniform laws on n and 3n
    // points, W1 = W2 = |c| again.
    const Matrix y = random_matrix(20, 3, 43, 1.0);
    Matrix copies = Matrix::from_shape({60, 3});
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t a = 0; a < 3; ++a) copies(i, a) = y(i % 20, a) + (a == 0 ? -0.25 : 0.0);
    v = with_reference(y, copies, nullptr);
    CHECK(value(v, "n_reference") == 60.0);
    CHECK(value(v, "w1") == Approx(0.25).epsilon(1e-9));
    CHECK(value(v, "w2") == Approx(0.25).epsilon(1e-9));
    // With the manifold too, the baseline is a fresh draw against the given reference.
    v = with_reference(y, copies, gaussian({0.0, 0.0, 0.0}));
    CHECK(names(v) == std::vector<std::string>{"w1", "w2", "baseline_w1", "baseline_w2", "n_samples", "n_reference"});
    // Errors name the input or parameter at fault.
    auto key_of = [&](const Matrix& yy, const Matrix& rr, const std::string& params) {
        try {
            with_reference(yy, rr, nullptr, params);
        } catch (const mdlab::InputError& e) {
            return e.key();
        }
        return std::string("none");
    };
    CHECK(key_of(random_matrix(7, 3, 1, 1.0), r, "{}") == "reference");           // 60 is not a multiple of 7
    CHECK(key_of(y, copies, R"({"reference_factor": 3})") == "reference_factor");
    CHECK(key_of(y, random_matrix(60, 2, 1, 1.0), "{}") == "samples");             // dimensions differ
    auto plugin = mdlab::test::make<mdlab::Metric>("wasserstein", "{}");
    mdlab::Inputs none;
    none.set("samples", std::make_shared<const Matrix>(y));
    mdlab::test::TestContext ctx(3);
    CHECK_THROWS_AS(plugin->evaluate(none, ctx), mdlab::InputError);
}

TEST_CASE("wasserstein is independent of the thread count", "[wasserstein][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(300, 3, 14, 1.2);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("wasserstein", y, m);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("wasserstein", y, m);
    }
    CHECK(one == two);
}

TEST_CASE("wasserstein refuses sizes above max_size and bad samples", "[wasserstein]") {
    auto m = gaussian({0.0, 0.0});
    const Matrix y = random_matrix(11, 2, 4);
    try {
        evaluate("wasserstein", y, m, R"({"max_size": 10})");
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("11 samples") && Catch::Contains("max_size = 10") &&
                            Catch::Contains("sliced_wasserstein") && Catch::Contains("MB") && Catch::Contains(" s "));
        CHECK(e.key() == "samples");
    }
    CHECK_NOTHROW(evaluate("wasserstein", y, m, R"({"max_size": 11})"));
    // Dimension mismatch and non-finite rows name the port.
    try {
        evaluate("wasserstein", random_matrix(5, 3, 1), m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("5 x 3") && Catch::Contains("R^2"));
        CHECK(e.key() == "samples");
    }
    Matrix bad = y;
    bad(4, 1) = NAN;
    CHECK_THROWS_WITH(evaluate("wasserstein", bad, m), Catch::Contains("row 4") && Catch::Contains("samples"));
}

TEST_CASE("wasserstein with a larger reference: exact W1 against r n points, in one dimension", "[wasserstein]") {
    // In one dimension W1 between the uniform laws on n and m points is int |F_Y - F_R|, computed
    // here by sweeping the merged sorted points: an independent check of the r-fold assignment.
    auto m = gaussian({0.5}, 0.8);
    const auto cdf_w1 = [](const Matrix& a, const Matrix& b) {
        std::vector<std::pair<double, int>> pts;
        for (std::size_t i = 0; i < mdlab::rows(a); ++i) pts.emplace_back(a(i, 0), 0);
        for (std::size_t i = 0; i < mdlab::rows(b); ++i) pts.emplace_back(b(i, 0), 1);
        std::sort(pts.begin(), pts.end());
        double fa = 0.0, fb = 0.0, w = 0.0;
        for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
            (pts[i].second == 0 ? fa : fb) += 1.0 / double(pts[i].second == 0 ? mdlab::rows(a) : mdlab::rows(b));
            w += std::abs(fa - fb) * (pts[i + 1].first - pts[i].first);
        }
        return w;
    };
    const Matrix y = random_matrix(60, 1, 41, 1.1);
    const auto v = evaluate("wasserstein", y, m, R"({"reference_factor": 3, "w2": false})");
    CHECK(names(v) == std::vector<std::string>{"w1", "baseline_w1", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 180, "reference"), base = drawn(*m, 60, "baseline");
    CHECK(value(v, "n_reference") == 180.0);
    CHECK(value(v, "w1") == Approx(cdf_w1(y, ref)).epsilon(1e-10));
    CHECK(value(v, "baseline_w1") == Approx(cdf_w1(base, ref)).epsilon(1e-10));
    // samples_used: the first rows only, against 3 x as many reference points.
    const auto part = evaluate("wasserstein", y, m, R"({"reference_factor": 3, "samples_used": 25})");
    Matrix first = Matrix::from_shape({25, 1});
    for (std::size_t i = 0; i < 25; ++i) first(i, 0) = y(i, 0);
    const Matrix ref75 = drawn(*m, 75, "reference");
    CHECK(value(part, "n_samples") == 25.0);
    CHECK(value(part, "w1") == Approx(cdf_w1(first, ref75)).epsilon(1e-10));
    CHECK(value(part, "w2") >= value(part, "w1"));
    // The size solved is r n: refused above max_size, and samples_used beyond the samples.
    CHECK_THROWS_WITH(evaluate("wasserstein", y, m, R"({"reference_factor": 2, "max_size": 100})"),
                      Catch::Contains("reference_factor 2") && Catch::Contains("120 x 120"));
    CHECK_THROWS_WITH(evaluate("wasserstein", y, m, R"({"samples_used": 61})"), Catch::Contains("samples_used = 61"));
}
