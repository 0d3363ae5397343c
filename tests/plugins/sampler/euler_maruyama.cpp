// The euler_maruyama sampler against the exact Gaussian score and the empirical score.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

TEST_CASE("euler_maruyama with the exact Gaussian score samples N(0, s0^2 I) (VP)", "[euler_maruyama]") {
    const auto t0 = std::chrono::steady_clock::now();
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const double s0 = 0.5;
    const std::size_t n = 4000, d = 3, steps = 500;
    auto est = std::make_shared<GaussianScore>(proc, d, s0);

    // Independent check that the scheme's discretisation bias is negligible at this step count:
    // for a linear score the EM recursion is x <- m_i x + sqrt(g2 h) z, so its variance is exact.
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
    double var = proc->prior_std() * proc->prior_std();
    for (std::size_t i = 0; i < steps; ++i) {
        const double h = t[i] - t[i + 1];
        const double m = 1.0 - h * (proc->drift_rate(t[i]) + proc->g2(t[i]) / est->variance(t[i]));
        var = m * m * var + (i + 1 < steps ? proc->g2(t[i]) * h : 0.0);
    }
    const double bias = std::abs(var - s0 * s0);
    INFO("variance of the discrete scheme " << var << ", target " << s0 * s0);
    REQUIRE(bias <= 0.1 * s0 * s0 * std::sqrt(2.0 / double(n)));

    const auto r = run("euler_maruyama", R"({"n": 4000, "steps": 500})", est);
    REQUIRE(mdlab::rows(r.samples) == n);
    REQUIRE(mdlab::cols(r.samples) == d);
    check_gaussian(r.samples, s0 * s0, bias);
    CHECK(stat(r, "nfe") == 500);
    CHECK(stat(r, "steps") == 500);
    WARN("euler_maruyama Gaussian test: " << seconds_since(t0) << " s");
}

TEST_CASE("euler_maruyama with the empirical score lands on training points", "[euler_maruyama][empirical]") {
    const auto t0 = std::chrono::steady_clock::now();
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const std::size_t N = 20, d = 2;
    auto data = std::make_shared<const Matrix>(normal_matrix(N, d, 51));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    // Smallest distance between two training points: the scale that "tiny" is measured against.
    double spacing = 1e300;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t k = i + 1; k < N; ++k)
            spacing = std::min(spacing, std::hypot((*data)(i, 0) - (*data)(k, 0), (*data)(i, 1) - (*data)(k, 1)));

    // Distances to the nearest and second-nearest training points.
    auto nearest = [&](const Matrix& y, std::vector<double>& d1, std::vector<double>& d2) {
        d1.assign(mdlab::rows(y), 1e300);
        d2.assign(mdlab::rows(y), 1e300);
        for (std::size_t q = 0; q < mdlab::rows(y); ++q)
            for (std::size_t i = 0; i < N; ++i) {
                const double dist = std::hypot(y(q, 0) - (*data)(i, 0), y(q, 1) - (*data)(i, 1));
                if (dist < d1[q]) d2[q] = d1[q], d1[q] = dist;
                else if (dist < d2[q]) d2[q] = dist;
            }
    };

    std::vector<double> d1, d2;
    auto summary = [&](const Matrix& y, double& worst, double& median, double& memorised) {
        nearest(y, d1, d2);
        std::vector<double> sorted = d1;
        std::sort(sorted.begin(), sorted.end());
        worst = sorted.back();
        median = sorted[sorted.size() / 2];
        std::size_t count = 0;
        for (std::size_t q = 0; q < d1.size(); ++q) count += d1[q] / d2[q] < 1.0 / 3.0;
        memorised = double(count) / double(d1.size());
    };

    // Down to t_min = 1e-5. EM's last (noise-free) step moves x by h g^2/sigma^2 (a x_i - x): it
    // lands on a x_i up to |1 - g^2 h / sigma^2| sigma(t_1), about 5% of sigma(t_1) = 0.007 here.
    double worst, median, memorised;
    const auto full = run("euler_maruyama", R"({"n": 500, "steps": 2000, "t_min": 1e-5})", est);
    summary(full.samples, worst, median, memorised);
    WARN("run to t_min = 1e-5: distance to the nearest training point: median " << median << ", max " << worst
         << " (closest training pair " << spacing << "), memorised fraction " << memorised);
    CHECK(worst <= 0.01 * spacing);
    CHECK(median <= 0.002 * spacing);
    CHECK(memorised == 1.0);
    const double full_median = median;

    // Stopped early at t_min = 0.2 (alpha = 0.81, sigma = 0.58) the samples are still noisy.
    const auto early = run("euler_maruyama", R"({"n": 500, "steps": 2000, "t_min": 0.2})", est);
    summary(early.samples, worst, median, memorised);
    WARN("stopped at t_min = 0.2: median distance " << median << ", memorised fraction " << memorised);
    CHECK(median >= 0.1);
    CHECK(median >= 100 * full_median);
    CHECK(memorised <= 0.5);
    WARN("euler_maruyama memorisation test: " << seconds_since(t0) << " s");
}
