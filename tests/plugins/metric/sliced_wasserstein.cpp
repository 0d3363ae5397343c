// The sliced_wasserstein metric against closed forms for translated copies and Gaussians.
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
// sliced_wasserstein

TEST_CASE("sliced_wasserstein of a translated copy: the direction average of (u.c)^p", "[sliced_wasserstein]") {
    // Y = R + c projects to u.R + u.c: every 1-D transport is the shift, W_p = |u.c|. So
    // SW_2^2 = (1/L) sum_l (u_l.c)^2 exactly for the drawn directions, and for u uniform on
    // S^{D-1}, E (u.c)^2 = |c|^2 / D with Var = |c|^4 2 (D - 1) / (D^2 (D + 2)); in D = 3,
    // u.c / |c| is uniform on [-1, 1], so E |u.c| = |c| / 2 with Var = |c|^2 / 12.
    auto m = gaussian({0.0, 0.0, 0.0}, 2.0);
    const std::size_t n = 500, L = 2000;
    Matrix y = drawn(*m, n, "reference");
    const double c[3] = {1.0, -0.5, 0.7};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 3; ++a) y(i, a) += c[a];
    const double c2 = 1.0 + 0.25 + 0.49;
    const Matrix u = directions(L, 3);
    double s1 = 0.0, s2 = 0.0;
    for (std::size_t l = 0; l < L; ++l) {
        const double uc = u(l, 0) * c[0] + u(l, 1) * c[1] + u(l, 2) * c[2];
        s1 += std::abs(uc);
        s2 += uc * uc;
    }
    const auto v2 = evaluate("sliced_wasserstein", y, m, R"({"directions": 2000, "p": 2})");
    const auto v1 = evaluate("sliced_wasserstein", y, m, R"({"directions": 2000, "p": 1})");
    CHECK(names(v2) == std::vector<std::string>{"sw", "baseline_sw", "n_samples", "n_reference"});
    CHECK(value(v2, "sw") == Approx(std::sqrt(s2 / L)).epsilon(1e-9));
    CHECK(value(v1, "sw") == Approx(s1 / L).epsilon(1e-9));
    // Against the closed forms, within 4 Monte Carlo standard errors over the directions.
    const double se2 = c2 * std::sqrt(2.0 * 2.0 / (9.0 * 5.0) / double(L));
    const double se1 = std::sqrt(c2 / 12.0 / double(L));
    INFO("SW_2^2 " << value(v2, "sw") * value(v2, "sw") << " vs " << c2 / 3 << " (se " << se2 << ")");
    CHECK(std::abs(value(v2, "sw") * value(v2, "sw") - c2 / 3.0) < 4.0 * se2);
    INFO("SW_1 " << value(v1, "sw") << " vs " << std::sqrt(c2) / 2 << " (se " << se1 << ")");
    CHECK(std::abs(value(v1, "sw") - std::sqrt(c2) / 2.0) < 4.0 * se1);
}

