// The euler_maruyama and pf_ode_heun samplers against closed forms: Gaussian data N(0, s0^2 I)
// has the exact score s(x, t) = -x / (alpha^2 s0^2 + sigma^2) and an exact probability-flow map.
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

TEST_CASE("pf_ode_heun with the exact Gaussian score samples N(0, s0^2 I) (VP and VE)", "[pf_ode_heun]") {
    const double s0 = 0.5;
    for (const char* name : {"vp", "ve"}) {
        for (const char* grid : {"uniform", "karras"}) {
            const auto t0 = std::chrono::steady_clock::now();
            INFO("process " << name << ", grid " << grid);
            auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
            auto est = std::make_shared<GaussianScore>(proc, 3, s0);
            const auto r = run("pf_ode_heun", std::string(R"({"n": 4000, "steps": 40, "grid": ")") + grid + "\"}", est);
            REQUIRE(mdlab::rows(r.samples) == 4000);
            check_gaussian(r.samples, s0 * s0);
            CHECK(stat(r, "nfe") == 80);
            CHECK(stat(r, "steps") == 40);
            WARN("pf_ode_heun Gaussian test (" << name << ", " << grid << "): " << seconds_since(t0) << " s");
        }
    }
    // Stopped early, the PF-ODE (same marginals as the SDE) gives p_{t_min} = N(0, (alpha^2 s0^2 + sigma^2) I).
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    const auto r = run("pf_ode_heun", R"({"n": 4000, "steps": 40, "t_min": 0.3})", est);
    INFO("stopped at t = 0.3: alpha = " << proc->alpha(0.3) << ", target variance " << est->variance(0.3));
    check_gaussian(r.samples, est->variance(0.3));
}

TEST_CASE("pf_ode_heun converges to the exact flow with order 2", "[pf_ode_heun][convergence]") {
    const double s0 = 0.5, t_min = 1e-3;
    for (const char* name : {"vp", "ve"}) {
        for (const char* grid : {"uniform", "karras"}) {
            auto proc = mdlab::test::make<mdlab::ForwardProcess>(name);
            auto est = std::make_shared<GaussianScore>(proc, 2, s0);
            mdlab::test::TestContext ctx(5);
            const Matrix x_T = normal_matrix(64, 2, 41, proc->prior_std());
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, x_T);
            // Exact PF-ODE map for Gaussian data: x(t_min) = x(T) sqrt(var(t_min) / var(T)).
            const Matrix exact = x_T * std::sqrt(est->variance(t_min) / est->variance(proc->t_end()));

            std::vector<double> errors;
            std::string ratios;
            for (int steps : {8, 16, 32, 64, 128}) {
                const auto r = run("pf_ode_heun",
                                   "{\"steps\": " + std::to_string(steps) + ", \"grid\": \"" + grid +
                                       "\", \"init\": \"" + init.string() + "\"}",
                                   est, ctx);
                double err = 0.0, scale = 0.0;
                for (std::size_t k = 0; k < exact.size(); ++k) {
                    err = std::max(err, std::abs(r.samples.data()[k] - exact.data()[k]));
                    scale = std::max(scale, std::abs(exact.data()[k]));
                }
                errors.push_back(err / scale);
            }
            // Least-squares slope of log(error) against log(step size) and the successive ratios.
            double sx = 0, sy = 0, sxx = 0, sxy = 0;
            const std::size_t m = errors.size();
            for (std::size_t i = 0; i < m; ++i) {
                const double lx = -std::log(8.0 * std::pow(2.0, double(i))), ly = std::log(errors[i]);
                sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
            }
            const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
            for (std::size_t i = 0; i + 1 < m; ++i) ratios += std::to_string(errors[i] / errors[i + 1]) + " ";
            INFO(name << " / " << grid << ": errors " << errors.front() << " .. " << errors.back()
                      << ", ratios " << ratios << ", fitted order " << slope);
            WARN(name << " / " << grid << ": relative errors " << errors.front() << " (8 steps) .. "
                      << errors.back() << " (128 steps), ratios " << ratios << ", fitted order " << slope);
            CHECK(slope == Approx(2.0).margin(0.25));
            // The last halvings are in the asymptotic regime.
            for (std::size_t i = m - 3; i + 1 < m; ++i) {
                CHECK(errors[i] / errors[i + 1] >= 3.2);
                CHECK(errors[i] / errors[i + 1] <= 4.8);
            }
        }
    }
}

