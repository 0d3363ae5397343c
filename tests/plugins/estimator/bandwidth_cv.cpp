// bandwidth "cv" of kernel_smoothed and tangent_smoothed: the held-out loss against its closed
// form for Gaussian data, the estimators against their fixed-bandwidth selves at the recorded h,
// the chosen h against Silverman's rule.
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

TEST_CASE("bandwidth cv: the held-out loss has its closed-form expectation and minimiser", "[bandwidth_cv]") {
    // Held-out points x0 ~ N(0, c^2 I_D) and the candidate scores s_h(x; sigma) = -x / (h^2 + sigma^2)
    // (the noised score of N(0, h^2 I)): sigma s_h(x0 + sigma eps) + eps = (h^2 eps - sigma x0) / (h^2 + sigma^2),
    // so E L(h) = sum_sigma D (h^4 + sigma^2 c^2) / (h^2 + sigma^2)^2, minimised at h = c for every sigma.
    const std::size_t m = 20000, d = 2;
    const double c = 0.3;
    Matrix held = normal_matrix(m, d, 77);
    held *= c;
    mdlab::bandwidth_cv::Grid g{mdlab::bandwidth_cv::geometric(0.05, 1.5, 20), {0.1, 0.3, 1.0}};
    auto gaussian = [](const Matrix& x, double h, double sigma, Matrix& out) { out = x * (-1.0 / (h * h + sigma * sigma)); };
    const mdlab::RandomStream noise(5, "noise");
    const auto r = mdlab::bandwidth_cv::choose(held, g, gaussian, noise);
    REQUIRE(r.loss.size() == g.h.size());
    CHECK(r.held_out == m);
    std::size_t want = 0;
    std::vector<double> expected(g.h.size(), 0.0);
    for (std::size_t j = 0; j < g.h.size(); ++j) {
        const double h2 = g.h[j] * g.h[j];
        for (double s : g.sigma) expected[j] += d * (h2 * h2 + s * s * c * c) / ((h2 + s * s) * (h2 + s * s));
        if (expected[j] < expected[want]) want = j;
        INFO("h = " << g.h[j] << ": loss " << r.loss[j] << ", expected " << expected[j]);
        CHECK(std::abs(r.loss[j] / expected[j] - 1) < 0.03);  // 40000 draws per level: about 1% standard error
    }
    CHECK(r.best == want);
    CHECK(std::abs(std::log(r.h() / c)) < std::log(1.5 / 0.05) / 19);  // within one grid step of c
    // The same streams give the same losses, with 1 or 2 threads.
    mdlab::bandwidth_cv::Result one, two;
    tbb::task_arena(1).execute([&] { one = mdlab::bandwidth_cv::choose(held, g, gaussian, noise); });
    tbb::task_arena(2).execute([&] { two = mdlab::bandwidth_cv::choose(held, g, gaussian, noise); });
    CHECK(one.loss == two.loss);
}

TEST_CASE("bandwidth cv: the 5 folds hold out every point once", "[bandwidth_cv]") {
    Matrix x = Matrix::from_shape({52, 1});
    for (std::size_t i = 0; i < 52; ++i) x(i, 0) = static_cast<double>(i);
    const auto parts = mdlab::bandwidth_cv::split(x, mdlab::RandomStream(3, "split"));
    REQUIRE(parts.size() == 5);
    std::vector<double> held;
    for (const auto& p : parts) {
        CHECK(mdlab::rows(p.held_out) + mdlab::rows(p.fit) == 52);
        CHECK(mdlab::rows(p.fit) >= mdlab::bandwidth_cv::fit_size(52));
        for (std::size_t i = 0; i < mdlab::rows(p.held_out); ++i) {
            held.push_back(p.held_out(i, 0));
            for (std::size_t j = 0; j < mdlab::rows(p.fit); ++j) CHECK(p.fit(j, 0) != p.held_out(i, 0));
        }
    }
    CHECK(mdlab::bandwidth_cv::fit_size(52) == 41);  // folds of 11, 11, 10, 10, 10
    CHECK_FALSE(std::is_sorted(held.begin(), held.end()));  // shuffled
    std::sort(held.begin(), held.end());
    REQUIRE(held.size() == 52);
    for (std::size_t i = 0; i < 52; ++i) CHECK(held[i] == static_cast<double>(i));
    CHECK_THROWS_WITH(mdlab::bandwidth_cv::split(Matrix::from_shape({4, 1}), mdlab::RandomStream(3, "split")),
                      Catch::Matchers::Contains("at least 5"));
}

