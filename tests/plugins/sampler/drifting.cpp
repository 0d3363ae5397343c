// The drifting sampler against the smoothed-score difference, the direct formula and moments.
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

// -------------------------------------------------------------------------------------- drifting

namespace {

mdlab::SampleResult drift(const std::string& params, std::shared_ptr<const Matrix> data, mdlab::Context& ctx) {
    auto s = mdlab::test::make<mdlab::Sampler>("drifting", params);
    mdlab::Inputs in;
    in.set("data", std::move(data));
    return s->sample(in, ctx);
}

mdlab::SampleResult drift(const std::string& params, std::shared_ptr<const Matrix> data, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    return drift(params, std::move(data), ctx);
}

// log sum_j exp(-|x - p_j|^2 / (2 tau^2)): the log of the Gaussian-smoothed empirical density of
// the rows of p, up to a constant.
double log_smoothed(const std::vector<double>& x, const Matrix& p, double tau) {
    std::vector<double> l(mdlab::rows(p));
    for (std::size_t j = 0; j < l.size(); ++j) {
        double d2 = 0.0;
        for (std::size_t a = 0; a < x.size(); ++a) d2 += (x[a] - p(j, a)) * (x[a] - p(j, a));
        l[j] = -d2 / (2 * tau * tau);
    }
    const double m = *std::max_element(l.begin(), l.end());
    double s = 0.0;
    for (double v : l) s += std::exp(v - m);
    return m + std::log(s);
}

// Direct (non-streaming) mean shift sum_j k(x, p_j) (p_j - x) / sum_j k(x, p_j), Laplace kernel.
std::vector<double> laplace_shift(const double* x, const Matrix& p, double tau) {
    const std::size_t d = mdlab::cols(p);
    std::vector<double> num(d, 0.0);
    double den = 0.0;
    for (std::size_t j = 0; j < mdlab::rows(p); ++j) {
        double d2 = 0.0;
        for (std::size_t a = 0; a < d; ++a) d2 += (x[a] - p(j, a)) * (x[a] - p(j, a));
        const double w = std::exp(-std::sqrt(d2) / tau);
        den += w;
        for (std::size_t a = 0; a < d; ++a) num[a] += w * (p(j, a) - x[a]);
    }
    for (double& v : num) v /= den;
    return num;
}

}  // namespace

TEST_CASE("drifting: the Gaussian field is tau^2 times the smoothed score difference", "[drifting]") {
    const double tau = 0.6;
    auto data = std::make_shared<const Matrix>(normal_matrix(200, 2, 81));
    Matrix y0 = normal_matrix(60, 2, 82, 1.3);
    for (std::size_t i = 0; i < 60; ++i) y0(i, 0) += 0.4, y0(i, 1) -= 0.2;
    mdlab::test::TestContext ctx(1);
    const auto init = ctx.output_dir() / "y0.npy";
    mdlab::npy::write(init, y0);

    // One update with eta = 1 moves each particle by V(y0).
    const auto r = drift(R"({"kernel": "gaussian", "tau": 0.6, "steps": 1, "tol": 0, )" + with_init(init) + "}", data, ctx);
    CHECK(stat(r, "iterations") == 1);
    CHECK(stat(r, "nfe") == 2);
    const auto half = drift(R"({"kernel": "gaussian", "tau": 0.6, "steps": 1, "tol": 0, "eta": 0.5, )" + with_init(init) + "}",
                            data, ctx);

    // tau^2 grad [log(mu_data * phi_tau) - log(q * phi_tau)] by a 5-point central difference
    // (truncation error h^4 f^(5) / 30 ~ 1e-12 at h = 1e-3).
    const double h = 1e-3;
    double worst = 0.0, rms = 0.0;
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t a = 0; a < 2; ++a) {
            auto f = [&](double shift) {
                std::vector<double> x = {y0(i, 0), y0(i, 1)};
                x[a] += shift;
                return log_smoothed(x, *data, tau) - log_smoothed(x, y0, tau);
            };
            const double grad = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);
            const double v_fd = tau * tau * grad, v = r.samples(i, a) - y0(i, a);
            worst = std::max(worst, std::abs(v - v_fd));
            rms += v * v / 60.0;
            CHECK(half.samples(i, a) - y0(i, a) == Approx(0.5 * v).margin(1e-14));
        }
    WARN("Gaussian drift field vs tau^2 x finite-difference smoothed score difference: max deviation " << worst
         << " (field RMS " << std::sqrt(rms) << ")");
    CHECK(worst <= 1e-8);
    CHECK(stat(r, "initial_drift") == Approx(std::sqrt(rms)).epsilon(1e-12));
}