TEST_CASE("pf_ode_heun on VE is k-diffusion's sample_heun without churn", "[pf_ode_heun]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("ve");
    const double s0 = 0.7, t_min = 2e-3;
    const std::size_t steps = 12;
    auto est = std::make_shared<GaussianScore>(proc, 2, s0);
    mdlab::test::TestContext ctx(9);
    const Matrix x_T = normal_matrix(10, 2, 43, proc->prior_std());
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x_T);
    const auto r = run("pf_ode_heun",
                       R"({"steps": 12, "grid": "karras", "t_min": 0.002, "init": ")" + init.string() + "\"}",
                       est, ctx);

    // k_diffusion.sampling.sample_heun (s_churn = 0) with sigmas from the same grid and the
    // Gaussian denoiser D(x, sigma) = s0^2 x / (s0^2 + sigma^2).
    const std::vector<double> t = mdlab::time_grid(*proc, "karras", steps, t_min, 7.0);
    auto denoiser = [&](double x, double sigma) { return s0 * s0 * x / (s0 * s0 + sigma * sigma); };
    for (std::size_t k = 0; k < x_T.size(); ++k) {
        double x = x_T.data()[k];
        for (std::size_t i = 0; i < steps; ++i) {
            const double sig = proc->sigma(t[i]), sig_next = proc->sigma(t[i + 1]);
            const double dd = (x - denoiser(x, sig)) / sig;
            const double dt = sig_next - sig;
            const double x2 = x + dd * dt;
            const double d2 = (x2 - denoiser(x2, sig_next)) / sig_next;
            x = x + (dd + d2) / 2 * dt;
        }
        CHECK(r.samples.data()[k] == Approx(x).epsilon(1e-12));
    }
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

TEST_CASE("samplers start from a .npy init file", "[euler_maruyama][pf_ode_heun][init]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const double s0 = 0.5;
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    mdlab::test::TestContext ctx(13);
    const Matrix x0 = normal_matrix(300, 3, 61);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);
    const std::string with_init = "\"init\": \"" + init.string() + "\"";

    // Two runs from the file are identical, have the file's row count (not n), and differ from
    // a run from prior draws.
    const auto a = run("euler_maruyama", "{\"n\": 1000, \"steps\": 50, " + with_init + "}", est, ctx);
    const auto b = run("euler_maruyama", "{\"n\": 1000, \"steps\": 50, " + with_init + "}", est, ctx);
    const auto prior = run("euler_maruyama", R"({"n": 300, "steps": 50})", est, ctx);
    REQUIRE(mdlab::rows(a.samples) == 300);
    CHECK(identical(a.samples, b.samples));
    CHECK(!identical(a.samples, prior.samples));

    // One step is the noise-free last step: x1 = x0 - h (f(x0, T) - g^2(T) s(x0, T)), from the file's points.
    const auto one = run("euler_maruyama", "{\"steps\": 1, \"t_min\": 0.5, " + with_init + "}", est, ctx);
    const double T = proc->t_end(), h = T - 0.5;
    const double factor = 1.0 - h * (proc->drift_rate(T) + proc->g2(T) / est->variance(T));
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(one.samples.data()[k] == Approx(factor * x0.data()[k]).epsilon(1e-13));

    // pf_ode_heun reads it too: deterministic, so identical runs and the file's points are used.
    const auto h1 = run("pf_ode_heun", "{\"steps\": 200, " + with_init + "}", est, ctx);
    const auto h2 = run("pf_ode_heun", "{\"steps\": 200, " + with_init + "}", est, ctx);
    REQUIRE(mdlab::rows(h1.samples) == 300);
    CHECK(identical(h1.samples, h2.samples));
    const double ratio = std::sqrt(est->variance(1e-3) / est->variance(T));
    for (std::size_t k = 0; k < x0.size(); ++k) CHECK(h1.samples.data()[k] == Approx(ratio * x0.data()[k]).epsilon(1e-3));

    // A file of the wrong dimension is refused.
    const auto bad = ctx.output_dir() / "bad.npy";
    mdlab::npy::write(bad, normal_matrix(5, 2, 62));
    CHECK_THROWS_AS(run("euler_maruyama", "{\"init\": \"" + bad.string() + "\"}", est, ctx), mdlab::InputError);
}

