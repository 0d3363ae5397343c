// The rk45 (adaptive Dormand-Prince 5(4) on the probability-flow ODE) and drifting (mean-shift
// particle transport) samplers, against closed forms and independent computations.
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

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// The key of the InputError that f throws ("<none>" when it throws nothing or something else).
template <class F>
std::string input_error_key(F&& f) {
    try {
        f();
    } catch (const mdlab::InputError& e) {
        return e.key();
    } catch (...) {
        return "<another exception>";
    }
    return "<none>";
}

// A float64 .npy file of any rank (the SDK reader takes 1-D and 2-D only): values and shape.
std::vector<double> read_npy(const std::filesystem::path& file, std::vector<std::size_t>& shape) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in);
    char magic[8];
    in.read(magic, 8);
    REQUIRE(std::memcmp(magic, "\x93NUMPY", 6) == 0);
    REQUIRE(magic[6] == 1);
    unsigned char lb[2];
    in.read(reinterpret_cast<char*>(lb), 2);
    std::string header(std::size_t(lb[0] | (lb[1] << 8)), ' ');
    in.read(header.data(), std::streamsize(header.size()));
    REQUIRE(header.find("'<f8'") != std::string::npos);
    const auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    shape.clear();
    std::string dims = header.substr(open + 1, close - open - 1);
    for (std::size_t p = 0; p < dims.size();) {
        const std::size_t q = dims.find(',', p);
        const std::string tok = dims.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoul(tok));
        if (q == std::string::npos) break;
        p = q + 1;
    }
    const std::size_t count = std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
    std::vector<double> values(count);
    in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * sizeof(double)));
    REQUIRE(in);
    return values;
}

std::string with_init(const std::filesystem::path& p) { return "\"init\": \"" + p.string() + "\""; }

// A process with alpha = 1 and sigma = 2 t on [0, 1.5], so lambda = sigma / alpha = 2 t.
class LinearNsr : public mdlab::ForwardProcess {
public:
    double t_end() const override { return 1.5; }
    double alpha(double) const override { return 1.0; }
    double sigma(double t) const override { return 2.0 * t; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 2.0; }
};

// s(x, t) = -x / sigma^2: the PF-ODE in (u = log(sigma / alpha), xh = x / alpha), which rk45
// integrates, becomes d xh / du = -lambda sigma s = xh, i.e. y' = -y in the direction of
// integration (u decreasing).
class LinearScore : public mdlab::ScoreEstimator {
public:
    explicit LinearScore(std::shared_ptr<const mdlab::ForwardProcess> p) : p_(std::move(p)) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return 1; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    void score(const Matrix& x, double t, Matrix& out) const override {
        out = x * (-1.0 / (p_->sigma(t) * p_->sigma(t)));
    }

private:
    std::shared_ptr<const mdlab::ForwardProcess> p_;
};

std::shared_ptr<mdlab::ScoreEstimator> empirical_score(std::shared_ptr<const Matrix> data,
                                                       std::shared_ptr<const mdlab::ForwardProcess> proc) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::move(proc));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// Max over coordinates of |x - exact| / (atol + rtol |exact|): the final error in units of the
// requested tolerance.
double error_in_tolerances(const Matrix& x, const Matrix& exact, double tol) {
    double worst = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k)
        worst = std::max(worst, std::abs(x.data()[k] - exact.data()[k]) / (tol + tol * std::abs(exact.data()[k])));
    return worst;
}

}  // namespace

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