TEST_CASE("drifting: the Laplace field matches the direct formula and transport reduces it", "[drifting]") {
    const double tau = 0.5;
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 83));
    const Matrix y0 = normal_matrix(150, 2, 84, 2.0);  // a wider cloud than the data
    mdlab::test::TestContext ctx(1);
    const auto init = ctx.output_dir() / "y0.npy";
    mdlab::npy::write(init, y0);

    const auto one = drift(R"({"kernel": "laplace", "tau": 0.5, "steps": 1, "tol": 0, )" + with_init(init) + "}", data, ctx);
    double worst = 0.0;
    for (std::size_t i = 0; i < 150; ++i) {
        const auto to_data = laplace_shift(mdlab::row(y0, i), *data, tau);
        const auto to_model = laplace_shift(mdlab::row(y0, i), y0, tau);
        for (std::size_t a = 0; a < 2; ++a)
            worst = std::max(worst, std::abs(one.samples(i, a) - y0(i, a) - (to_data[a] - to_model[a])));
    }
    INFO("Laplace field vs direct formula: max deviation " << worst);
    CHECK(worst <= 1e-13);

    const auto many = drift(R"({"kernel": "laplace", "tau": 0.5, "steps": 200, "tol": 0, )" + with_init(init) + "}", data, ctx);
    WARN("Laplace drifting: RMS |V| " << stat(many, "initial_drift") << " -> " << stat(many, "final_drift")
                                      << " after " << stat(many, "iterations") << " updates");
    CHECK(stat(many, "iterations") == 200);
    CHECK(stat(many, "final_drift") <= 0.1 * stat(many, "initial_drift"));
}

TEST_CASE("drifting: particles on the data are a fixed point", "[drifting]") {
    const Matrix pts{{0.0, 0.0}, {1.0, 0.5}, {-0.7, 1.2}, {0.3, -0.9}, {2.0, 2.0}};
    auto data = std::make_shared<const Matrix>(pts);
    mdlab::test::TestContext ctx(1);
    const auto same = ctx.output_dir() / "same.npy";
    mdlab::npy::write(same, pts);
    Matrix perm = pts;  // the same points in another order: equal up to rounding
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t a = 0; a < 2; ++a) perm(i, a) = pts((i + 2) % 5, a);
    const auto shuffled = ctx.output_dir() / "perm.npy";
    mdlab::npy::write(shuffled, perm);
    for (const char* kernel : {"gaussian", "laplace"}) {
        INFO(kernel);
        const std::string k = std::string("\"kernel\": \"") + kernel + "\", \"tau\": 0.8, \"steps\": 10, ";
        const auto r = drift("{" + k + "\"tol\": 0, " + with_init(same) + "}", data, ctx);
        CHECK(stat(r, "iterations") == 0);
        CHECK(stat(r, "final_drift") == 0.0);
        CHECK(identical(r.samples, pts));
        const auto p = drift("{" + k + "\"tol\": 1e-12, " + with_init(shuffled) + "}", data, ctx);
        CHECK(stat(p, "iterations") == 0);
        CHECK(stat(p, "final_drift") <= 1e-14);
        CHECK(stat(p, "converged") == 1);
    }
}