TEST_CASE("denoise applies the Tweedie step at t_min", "[euler_maruyama][pf_ode_heun][denoise]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const double t_min = 0.05;
    const double factor = est->denoise_factor(t_min);
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        const std::string common = R"("n": 500, "steps": 30, "t_min": 0.05)";
        const auto plain = run(sampler, "{" + common + "}", est);
        const auto den = run(sampler, "{" + common + R"(, "denoise": true})", est);
        const double per_step = std::string(sampler) == "pf_ode_heun" ? 2.0 : 1.0;
        CHECK(stat(plain, "nfe") == per_step * 30);
        CHECK(stat(den, "nfe") == per_step * 30 + 1);
        for (std::size_t k = 0; k < plain.samples.size(); ++k)
            CHECK(den.samples.data()[k] == Approx(factor * plain.samples.data()[k]).epsilon(1e-12));
    }
}

TEST_CASE("samplers give identical results with 1 and 2 threads", "[euler_maruyama][pf_ode_heun][threads]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 71));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        mdlab::SampleResult one, two;
        const std::string params = R"({"n": 2000, "steps": 40, "denoise": true})";
        tbb::task_arena(1).execute([&] { one = run(sampler, params, est, 21); });
        tbb::task_arena(2).execute([&] { two = run(sampler, params, est, 21); });
        CHECK(identical(one.samples, two.samples));
    }
}

TEST_CASE("samplers report progress, honour cancellation and catch divergence", "[euler_maruyama][pf_ode_heun]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        RecordingContext ctx(3);
        run(sampler, R"({"n": 10, "steps": 10})", est, ctx);
        REQUIRE(ctx.fractions.size() == 10);
        for (std::size_t i = 0; i < 10; ++i) CHECK(ctx.fractions[i] == Approx(double(i + 1) / 10.0));

        RecordingContext stop(3);
        stop.cancel = true;
        CHECK_THROWS_WITH(run(sampler, R"({"n": 10, "steps": 10})", est, stop), Contains("cancelled"));

        CHECK_THROWS_WITH(run(sampler, R"({"n": 10, "steps": 10})", broken), Contains("diverged"));
    }
}

namespace {
// A float64 C-order .npy file of any rank, read byte by byte (npy::read takes 1-D and 2-D only):
// checks the magic, the header and that the payload size matches the shape exactly.
struct RawNpy {
    std::vector<std::size_t> shape;
    std::vector<double> data;
};
RawNpy read_raw_npy(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() >= 10);
    REQUIRE(bytes.compare(0, 6, "\x93NUMPY") == 0);
    REQUIRE(bytes[6] == 1);
    const std::size_t hlen = std::size_t(static_cast<unsigned char>(bytes[8])) |
                             (std::size_t(static_cast<unsigned char>(bytes[9])) << 8);
    REQUIRE((10 + hlen) % 64 == 0);  // numpy pads the header so the data is aligned
    const std::string header = bytes.substr(10, hlen);
    INFO("header: " << header);
    REQUIRE(header.find("'descr': '<f8'") != std::string::npos);
    REQUIRE(header.find("'fortran_order': False") != std::string::npos);
    const auto open = header.find("'shape': (");
    REQUIRE(open != std::string::npos);
    const auto close = header.find(')', open);
    REQUIRE(close != std::string::npos);
    RawNpy r;
    std::size_t count = 1;
    std::string dims = header.substr(open + 10, close - open - 10);
    for (std::size_t p = 0; p < dims.size();) {
        while (p < dims.size() && (dims[p] == ',' || dims[p] == ' ')) ++p;
        if (p >= dims.size()) break;
        std::size_t q = p;
        while (q < dims.size() && std::isdigit(static_cast<unsigned char>(dims[q]))) ++q;
        REQUIRE(q > p);
        r.shape.push_back(std::stoul(dims.substr(p, q - p)));
        count *= r.shape.back();
        p = q;
    }
    REQUIRE(bytes.size() - 10 - hlen == count * sizeof(double));
    r.data.resize(count);
    std::memcpy(r.data.data(), bytes.data() + 10 + hlen, count * sizeof(double));
    return r;
}
}  // namespace