TEST_CASE("kernel_smoothed and tangent_smoothed with bandwidth cv use the h they record", "[bandwidth_cv]") {
    auto proc = vp();
    auto circle = manifold("circle", R"({"ambient_dim": 3})");
    auto data = draw(*circle, 400);
    for (const std::string name : {"kernel_smoothed", "tangent_smoothed"}) {
        INFO(name);
        const std::string extra = name == "tangent_smoothed" ? R"(, "intrinsic_dim": 1)" : "";
        const CvRun cv = prepare_cv(name, extra, data, proc);
        REQUIRE(cv.table.size() == mdlab::bandwidth_cv::bandwidths);
        REQUIRE(cv.h > 0);
        // The chosen row has the smallest loss, strictly inside the grid (not a boundary artefact).
        std::size_t best = 0, chosen = 0;
        for (std::size_t j = 0; j < cv.table.size(); ++j) {
            if (cv.table[j][1] < cv.table[best][1]) best = j;
            if (cv.table[j][2] == 1.0) chosen = j;
        }
        CHECK(best == chosen);
        CHECK(chosen > 0);
        CHECK(chosen + 1 < cv.table.size());
        // The score is the fixed-bandwidth estimator's at that h, bit for bit.
        char h_text[40];
        std::snprintf(h_text, sizeof h_text, "%.17g", cv.h);
        auto fixed = estimator(name, std::string("{\"bandwidth\": ") + h_text + extra + "}", data, proc);
        for (double t : {0.8, 0.05, 1e-3}) {
            const Matrix x = queries(*data, 40, proc->alpha(t), proc->sigma(t), 11);
            Matrix a, b;
            cv.est->score(x, t, a);
            fixed->score(x, t, b);
            CHECK(identical(a, b));
        }
        // Same choice with 1 and 2 threads.
        double h1 = 0, h2 = 0;
        tbb::task_arena(1).execute([&] { h1 = prepare_cv(name, extra, data, proc).h; });
        tbb::task_arena(2).execute([&] { h2 = prepare_cv(name, extra, data, proc).h; });
        CHECK(h1 == h2);
        CHECK(h1 == cv.h);
    }
}

TEST_CASE("bandwidth cv shrinks with N like a density estimator's bandwidth", "[bandwidth_cv]") {
    // Gaussian data N(0, 1) in D = 1: the MISE-optimal KDE bandwidth is Silverman's
    // (4 / (3 N))^(1/5) ~ N^(-1/5). Held-out score matching is another criterion, but its choice
    // must fall with N at about that rate and sit within a small factor of it (measured: 1.03 and
    // 1.05 times Silverman's at N = 200 and 3200, slope -0.193).
    auto proc = vp();
    std::vector<double> chosen;
    for (std::size_t n : {200, 3200}) {
        auto data = std::make_shared<const Matrix>(normal_matrix(n, 1, 300 + n));
        const double h = prepare_cv("kernel_smoothed", "", data, proc).h;
        const double silverman = std::pow(4.0 / (3.0 * static_cast<double>(n)), 0.2);
        INFO("N = " << n << ": cv h = " << h << ", Silverman " << silverman);
        CHECK(h / silverman > 0.7);
        CHECK(h / silverman < 1.4);
        chosen.push_back(h);
    }
    const double slope = std::log(chosen[1] / chosen[0]) / std::log(16.0);
    INFO("slope of log h against log N: " << slope << " (Silverman -0.2)");
    CHECK(slope < -0.1);
    CHECK(slope > -0.3);
}

TEST_CASE("bandwidth takes a number >= 0 or \"cv\", with a clear error otherwise", "[bandwidth_cv][validation]") {
    auto message_of = [](const std::string& name, const std::string& params) -> std::string {
        try {
            mdlab::test::make<mdlab::ScoreEstimator>(name, params);
        } catch (const mdlab::runtime::BadInput& e) {
            const auto& d = e.diagnostics().at(0);
            return d.key + ": " + d.message;
        }
        return "(no error)";
    };
    using Catch::Matchers::Contains;
    for (const std::string name : {"kernel_smoothed", "tangent_smoothed"}) {
        INFO(name);
        CHECK(message_of(name, R"({"bandwidth": "cv"})") == "(no error)");
        CHECK(message_of(name, R"({"bandwidth": 0.2})") == "(no error)");
        CHECK(message_of(name, R"({"bandwidth": 0})") == "(no error)");
        CHECK_THAT(message_of(name, R"({"bandwidth": "cvv"})"),
                   Contains("bandwidth: ") && Contains("did you mean 'cv'") &&
                       Contains("expected a finite number >= 0 or one of: cv"));
        CHECK_THAT(message_of(name, R"({"bandwidth": true})"),
                   Contains("expected a finite number >= 0 or one of: cv, got a boolean"));
        CHECK_THAT(message_of(name, R"({"bandwidth": -0.5})"), Contains("out of range") && Contains(">= 0"));
    }
    // tangent_smoothed fits its local PCA on each fold's fit set: 12 points leave 9, too few for 10 neighbours.
    auto proc = vp();
    auto data = std::make_shared<const Matrix>(normal_matrix(12, 3, 400));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed",
                                                        R"({"bandwidth": "cv", "intrinsic_dim": 1, "neighbours": 10})");
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    mdlab::test::TestContext ctx;
    try {
        est->prepare(in, ctx);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "neighbours");
        CHECK_THAT(std::string(e.what()), Contains("fits on 9 of the N = 12"));
    }
}