TEST_CASE("drifting: particles take the mean and covariance of Gaussian data", "[drifting][moments]") {
    // Data: N = 1000 draws of N((1, -0.5), diag(0.64, 0.25)); particles: n = 300 prior draws N(0, I).
    // At a fixed point q * phi_tau = mu_N * phi_tau at the particles, and in the population limit
    // q * phi = mu * phi implies q = mu: the Gaussian smoothing leaves no bias in the moments (a
    // fixed point of the smoothed target mu * phi_tau instead would inflate each variance by
    // tau^2 = 0.25, 7 standard errors here, and fail). The particles are compared with the data's
    // sample moments within 4.5 standard errors of an n-sample; they start 20 or more away.
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t d : {1, 2}) {
        INFO("dimension " << d);
        const std::size_t N = 1000, n = 300;
        const std::vector<double> mean = {1.0, -0.5}, sd = {0.8, 0.5};
        Matrix x = normal_matrix(N, d, 90 + d);
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t a = 0; a < d; ++a) x(i, a) = mean[a] + sd[a] * x(i, a);
        auto data = std::make_shared<const Matrix>(x);
        mdlab::test::TestContext ctx(7, "moments");
        const auto r = drift(R"({"kernel": "gaussian", "tau": 0.5, "n": 300, "steps": 1000, "tol": 1e-4, "record_every": 1000})",
                             data, ctx);
        REQUIRE(mdlab::rows(r.samples) == n);
        CHECK(stat(r, "converged") == 1);
        CHECK(stat(r, "final_drift") <= 1e-4);
        std::vector<std::size_t> shape;
        const std::vector<double> frames = read_npy(ctx.output_dir() / "moments.trajectory.npy", shape);
        REQUIRE(shape[0] == 2);  // the prior draws and the final particles
        const Matrix y0 = xt::adapt(std::vector<double>(frames.begin(), frames.begin() + n * d), std::vector<std::size_t>{n, d});

        auto moments = [&](const Matrix& m, std::vector<double>& mu, std::vector<double>& cov) {
            const std::size_t rows = mdlab::rows(m);
            mu.assign(d, 0.0);
            cov.assign(d * d, 0.0);
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t a = 0; a < d; ++a) mu[a] += m(i, a) / double(rows);
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t a = 0; a < d; ++a)
                    for (std::size_t b = 0; b < d; ++b)
                        cov[a * d + b] += (m(i, a) - mu[a]) * (m(i, b) - mu[b]) / double(rows - 1);
        };
        std::vector<double> mu_x, cov_x, mu_y, cov_y, mu_0, cov_0;
        moments(x, mu_x, cov_x);
        moments(r.samples, mu_y, cov_y);
        moments(y0, mu_0, cov_0);
        std::ostringstream msg;
        msg << "d = " << d << ", " << stat(r, "iterations") << " updates:";
        double worst = 0.0, start = 0.0;  // largest deviation in standard errors, at the end and at the start
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = a; b < d; ++b) {
                const double se = std::sqrt(cov_x[a * d + a] * cov_x[b * d + b] / double(n)) * (a == b ? std::sqrt(2.0) : 1.0);
                const double dev = std::abs(cov_y[a * d + b] - cov_x[a * d + b]) / se;
                msg << " cov(" << a << "," << b << ") " << cov_y[a * d + b] << " vs " << cov_x[a * d + b] << " (" << dev << " SE);";
                CHECK(dev <= 4.5);
                worst = std::max(worst, dev);
                start = std::max(start, std::abs(cov_0[a * d + b] - cov_x[a * d + b]) / se);
            }
        for (std::size_t a = 0; a < d; ++a) {
            const double se = std::sqrt(cov_x[a * d + a] / double(n));
            const double dev = std::abs(mu_y[a] - mu_x[a]) / se;
            msg << " mean " << a << " " << mu_y[a] << " vs " << mu_x[a] << " (" << dev << " SE);";
            CHECK(dev <= 4.5);
            worst = std::max(worst, dev);
            start = std::max(start, std::abs(mu_0[a] - mu_x[a]) / se);
        }
        INFO(msg.str());
        CHECK(start >= 10.0);
        WARN(msg.str() << " largest deviation " << worst << " SE (" << start << " SE at the start), "
                       << seconds_since(t0) << " s");
    }
}

