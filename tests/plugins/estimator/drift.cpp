// The drift estimator against the empirical estimator plugin and the direct formula.
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

// --------------------------------------------------------------------------- the estimator

TEST_CASE("drift (Gaussian kernel) is tau^2 times the difference of the empirical plugin's smoothed scores",
          "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(200, 3, 41));
    Matrix y = normal_matrix(150, 3, 42, 1.3);
    for (std::size_t i = 0; i < 150; ++i) y(i, 0) += 0.5;
    auto model = std::make_shared<const Matrix>(y);
    const Matrix x = normal_matrix(100, 3, 43, 1.5);
    double worst = 0.0;
    for (double tau : {1.0, 0.3, 0.05}) {
        INFO("tau = " << tau);
        auto drift = make_drift(R"({"kernel": "gaussian", "tau": )" + num(tau) + "}", data, model);
        auto attraction = make_drift(R"({"kernel": "gaussian", "tau": )" + num(tau) + "}", data);
        Matrix v, va, sx, sy;
        drift->score(x, 0.5, v);
        attraction->score(x, 0.5, va);
        make_empirical(data, tau)->score(x, 0.5, sx);
        make_empirical(model, tau)->score(x, 0.5, sy);
        const double t2 = tau * tau;
        for (std::size_t q = 0; q < 100; ++q) {
            double diff = 0, scale = 0, diff_a = 0, scale_a = 0;
            for (std::size_t a = 0; a < 3; ++a) {
                const double want = t2 * sx(q, a) - t2 * sy(q, a);
                diff += (v(q, a) - want) * (v(q, a) - want);
                // relative to the two terms (their difference may cancel)
                scale += t2 * t2 * (sx(q, a) * sx(q, a) + sy(q, a) * sy(q, a));
                diff_a += (va(q, a) - t2 * sx(q, a)) * (va(q, a) - t2 * sx(q, a));
                scale_a += t2 * t2 * sx(q, a) * sx(q, a);
            }
            worst = std::max({worst, std::sqrt(diff / scale), std::sqrt(diff_a / scale_a)});
            CHECK(std::sqrt(diff) <= 1e-12 * std::sqrt(scale));
            CHECK(std::sqrt(diff_a) <= 1e-12 * std::sqrt(scale_a));  // without a model: tau^2 s_X,tau
        }
    }
    WARN("Gaussian drift vs tau^2 (s_X - s_Y) from the empirical plugin: worst relative deviation " << worst);
}

TEST_CASE("drift (Laplace kernel, the default) equals the direct formula; time-independent", "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 51));
    auto model = std::make_shared<const Matrix>(normal_matrix(120, 2, 52, 2.0));
    const Matrix x = normal_matrix(80, 2, 53, 1.2);
    std::size_t underflowing = 0;
    for (double tau : {0.5, 1e-4}) {
        INFO("tau = " << tau);
        auto drift = make_drift(R"({"tau": )" + num(tau) + "}", data, model);
        Matrix v, later;
        drift->score(x, 0.1, v);
        drift->score(x, 0.9, later);
        CHECK(identical(v, later));  // t is ignored
        for (std::size_t q = 0; q < 80; ++q) {
            const Shift a = direct_shift(mdlab::row(x, q), *data, MeanShiftKernel::laplace, tau);
            const Shift b = direct_shift(mdlab::row(x, q), *model, MeanShiftKernel::laplace, tau);
            std::vector<long double> want(2);
            for (std::size_t k = 0; k < 2; ++k) want[k] = a.m[k] - b.m[k];
            underflowing += a.naive_underflow;
            CHECK(abs_error(mdlab::row(v, q), want) <= tolerance(a) + tolerance(b));
        }
    }
    CHECK(underflowing > 40);
}

TEST_CASE("drift: process, dimension and parameter validation", "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(50, 2, 61));
    auto drift = make_drift("{}", data);
    CHECK(drift->dim() == 2);
    try {
        drift->process();
        FAIL("process() without a connected process must throw");
    } catch (const mdlab::Error& e) {
        const std::string what = e.what();
        CHECK(what.find("no forward process") != std::string::npos);
        CHECK(what.find("'process'") != std::string::npos);
    }
    std::shared_ptr<const mdlab::ForwardProcess> proc = std::make_shared<ConstantNoise>(0.3);
    auto with = make_drift("{}", data, nullptr, proc);
    CHECK(&with->process() == proc.get());

    auto wrong = std::make_shared<const Matrix>(normal_matrix(20, 3, 62));
    CHECK(error_key([&] { make_drift("{}", data, wrong); }) == "model");
    CHECK(error_key([&] { make_drift("{}", std::make_shared<const Matrix>(Matrix::from_shape({0, 2}))); }) == "data");
    Matrix nan = normal_matrix(10, 2, 63);
    nan(3, 1) = std::nan("");
    CHECK(error_key([&] { make_drift("{}", data, std::make_shared<const Matrix>(nan)); }) == "model");
    CHECK(error_key([&] { make_drift(R"({"kernel": "cauchy"})", data); }) == "kernel");
    CHECK(error_key([&] { make_drift(R"({"tau": 0})", data); }) == "tau");
    CHECK(error_key([&] { make_drift(R"({"tau": 1e-200})", data); }) == "tau");
    Matrix out;
    CHECK_THROWS_AS(drift->score(normal_matrix(4, 3, 64), 0.5, out), mdlab::Error);
}
