// Tests that check several softmax-family estimators (empirical, kernel_smoothed,
// tangent_smoothed) in one test case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/bandwidth_cv.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "tangent_reference.hpp"

// =============================================================================================
// The plain kernel through the plugins.

TEST_CASE("empirical and kernel_smoothed equal a two-pass softmax", "[empirical][kernel_smoothed]") {
    auto proc = vp();
    const double t_tiny = time_for_variance(*proc, 1e-6);
    Tally emp, ks;
    for (std::size_t d : {2, 16}) {
        for (std::size_t n : {1, 130, 203}) {  // one partial 64-key block; several with a partial last one
            auto data = std::make_shared<const Matrix>(normal_matrix(n, d, 40 + d * 3 + n));
            auto empirical = estimator("empirical", "{}", data, proc);
            for (double h : {0.0, 0.05, 0.3}) {
                auto smooth = estimator("kernel_smoothed", "{\"bandwidth\": " + std::to_string(h) + "}", data, proc);
                for (double t : {1.0, 0.3, 0.05, t_tiny}) {
                    const double a = proc->alpha(t), s = proc->sigma(t);
                    const Matrix x = queries(*data, 31, a, s, 700 + d + n + static_cast<std::uint64_t>(1000 * h));
                    Matrix got_e, got_k;
                    empirical->score(x, t, got_e);
                    smooth->score(x, t, got_k);
                    if (h == 0.0) {
                        CHECK(identical(got_e, got_k));  // v = sigma^2 + 0 exactly
                        continue;
                    }
                    const double v = s * s + a * a * h * h;
                    for_rows(x, [&](std::size_t q, const double* xq) {
                        INFO("D = " << d << ", N = " << n << ", h = " << h << ", t = " << t << ", query " << q);
                        const Reference re = reference(xq, *data, a, s * s);
                        const double ee = abs_error(mdlab::row(got_e, q), re.score);
                        CHECK(ee <= tolerance(re));
                        const Reference rk = reference(xq, *data, a, v);
                        const double ek = abs_error(mdlab::row(got_k, q), rk.score);
                        CHECK(ek <= tolerance(rk));
                        if (h == 0.05) emp.add(ee, re);
                        ks.add(ek, rk);
                    });
                }
            }
        }
    }
    WARN("empirical: worst relative error " << emp.worst << ", " << emp.above << " of " << emp.rows
         << " rows above 1e-12 (within their condition); kernel_smoothed: worst " << ks.worst << ", "
         << ks.above << " of " << ks.rows);
    CHECK(emp.above <= emp.rows / 50);
    CHECK(ks.above <= ks.rows / 50);
}

// =============================================================================================
// Parameter validation.

TEST_CASE("kernel_smoothed and tangent_smoothed validate their parameters and inputs", "[validation]") {
    using Catch::Matchers::Contains;
    auto key_of = [](const std::function<void()>& f) -> std::string {
        try {
            f();
        } catch (const mdlab::InputError& e) {
            return e.key();
        } catch (const mdlab::runtime::BadInput& e) {
            return e.diagnostics().at(0).key;
        }
        return "(no error)";
    };
    auto proc = vp();
    auto data = std::make_shared<const Matrix>(normal_matrix(12, 3, 400));
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("kernel_smoothed", R"({"bandwidth": -0.1})"); }) ==
          "bandwidth");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"bandwidth": -1})"); }) ==
          "bandwidth");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"neighbours": 0})"); }) ==
          "neighbours");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"neighbours": 33})"); }) ==
          "neighbours");
    // intrinsic_dim = 0 and no manifold.
    CHECK(key_of([&] { estimator("tangent_smoothed", "{}", data, proc); }) == "intrinsic_dim");
    // intrinsic_dim >= D.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 3})", data, proc); }) == "intrinsic_dim");
    auto mixture = manifold("gaussian_mixture", R"({"ambient_dim": 3})");  // intrinsic dimension D
    CHECK(key_of([&] { estimator("tangent_smoothed", "{}", data, proc, mixture); }) == "intrinsic_dim");
    // neighbours < intrinsic_dim, neighbours >= N.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 2, "neighbours": 1})", data, proc); }) ==
          "neighbours");
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 1, "neighbours": 12})", data, proc); }) ==
          "neighbours");
    // Valid: 11 neighbours of 12 points.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 1, "neighbours": 11})", data, proc); }) ==
          "(no error)");
    // Empty training set; wrong query dimension.
    auto empty = std::make_shared<const Matrix>(Matrix::from_shape({0, 3}));
    CHECK(key_of([&] { estimator("kernel_smoothed", "{}", empty, proc); }) == "data");
    auto ks = estimator("kernel_smoothed", "{}", data, proc);
    Matrix out;
    CHECK_THROWS_WITH(ks->score(normal_matrix(2, 4, 1), 0.5, out), Contains("4 columns") && Contains("dimension 3"));
    CHECK(ks->dim() == 3);
    CHECK(&ks->process() == proc.get());
}