TEST_CASE("drifting: reproducible, thread-independent, prior from the shared stream, trajectory", "[drifting]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(500, 3, 95));
    const std::string params = R"({"n": 700, "steps": 30, "tol": 0, "tau": 0.4, "prior_scale": 1.5})";
    mdlab::SampleResult one, two, again;
    tbb::task_arena(1).execute([&] { one = drift(params, data, 21); });
    tbb::task_arena(2).execute([&] { two = drift(params, data, 21); });
    again = drift(params, data, 21);
    CHECK(identical(one.samples, two.samples));
    CHECK(identical(one.samples, again.samples));
    CHECK(stat(one, "final_drift") == stat(two, "final_drift"));
    CHECK(!identical(one.samples, drift(params, data, 22).samples));

    // The same init twice: identical output.
    mdlab::test::TestContext ctx(5, "drift");
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, normal_matrix(50, 3, 96));
    const auto a = drift(R"({"steps": 5, "tol": 0, )" + with_init(init) + "}", data, ctx);
    const auto b = drift(R"({"steps": 5, "tol": 0, )" + with_init(init) + "}", data, ctx);
    CHECK(identical(a.samples, b.samples));

    // Trajectory: updates 0, 3, 6, 9 and the final 10; frame 0 holds the prior draws
    // prior_scale * N(0, I) of the shared stream sampler/prior, chunked as every sampler's.
    const auto t = drift(R"({"n": 300, "steps": 10, "tol": 0, "record_every": 3, "prior_scale": 1.5})", data, ctx);
    std::vector<std::size_t> shape;
    const std::vector<double> frames = read_npy(ctx.output_dir() / "drift.trajectory.npy", shape);
    REQUIRE(shape == std::vector<std::size_t>{5, 300, 3});
    const Matrix times = mdlab::npy::read(ctx.output_dir() / "drift.trajectory_t.npy");
    CHECK(times(4, 0) == 10.0);
    CHECK(times(1, 0) == 3.0);
    CHECK(std::equal(t.samples.data(), t.samples.data() + 900, frames.end() - 900));
    const mdlab::RandomStream prior = ctx.shared_stream("sampler/prior");
    bool same_prior = true;
    for (std::size_t c = 0; c * mdlab::random_chunk_rows < 300; ++c) {
        mdlab::Rng rng = prior.chunk(c);
        for (std::size_t k = c * mdlab::random_chunk_rows * 3; k < std::min<std::size_t>(900, (c + 1) * mdlab::random_chunk_rows * 3); ++k)
            same_prior = same_prior && frames[k] == 1.5 * rng.normal();
    }
    CHECK(same_prior);

    // Stopped by tol before the cap: the final state is recorded too.
    const auto early = drift(R"({"n": 100, "steps": 1000, "tol": 0.05, "record_every": 4, "kernel": "gaussian"})", data, ctx);
    const std::size_t it = std::size_t(stat(early, "iterations"));
    REQUIRE(it < 1000);
    CHECK(stat(early, "final_drift") <= 0.05);
    CHECK(stat(early, "converged") == 1);
    read_npy(ctx.output_dir() / "drift.trajectory.npy", shape);
    CHECK(shape[0] == it / 4 + 1 + (it % 4 != 0));
}

TEST_CASE("drifting refuses bad parameters and inputs", "[drifting]") {
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("drifting", R"({"tau": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("drifting", R"({"tau": -1})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("drifting", R"({"eta": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("drifting", R"({"kernel": "cauchy"})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Sampler>("drifting", R"({"steps": 0})"));
    auto data = std::make_shared<const Matrix>(normal_matrix(20, 2, 97));
    mdlab::test::TestContext ctx(1);
    const auto bad = ctx.output_dir() / "bad.npy";
    mdlab::npy::write(bad, normal_matrix(5, 3, 98));
    CHECK(input_error_key([&] { drift("{" + with_init(bad) + "}", data, ctx); }) == "init");
    CHECK(input_error_key([&] { drift("{\"init\": \"/nonexistent/x.npy\"}", data, ctx); }) == "init");
    auto empty = std::make_shared<const Matrix>(Matrix::from_shape({0, 2}));
    CHECK(input_error_key([&] { drift("{}", empty, ctx); }) == "data");
    using Catch::Matchers::Contains;
    RecordingContext stop(3);
    stop.cancel = true;
    CHECK_THROWS_WITH(drift(R"({"n": 10})", data, stop), Contains("cancelled"));
}