TEST_CASE("sliced_wasserstein between two Gaussians: SW_2^2 - baseline = |m1 - m2|^2 / D", "[sliced_wasserstein]") {
    // Y ~ N(m1, I), R ~ N(m2, I) in D = 2, dm = m1 - m2. Per direction u, sorted matching gives
    //   W_2^2(u.Y, u.R) = (u.(ybar - rbar))^2 + W_2^2(centred projections),
    // with E (u.(ybar - rbar))^2 = (u.dm)^2 + 2/n. For the baseline B ~ N(m2, I) against the same
    // R the same holds with dm = 0, and the centred parts have the same law, so
    // E[SW_2^2 - baseline^2] = mean_l (u_l.dm)^2, whose mean over uniform directions is |dm|^2 / D.
    // Standard errors: directions |dm|^2 sqrt(Var cos^2 / L) with Var cos^2 = 1/8 in D = 2; the
    // cross term 2 (u.dm)(u.(ybar - rbar)) averaged over u is about dm.(ybar - rbar), sd
    // |dm| sqrt(2/n). Tolerance: 4 combined standard errors, plus 4/n for the O(1/n) fluctuation
    // of the centred parts.
    const std::vector<double> m1 = {1.2, -0.4}, m2 = {0.0, 0.5};
    auto target = gaussian(m2);
    auto model = gaussian(m1);
    const std::size_t n = 3000, L = 1024;
    const Matrix y = model->sample(n, mdlab::RandomStream(5, "model"));
    const auto v = evaluate("sliced_wasserstein", y, target, R"({"directions": 1024})");
    const double dm2 = 1.2 * 1.2 + 0.9 * 0.9;
    const double sw2 = value(v, "sw") * value(v, "sw"), base2 = value(v, "baseline_sw") * value(v, "baseline_sw");
    const double se = std::sqrt(dm2 * dm2 / 8.0 / double(L) + dm2 * 2.0 / double(n));
    INFO("SW_2^2 " << sw2 << " baseline^2 " << base2 << " expected " << dm2 / 2 << " se " << se);
    CHECK(std::abs(sw2 - base2 - dm2 / 2.0) < 4.0 * se + 4.0 / double(n));
    // The baseline is small: two samples of one law.
    CHECK(base2 < 0.02);
}

TEST_CASE("sliced_wasserstein in one dimension is the exact W_p, also for unequal sizes", "[sliced_wasserstein]") {
    // In D = 1 every direction is +-1 and W_p is invariant under the reflection.
    auto m = gaussian({0.3}, 1.5);
    const Matrix y = random_matrix(40, 1, 9);
    const Matrix ref = drawn(*m, 40, "reference");
    for (int p : {1, 2}) {
        INFO("p " << p);
        const auto v = evaluate("sliced_wasserstein", y, m, "{\"directions\": 5, \"p\": " + std::to_string(p) + "}");
        CHECK(value(v, "sw") == Approx(sorted_wasserstein(column(y), column(ref), p)).epsilon(1e-12));
        CHECK(value(v, "sw") == Approx(mdlab::kernels::wasserstein_exact(y, ref, p)).epsilon(1e-12));
    }
    // 40 samples against 60 reference points: the quantile coupling equals the exact transport
    // between the two laws written with 120 atoms of mass 1/120 (each sample repeated 3 times,
    // each reference point twice), solved by the assignment solver.
    const Matrix ref60 = drawn(*m, 60, "reference");
    Matrix ye = Matrix::from_shape({120, 1}), re = Matrix::from_shape({120, 1});
    for (std::size_t i = 0; i < 120; ++i) {
        ye(i, 0) = y(i / 3, 0);
        re(i, 0) = ref60(i / 2, 0);
    }
    for (int p : {1, 2}) {
        INFO("p " << p);
        const auto v = evaluate("sliced_wasserstein", y, m,
                                "{\"directions\": 3, \"reference_size\": 60, \"p\": " + std::to_string(p) + "}");
        CHECK(value(v, "sw") == Approx(mdlab::kernels::wasserstein_exact(ye, re, p)).epsilon(1e-12));
        CHECK(value(v, "n_reference") == 60.0);
        CHECK(value(v, "n_samples") == 40.0);
    }
}

TEST_CASE("sliced_wasserstein is independent of the thread count and checks its input", "[sliced_wasserstein][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0, 0.0});
    const Matrix y = random_matrix(700, 4, 3, 1.2);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("sliced_wasserstein", y, m, R"({"directions": 300, "reference_size": 900})");
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("sliced_wasserstein", y, m, R"({"directions": 300, "reference_size": 900})");
    }
    CHECK(one == two);
    CHECK_THROWS_AS(evaluate("sliced_wasserstein", random_matrix(5, 3, 1), m), mdlab::InputError);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("sliced_wasserstein", R"({"p": 3})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("sliced_wasserstein", R"({"directions": 0})"));
}
