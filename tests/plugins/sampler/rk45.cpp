// The rk45 sampler: Dormand-Prince steps, tolerance control and the exact Gaussian flow.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>
#include <xtensor/xadapt.hpp>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "rk45_drifting_checks.hpp"

// ------------------------------------------------------------------------------------------ rk45

TEST_CASE("rk45 with the exact Gaussian score samples N(0, s0^2 I) (VP and VE)", "[rk45]") {
    const double s0 = 0.5;
    for (const char* name : {"vp", "ve"}) {
        const auto t0 = std::chrono::steady_clock::now();
        INFO("process " << name);
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 3, s0);
        const auto r = run("rk45", R"({"n": 4000})", est);
        REQUIRE(mdlab::rows(r.samples) == 4000);
        REQUIRE(mdlab::cols(r.samples) == 3);
        check_gaussian(r.samples, s0 * s0);
        // FSAL accounting: one evaluation at T, one for the initial step size, 6 per attempted step.
        CHECK(stat(r, "nfe") == 2 + 6 * (stat(r, "steps") + stat(r, "rejected")));
        WARN("rk45 Gaussian (" << name << "): " << stat(r, "steps") << " steps, " << stat(r, "rejected")
                               << " rejected, nfe " << stat(r, "nfe") << ", " << seconds_since(t0) << " s");
    }
    // Stopped early, the PF-ODE gives p_{t_min} = N(0, (alpha^2 s0^2 + sigma^2) I).
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    const auto r = run("rk45", R"({"n": 4000, "t_min": 0.3})", est);
    check_gaussian(r.samples, est->variance(0.3));
}

TEST_CASE("rk45 meets its tolerance against the exact flow, and the error scales with it", "[rk45][convergence]") {
    const double s0 = 0.5, t_min = 1e-3;
    for (const char* name : {"vp", "ve"}) {
        auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 2, s0);
        mdlab::test::TestContext ctx(5);
        const Matrix x_T = normal_matrix(64, 2, 41, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x_T);
        const Matrix exact = x_T * exact_flow_factor(*est, proc->t_end(), t_min);

        const std::vector<double> tols = {1e-3, 1e-5, 1e-7, 1e-9};
        std::vector<double> errors, nfe;
        std::string report;
        for (double tol : tols) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", tol);
            const auto r = run("rk45", std::string("{\"rtol\": ") + buf + ", \"atol\": " + buf + ", " + with_init(init) + "}",
                               est, ctx);
            double err = 0.0;
            for (std::size_t k = 0; k < exact.size(); ++k) err = std::max(err, std::abs(r.samples.data()[k] - exact.data()[k]));
            errors.push_back(err);
            nfe.push_back(stat(r, "nfe"));
            std::ostringstream line;
            line << "tol " << tol << ": max error " << err << " (" << error_in_tolerances(r.samples, exact, tol)
                 << " tolerances), nfe " << nfe.back() << "; ";
            report += line.str();
            INFO(name << ", tol " << tol);
            CHECK(error_in_tolerances(r.samples, exact, tol) <= 10.0);
        }
        WARN(name << ": " << report);
        for (std::size_t i = 0; i + 1 < tols.size(); ++i) {
            INFO(name << ": tolerance " << tols[i] << " -> " << tols[i + 1] << ", errors " << errors[i] << " -> "
                      << errors[i + 1] << ", nfe " << nfe[i] << " -> " << nfe[i + 1]);
            // Tolerance proportionality: the error shrinks by about the tolerance ratio (100).
            const double ratio = errors[i] / errors[i + 1];
            CHECK(ratio >= 100.0 / 5.0);
            CHECK(ratio <= 100.0 * 5.0);
            CHECK(nfe[i + 1] > nfe[i]);
        }
    }
}

