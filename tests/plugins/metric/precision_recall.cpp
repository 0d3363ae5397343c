// The precision_recall metric (Kynkaanniemi et al. 2019): equal to a brute-force transcription on
// small sets (exactly), near 1 for one law, 0 for disjoint laws, decreasing in a shift.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "error_key.hpp"
#include "knn_ball_checks.hpp"

namespace {

// precision and recall transcribed from the paper: closed k-NN balls of each set.
std::pair<double, double> brute_precision_recall(const Matrix& y, const Matrix& x, std::size_t k) {
    const std::vector<double> rx = brute_radii(x, k), ry = brute_radii(y, k);
    double p = 0.0, r = 0.0;
    for (std::size_t j = 0; j < mdlab::rows(y); ++j) p += balls_holding(y, j, x, rx, true) > 0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) r += balls_holding(x, i, y, ry, true) > 0;
    return {p / double(mdlab::rows(y)), r / double(mdlab::rows(x))};
}

}  // namespace

TEST_CASE("precision_recall equals a brute-force transcription on small sets", "[precision_recall]") {
    check_small_sets("precision_recall", {"precision", "recall"}, brute_precision_recall);
}

TEST_CASE("precision_recall on Gaussians: one law, disjoint laws, a growing shift", "[precision_recall]") {
    auto m = gaussian({0.0, 0.0});
    const Matrix base = m->sample(1000, mdlab::RandomStream(7, "model"));
    // One law: both near 1, short of it by the finite-sample bias of the k-NN balls.
    const auto same = evaluate("precision_recall", base, m);
    WARN("one law, M = N = 1000, D = 2, k = 3: precision " << value(same, "precision") << ", recall "
         << value(same, "recall") << "; baseline " << value(same, "baseline_precision") << ", "
         << value(same, "baseline_recall"));
    for (const char* name : {"precision", "recall", "baseline_precision", "baseline_recall"}) {
        CHECK(value(same, name) > 0.9);
        CHECK(value(same, name) < 1.0);
    }
    // Disjoint laws: 0 and 0; a growing shift of the same draws: both fall, until they reach 0.
    // At shift 8 recall is still 0.074 here: one sample 4.6 standard deviations out has a k-NN
    // ball wide enough to reach the data (the outlier sensitivity Naeem et al. point out).
    check_falls_with_shift("precision_recall", {"precision", "recall"}, base, m, {0.0, 1.0, 2.0, 4.0, 8.0, 16.0});
}

TEST_CASE("precision_recall refuses bad parameters and inputs", "[precision_recall]") {
    using mdlab::test::error_key;
    auto m = gaussian({0.0, 0.0});
    const Matrix y = random_matrix(10, 2, 1);
    CHECK(error_key([] { mdlab::test::make<mdlab::Metric>("precision_recall", R"({"k": 0})"); }) == "k");
    CHECK(error_key([] { mdlab::test::make<mdlab::Metric>("precision_recall", R"({"k": 33})"); }) == "k");
    CHECK(error_key([&] { evaluate("precision_recall", random_matrix(3, 2, 1), m); }) == "samples");  // k + 1 = 4
    CHECK(error_key([&] { evaluate("precision_recall", random_matrix(4, 3, 1), m); }) == "samples");  // D = 3
    CHECK(error_key([&] { evaluate("precision_recall", y, m, R"({"reference_size": 3})"); }) == "reference_size");
    CHECK(error_key([&] { with_reference("precision_recall", y, y, R"({"reference_size": 20})"); }) ==
          "reference_size");
    CHECK(error_key([&] { with_reference("precision_recall", y, random_matrix(3, 2, 2)); }) == "reference");
    auto plugin = mdlab::test::make<mdlab::Metric>("precision_recall");
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(y));
    mdlab::test::TestContext ctx(3);
    CHECK(error_key([&] { plugin->evaluate(in, ctx); }) == "manifold");
}