TEST_CASE("record_every writes the trajectory (frames x n x D) and its times", "[euler_maruyama][pf_ode_heun][trajectory]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const std::size_t n = 7, d = 2, steps = 10;
    const double t_min = 0.01;
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, t_min);
    for (const char* sampler : {"euler_maruyama", "pf_ode_heun"}) {
        INFO(sampler);
        mdlab::test::TestContext ctx(17, "node7");
        const Matrix x0 = normal_matrix(n, d, 81);
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto traj = ctx.output_dir() / "node7.trajectory.npy";
        const auto traj_t = ctx.output_dir() / "node7.trajectory_t.npy";
        const std::string common = "\"steps\": 10, \"t_min\": 0.01, \"init\": \"" + init.string() + "\"";

        // Off by default: no file.
        run(sampler, "{" + common + "}", est, ctx);
        CHECK(!std::filesystem::exists(traj));

        // Every 3 steps: frames at steps 0, 3, 6, 9 and the last step 10.
        const auto r = run(sampler, "{" + common + ", \"record_every\": 3}", est, ctx);
        const RawNpy frames = read_raw_npy(traj);
        const std::vector<std::size_t> at{0, 3, 6, 9, 10};
        REQUIRE(frames.shape == std::vector<std::size_t>{at.size(), n, d});
        const Matrix times = mdlab::npy::read(traj_t);
        REQUIRE(mdlab::rows(times) == at.size());
        for (std::size_t f = 0; f < at.size(); ++f) CHECK(times(f, 0) == t[at[f]]);
        // First frame: the init file; last frame: the output.
        for (std::size_t k = 0; k < n * d; ++k) {
            CHECK(frames.data[k] == x0.data()[k]);
            CHECK(frames.data[(at.size() - 1) * n * d + k] == r.samples.data()[k]);
        }
        // pf_ode_heun is deterministic: frame f is the state of a run of at[f] steps to t[at[f]]
        // on the same (uniform) grid.
        if (std::string(sampler) == "pf_ode_heun") {
            for (std::size_t f = 1; f + 1 < at.size(); ++f) {
                std::ostringstream p;
                p.precision(17);
                p << "{\"steps\": " << at[f] << ", \"t_min\": " << t[at[f]] << ", \"init\": \"" << init.string() << "\"}";
                const auto part = run(sampler, p.str(), est, ctx);
                for (std::size_t k = 0; k < n * d; ++k)
                    CHECK(frames.data[f * n * d + k] == Approx(part.samples.data()[k]).epsilon(1e-11));
            }
        }
        // With denoise, the frames stay on the grid: the last frame is the state before D(x, t_min).
        const auto den = run(sampler, "{" + common + ", \"record_every\": 3, \"denoise\": true}", est, ctx);
        const RawNpy frames2 = read_raw_npy(traj);
        REQUIRE(frames2.shape == frames.shape);
        for (std::size_t k = 0; k < n * d; ++k)
            CHECK(den.samples.data()[k] ==
                  Approx(est->denoise_factor(t_min) * frames2.data[(at.size() - 1) * n * d + k]).epsilon(1e-12));

        // record_every beyond the step count: the first and the last state only.
        run(sampler, "{" + common + ", \"record_every\": 50}", est, ctx);
        CHECK(read_raw_npy(traj).shape == std::vector<std::size_t>{2, n, d});
    }
}