TEST_CASE("rk45 steps are Dormand-Prince steps: stability polynomial, error estimate and controller",
          "[rk45][tableau]") {
    // d xh / du = xh integrated from u = log 3 down to log(2 t_min): y' = -y over a length log(1.5 / t_min).
    auto proc = std::make_shared<LinearNsr>();
    auto est = std::make_shared<LinearScore>(proc);
    mdlab::test::TestContext ctx(3);
    const double x_T = 2.0, t_min = 1e-3;
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, Matrix{{x_T}});
    const double exact = x_T * t_min / 1.5;

    for (double tol : {1e-3, 1e-6, 1e-9}) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", tol);
        const auto r = run("rk45",
                           std::string("{\"rtol\": ") + buf + ", \"atol\": " + buf + ", \"record_every\": 1, " +
                               with_init(init) + "}",
                           est, ctx);
        const double err = std::abs(r.samples(0, 0) - exact);
        INFO("tol " << tol << ": " << stat(r, "steps") << " steps, " << stat(r, "rejected") << " rejected, error "
                    << err << " against exp");
        CHECK(err <= 10.0 * tol * (1.0 + exact));

        // Each accepted step multiplies x by the 5th-order stability polynomial of Dormand-Prince,
        // R(z) = sum_{k<=5} z^k / k! + z^6 / 600 (b^T A^5 1 = 1/600, not exp's 1/720), z = h < 0.
        std::vector<std::size_t> shape;
        const std::vector<double> frames = read_npy(ctx.output_dir() / "test.trajectory.npy", shape);
        const Matrix times = mdlab::npy::read(ctx.output_dir() / "test.trajectory_t.npy");
        REQUIRE(shape.size() == 3);
        REQUIRE(shape[0] == std::size_t(stat(r, "steps")) + 1);
        REQUIRE(mdlab::rows(times) == shape[0]);
        CHECK(times(0, 0) == 1.5);
        CHECK(times(shape[0] - 1, 0) == t_min);
        CHECK(frames.back() == r.samples(0, 0));
        double largest_gap = 0.0;  // largest |R(z) - Taylor-6 of exp| seen: the 1/600 must be visible
        std::vector<double> h, norm, rounding;
        for (std::size_t i = 0; i + 1 < shape[0]; ++i) {
            const double z = std::log(times(i + 1, 0) / times(i, 0));  // u = log(2 t)
            const double R = 1 + z * (1 + z * (1.0 / 2 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z / 600)))));
            const double taylor6 = R - std::pow(z, 6) / 600 + std::pow(z, 6) / 720;
            INFO("step " << i << ": z = " << z);
            CHECK(frames[i + 1] / frames[i] == Approx(R).epsilon(1e-11));
            largest_gap = std::max(largest_gap, std::abs(R - taylor6));
            // The embedded 4th-order solution has R_hat(z) = 1 + z + ... + z^4/24 + 1097/120000 z^5
            // + 161/120000 z^6 + z^7/24000, so the error estimate is x (R - R_hat), scaled by
            // atol + rtol max(|x_old|, |x_new|) (one value: the RMS is its absolute value).
            const double e = frames[i] * (-97.0 / 120000 * std::pow(z, 5) + 39.0 / 120000 * std::pow(z, 6) -
                                          std::pow(z, 7) / 24000);
            h.push_back(-z);
            norm.push_back(std::abs(e) / (tol + tol * std::max(std::abs(frames[i]), std::abs(frames[i + 1]))));
            // The plugin forms e as h sum_i E_i k_i with k_i ~ x and sum |E_i| = 0.16: its relative
            // rounding error is about 10 eps 0.16 |h x| / |e| (large on tiny first steps), and a
            // fifth of it reaches the next step size.
            rounding.push_back(10 * 2.2e-16 * 0.16 * std::abs(z * frames[i]) / std::abs(e) / 5);
            CHECK(norm.back() < 1.0);  // accepted steps pass the test
        }
        // The per-step check (relative 1e-11) must tell 1/600 from 1/720 on some step.
        INFO("largest |R(z) - exp's Taylor polynomial| " << largest_gap);
        CHECK(largest_gap >= 100 * 1e-11);
        // This smooth problem needs no rejection, so every step but the clipped last one follows
        // the controller: h_{i+1} = h_i min(10, 0.9 norm_i^(-1/5)).
        REQUIRE(stat(r, "rejected") == 0);
        for (std::size_t i = 0; i + 2 < h.size(); ++i)
            CHECK(h[i + 1] == Approx(h[i] * std::min(10.0, 0.9 * std::pow(norm[i], -0.2))).epsilon(1e-10 + rounding[i]));
        CHECK(h.back() <= h[h.size() - 2] * std::min(10.0, 0.9 * std::pow(norm[h.size() - 2], -0.2)) * (1 + 1e-9));
        WARN("linear ODE, tol " << tol << ": " << stat(r, "steps") << " steps, error " << err << ", largest z "
                                << *std::max_element(h.begin(), h.end()));
    }
}

TEST_CASE("rk45 measures the error as an RMS over the batch", "[rk45]") {
    // A batch of identical rows has the same RMS error norm as one row, hence the same steps.
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("ve");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    mdlab::test::TestContext ctx(4);
    const Matrix one{{30.0, -12.0}};
    Matrix many = Matrix::from_shape({50, 2});
    for (std::size_t i = 0; i < 50; ++i) many(i, 0) = 30.0, many(i, 1) = -12.0;
    const auto f1 = ctx.output_dir() / "one.npy", f2 = ctx.output_dir() / "many.npy";
    mdlab::npy::write(f1, one);
    mdlab::npy::write(f2, many);
    const auto a = run("rk45", "{" + with_init(f1) + "}", est, ctx);
    const auto b = run("rk45", "{" + with_init(f2) + "}", est, ctx);
    CHECK(stat(a, "nfe") == stat(b, "nfe"));
    CHECK(stat(a, "steps") == stat(b, "steps"));
    for (std::size_t i = 0; i < 50; ++i)
        for (std::size_t j = 0; j < 2; ++j) CHECK(b.samples(i, j) == Approx(a.samples(0, j)).epsilon(1e-12));
}

