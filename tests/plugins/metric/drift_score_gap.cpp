// The drift_score_gap metric against a direct computation of its figures (SCIENCE.md section 5,
// claim 4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/kernels/mean_shift_decomposition.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "mean_shift_reference.hpp"

// ------------------------------------------------------------------------------ the metric

TEST_CASE("drift_score_gap equals a direct computation of its figures, self-interaction masked",
          "[drift_score_gap][claim4]") {
    auto y = std::make_shared<const Matrix>(normal_matrix(40, 3, 71, 1.3));
    auto x = std::make_shared<const Matrix>(normal_matrix(60, 3, 72));
    for (const char* kernel : {"laplace", "gaussian"}) {
        const auto k = mdlab::kernels::mean_shift_kernel(kernel);
        long double rx2 = 0, mx2 = 0, ry2 = 0, my2 = 0, rv2 = 0, v2 = 0;
        for (std::size_t i = 0; i < 40; ++i) {
            const double* q = mdlab::row(*y, i);
            const Parts px = direct_parts(q, *x, k, 0.7, mdlab::kernels::keep_all), py = direct_parts(q, *y, k, 0.7, i);
            for (std::size_t a = 0; a < 3; ++a) {
                rx2 += px.r[a] * px.r[a], mx2 += px.m[a] * px.m[a], ry2 += py.r[a] * py.r[a], my2 += py.m[a] * py.m[a];
                rv2 += (px.r[a] - py.r[a]) * (px.r[a] - py.r[a]), v2 += (px.m[a] - py.m[a]) * (px.m[a] - py.m[a]);
            }
        }
        const auto r = gap(std::string(R"({"tau": 0.7, "kernel": ")") + kernel + "\"}", y, x);
        INFO(kernel);
        CHECK(value(r, "n_queries") == 40);
        CHECK(value(r, "drift_rms") == Approx(double(std::sqrt(v2 / 40))).epsilon(1e-12));
        CHECK(value(r, "identity_error") <= 1e-14);
        if (k == MeanShiftKernel::gaussian) {
            CHECK(value(r, "residual_rel") <= 1e-14);
            CHECK(value(r, "drift_residual_rel") <= 1e-13);
            CHECK(value(r, "cosine") == Approx(1.0).epsilon(1e-13));
            CHECK(value(r, "spread") == 0.0);
        } else {
            CHECK(double(std::sqrt(rx2 / mx2)) >= 0.01);  // a real residual, measured to 1e-6
            CHECK(value(r, "residual_rel") == Approx(double(std::sqrt(rx2 / mx2))).epsilon(1e-6));
            CHECK(value(r, "model_residual_rel") == Approx(double(std::sqrt(ry2 / my2))).epsilon(1e-6));
            CHECK(value(r, "drift_residual_rel") == Approx(double(std::sqrt(rv2 / v2))).epsilon(1e-6));
            CHECK(value(r, "spread") > 0.0);
        }
    }
}

TEST_CASE("drift_score_gap: on a manifold the Laplace residual depends on the intrinsic, not the ambient, dimension",
          "[drift_score_gap][claim4]") {
    // The same circle points in R^2 and embedded by a random isometry in R^40: every distance is
    // the same, so the decomposition is too (to rounding); the residual is O(1) at the data scale.
    auto embed = [](const Matrix& z) {
        mdlab::Rng rng(77);
        const mdlab::Isometry iso = mdlab::Isometry::random(40, 2, rng);
        Matrix x = Matrix::from_shape({mdlab::rows(z), 40});
        for (std::size_t i = 0; i < mdlab::rows(z); ++i) iso.embed_row(mdlab::row(z, i), mdlab::row(x, i));
        return std::make_shared<const Matrix>(x);
    };
    auto data2 = std::make_shared<const Matrix>(circle(400, 2, 0.0, 130));
    auto model2 = std::make_shared<const Matrix>(circle(100, 2, 0.0, 131));
    auto data40 = embed(*data2), model40 = embed(*model2);
    const auto low = gap(R"({"tau": 0.2})", model2, data2), high = gap(R"({"tau": 0.2})", model40, data40);
    for (const char* name : {"residual_rel", "model_residual_rel", "drift_residual_rel", "spread"})
        CHECK(value(low, name) == Approx(value(high, name)).epsilon(1e-9));
    CHECK(value(low, "residual_rel") > 0.3);
    WARN("circle, tau 0.2: Laplace residual_rel " << value(low, "residual_rel") << " in R^2, "
                                                  << value(high, "residual_rel") << " in R^40");
}

TEST_CASE("drift_score_gap: query subsets, reproducibility, validation", "[drift_score_gap]") {
    auto data = std::make_shared<const Matrix>(circle(300, 3, 0.0, 101));
    auto model = std::make_shared<const Matrix>(circle(200, 3, 0.05, 102));
    const auto all = gap(R"({"tau": 0.2})", model, data);
    const auto big = gap(R"({"tau": 0.2, "queries": 500})", model, data);
    CHECK(value(all, "n_queries") == 200);
    CHECK(value(big, "residual_rel") == value(all, "residual_rel"));
    const auto sub = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto again = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto other = gap(R"({"tau": 0.2, "queries": 50})", model, data, 6);
    CHECK(value(sub, "n_queries") == 50);
    CHECK(value(sub, "model_residual_rel") == value(again, "model_residual_rel"));
    CHECK(value(sub, "drift_rms") != value(other, "drift_rms"));

    auto wrong = std::make_shared<const Matrix>(normal_matrix(10, 2, 103));
    CHECK(error_key([&] { gap("{}", model, wrong); }) == "data");
    Matrix nan = *model;
    nan(7, 2) = std::nan("");
    CHECK(error_key([&] { gap("{}", std::make_shared<const Matrix>(nan), data); }) == "samples");
    CHECK(error_key([&] { gap(R"({"kernel": "box"})", model, data); }) == "kernel");
    CHECK(error_key([&] { gap(R"({"tau": -1})", model, data); }) == "tau");
    CHECK(error_key([&] { gap(R"({"queries": -1})", model, data); }) == "queries");
    CHECK(error_key([&] { gap(R"({"mask_self": false})", model, data); }) == "mask_self");
    CHECK(error_key([&] { gap(R"({"kernel": "gaussian", "mask_self": false})", model, data); }) == "<none>");
}