TEST_CASE("rk45: init, denoise, determinism, threads, trajectory", "[rk45]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 3, 0.5);
    mdlab::test::TestContext ctx(13);
    const Matrix x0 = normal_matrix(300, 3, 61);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);

    const auto a = run("rk45", "{\"n\": 1000, " + with_init(init) + "}", est, ctx);
    const auto b = run("rk45", "{\"n\": 1000, " + with_init(init) + "}", est, ctx);
    REQUIRE(mdlab::rows(a.samples) == 300);
    CHECK(identical(a.samples, b.samples));
    const double ratio = exact_flow_factor(*est, proc->t_end(), 1e-3);
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(a.samples.data()[k] == Approx(ratio * x0.data()[k]).epsilon(1e-3));

    // Tweedie at the end: one more evaluation.
    const auto den = run("rk45", "{\"denoise\": true, " + with_init(init) + "}", est, ctx);
    CHECK(stat(den, "nfe") == stat(a, "nfe") + 1);
    const double factor = est->denoise_factor(1e-3);
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(den.samples.data()[k] == Approx(factor * a.samples.data()[k]).epsilon(1e-12));

    // Wrong dimension of the init file.
    const auto bad = ctx.output_dir() / "bad.npy";
    mdlab::npy::write(bad, normal_matrix(5, 2, 62));
    CHECK(input_error_key([&] { run("rk45", "{" + with_init(bad) + "}", est, ctx); }) == "init");

    // Trajectory: the initial state, every 2nd accepted step and the final state.
    mdlab::test::TestContext rec(14, "traj");
    const auto t = run("rk45", R"({"n": 20, "record_every": 2})", est, rec);
    std::vector<std::size_t> shape;
    const std::vector<double> frames = read_npy(rec.output_dir() / "traj.trajectory.npy", shape);
    const std::size_t steps = std::size_t(stat(t, "steps"));
    REQUIRE(shape == std::vector<std::size_t>{steps / 2 + 1 + (steps % 2), 20, 3});
    CHECK(std::equal(t.samples.data(), t.samples.data() + 60, frames.end() - 60));
    const Matrix times = mdlab::npy::read(rec.output_dir() / "traj.trajectory_t.npy");
    CHECK(times(0, 0) == proc->t_end());
    CHECK(times(mdlab::rows(times) - 1, 0) == 1e-3);
    for (std::size_t i = 0; i + 1 < mdlab::rows(times); ++i) CHECK(times(i + 1, 0) < times(i, 0));

    // Identical with 1 and 2 threads (the empirical score: real work in parallel).
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 71));
    auto emp = empirical_score(data, proc);
    mdlab::SampleResult one, two;
    const std::string params = R"({"n": 2000, "rtol": 1e-4, "atol": 1e-4, "t_min": 0.01})";
    tbb::task_arena(1).execute([&] { one = run("rk45", params, emp, 21); });
    tbb::task_arena(2).execute([&] { two = run("rk45", params, emp, 21); });
    CHECK(identical(one.samples, two.samples));
    CHECK(stat(one, "nfe") == stat(two, "nfe"));
}

TEST_CASE("rk45 reports progress, honours cancellation, catches divergence and its step cap", "[rk45]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    RecordingContext ctx(3);
    const auto r = run("rk45", R"({"n": 10})", est, ctx);
    REQUIRE(ctx.fractions.size() == std::size_t(stat(r, "steps")));
    for (std::size_t i = 0; i + 1 < ctx.fractions.size(); ++i) CHECK(ctx.fractions[i] < ctx.fractions[i + 1]);
    CHECK(ctx.fractions.front() > 0.0);
    CHECK(ctx.fractions.back() == 1.0);

    RecordingContext stop(3);
    stop.cancel = true;
    CHECK_THROWS_WITH(run("rk45", R"({"n": 10})", est, stop), Contains("cancelled"));

    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    CHECK_THROWS_WITH(run("rk45", R"({"n": 10})", broken), Contains("diverged"));

    CHECK(input_error_key([&] { run("rk45", R"({"n": 10, "steps": 3, "rtol": 1e-10, "atol": 1e-10})", est); }) ==
          "steps");
    CHECK(input_error_key([&] { run("rk45", R"({"n": 10, "t_min": 1.0})", est); }) == "t_min");
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("rk45", R"({"atol": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("rk45", R"({"rtol": -1})"));
}
