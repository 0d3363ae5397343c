// The predictor_corrector and annealed_langevin samplers. Gaussian data N(0, s0^2 I) has the
// exact score s(x, t) = -x / v(t), v = alpha^2 s0^2 + sigma^2, for which both samplers are linear
// recursions x <- m x + c z with scalar m, c: their output variance is computed exactly below
// (a deterministic recursion, independent of the plugins) and the samples are checked against it
// within Monte Carlo error; the recursion's own distance to s0^2 is the discretisation bias.
// Independent transcriptions of score_sde's LangevinCorrector / PC sampler and of Song and
// Ermon's Algorithm 1 (plain loops, the same noise streams) must reproduce the plugins' outputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

std::shared_ptr<mdlab::ForwardProcess> make_process(const std::string& name, const std::string& json = "{}") {
    return mdlab::test::make<mdlab::ForwardProcess>(name, json);
}

double se_var(double v, std::size_t n) { return v * std::sqrt(2.0 / double(n)); }

// Variance of predictor_corrector's output for Gaussian data, as a deterministic recursion.
// Corrector: with x ~ N(0, V I), the batch means of |s| and |z| are sqrt(V) c_d / v and c_d, so
// eps = 2 a_i snr^2 v^2 / V (up to O(1/sqrt(n d)) fluctuations) and V <- (1 - eps/v)^2 V + 2 eps.
// Predictor: V <- m^2 V + g^2 h, m = 1 - h (f_rate + g^2 / v), no noise on the last step.
double pc_variance(const mdlab::ForwardProcess& p, const GaussianScore& g, const std::vector<double>& t,
                   double snr, std::size_t K, double start_variance) {
    double V = start_variance;
    const std::size_t steps = t.size() - 1;
    for (std::size_t i = 0; i < steps; ++i) {
        const double ti = t[i], h = t[i] - t[i + 1], v = g.variance(ti);
        const double a = std::pow(p.alpha(ti) / p.alpha(t[i + 1]), 2);
        for (std::size_t j = 0; j < K; ++j) {
            const double eps = 2.0 * a * snr * snr * v * v / V, r = eps / v;
            V = (1.0 - r) * (1.0 - r) * V + 2.0 * eps;
        }
        const double m = 1.0 - h * (p.drift_rate(ti) + p.g2(ti) / v);
        V = m * m * V + (i + 1 < steps ? p.g2(ti) * h : 0.0);
    }
    return V;
}

// Variance of annealed_langevin's output for Gaussian data: V <- (1 - a/(2v))^2 V + a per update.
double al_variance(const mdlab::ForwardProcess& p, const GaussianScore& g, const std::vector<double>& t,
                   std::size_t K, double epsilon, double start_variance) {
    double V = start_variance;
    const double sL = p.sigma(t.back());
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double a = epsilon * std::pow(p.sigma(t[i]) / sL, 2), v = g.variance(t[i]);
        for (std::size_t k = 0; k < K; ++k) {
            const bool last = i + 1 == t.size() && k + 1 == K;
            V = std::pow(1.0 - a / (2.0 * v), 2) * V + (last ? 0.0 : a);
        }
    }
    return V;
}

// step_noise's documented convention, re-derived: stream.child(index), one generator per chunk of
// 256 rows, values drawn row after row.
std::vector<double> noise_of(const mdlab::RandomStream& stream, std::size_t index, std::size_t n, std::size_t d) {
    const mdlab::RandomStream s = stream.child(std::to_string(index));
    std::vector<double> z(n * d);
    for (std::size_t c = 0; c * 256 < n; ++c) {
        mdlab::Rng rng = s.chunk(c);
        for (std::size_t k = c * 256 * d; k < std::min(n, (c + 1) * 256) * d; ++k) z[k] = rng.normal();
    }
    return z;
}

double mean_norm(const std::vector<double>& m, std::size_t n, std::size_t d) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) s += m[i * d + j] * m[i * d + j];
        total += std::sqrt(s);
    }
    return total / double(n);
}

double max_rel_diff(const Matrix& a, const std::vector<double>& b) {
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        err = std::max(err, std::abs(a.data()[k] - b[k]));
        scale = std::max(scale, std::abs(b[k]));
    }
    return err / scale;
}

// A float64 C-order .npy file of any rank: its shape and values.
struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

NpyArray read_npy(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in.good());
    char magic[10];
    in.read(magic, 10);
    REQUIRE(std::memcmp(magic, "\x93NUMPY\x01\x00", 8) == 0);
    const std::size_t len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
    std::string header(len, '\0');
    in.read(header.data(), static_cast<std::streamsize>(len));
    REQUIRE(header.find("'descr': '<f8'") != std::string::npos);
    REQUIRE(header.find("'fortran_order': False") != std::string::npos);
    NpyArray a;
    std::size_t p = header.find('(') + 1;
    const std::size_t q = header.find(')');
    while (p < q) {
        while (p < q && (header[p] == ' ' || header[p] == ',')) ++p;
        if (p >= q) break;
        std::size_t e = p;
        while (e < q && std::isdigit(static_cast<unsigned char>(header[e]))) ++e;
        a.shape.push_back(std::stoul(header.substr(p, e - p)));
        p = e;
    }
    std::size_t count = 1;
    for (std::size_t s : a.shape) count *= s;
    a.values.resize(count);
    in.read(reinterpret_cast<char*>(a.values.data()), static_cast<std::streamsize>(count * sizeof(double)));
    REQUIRE(in.gcount() == static_cast<std::streamsize>(count * sizeof(double)));
    return a;
}

std::string with_init(const std::filesystem::path& init) { return "\"init\": \"" + init.string() + "\""; }

// A double as JSON text, to the last digit (std::to_string keeps only 6 decimals).
std::string exact(double v) {
    std::ostringstream o;
    o << std::setprecision(17) << v;
    return o.str();
}

}  // namespace

TEST_CASE("predictor_corrector with the exact Gaussian score samples N(0, s0^2 I) (VP and VE)",
          "[predictor_corrector]") {
    const double s0 = 0.5, snr = 0.16;
    const std::size_t n = 4000, d = 3, steps = 500;
    for (const char* name : {"vp", "ve"}) {
        const auto t0 = std::chrono::steady_clock::now();
        INFO("process " << name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
        const double V = pc_variance(*proc, *est, t, snr, 1, std::pow(proc->prior_std(), 2));
        // The Langevin corrector with an exact score is stationary at v (1 + snr^2), not v (the
        // unadjusted-Langevin bias of score_sde's step-size rule), and the sampler stops at
        // v(t_min), not s0^2: the scheme's bias stays within these two (plus 5% for the predictor).
        const double bias = std::abs(V - s0 * s0), vt = est->variance(1e-3);
        INFO("variance of the discrete scheme " << V << ", target " << s0 * s0 << ", bias " << bias
                                                << " = " << bias / se_var(s0 * s0, n) << " standard errors");
        REQUIRE(bias <= std::abs(vt - s0 * s0) + 1.05 * snr * snr * vt);

        const auto r = run("predictor_corrector", R"({"n": 4000, "steps": 500})", est);
        REQUIRE(mdlab::rows(r.samples) == n);
        REQUIRE(mdlab::cols(r.samples) == d);
        check_gaussian(r.samples, s0 * s0, bias);
        check_gaussian(r.samples, V);  // the scheme's exact variance: Monte Carlo error only
        CHECK(stat(r, "nfe") == 2 * steps);
        CHECK(stat(r, "steps") == steps);
        WARN("predictor_corrector on " << name << ": scheme variance " << V << " vs s0^2 = " << s0 * s0 << " ("
                                       << bias / se_var(s0 * s0, n) << " SE), " << seconds_since(t0) << " s");
    }
}

TEST_CASE("predictor_corrector samples the Gaussian under subvp, cosine, ou and edm",
          "[predictor_corrector][catalogue]") {
    const double s0 = 0.5, snr = 0.16;
    const std::size_t n = 4000, d = 2;
    struct Run {
        const char* process;
        const char* grid;
    };
    for (const Run& c : {Run{"subvp", "uniform"}, Run{"cosine", "uniform"}, Run{"ou", "log_snr"}, Run{"edm", "karras"}}) {
        INFO(c.process << " on the " << c.grid << " grid");
        auto proc = make_process(c.process);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::vector<double> t = mdlab::time_grid(*proc, c.grid, 500, 1e-3);
        const double V = pc_variance(*proc, *est, t, snr, 1, std::pow(proc->prior_std(), 2));
        const double bias = std::abs(V - s0 * s0);
        WARN("predictor_corrector on " << c.process << " (" << c.grid << "): scheme variance " << V << " ("
                                       << bias / se_var(s0 * s0, n) << " SE from s0^2)");
        REQUIRE(bias <= 2.0 * snr * snr * s0 * s0);
        const auto r = run("predictor_corrector",
                           std::string(R"({"n": 4000, "steps": 500, "grid": ")") + c.grid + "\"}", est);
        check_gaussian(r.samples, V);
        check_gaussian(r.samples, s0 * s0, bias);
    }
}

TEST_CASE("the Langevin corrector alone converges to the noised marginal at fixed t", "[predictor_corrector]") {
    // One predictor step over a tiny interval [T - 1e-9 T, T]: the output is the corrector chain at
    // t = T after `corrector_steps` updates, times the (exactly known) noise-free predictor factor m.
    const double s0 = 0.5, snr = 0.1;
    const std::size_t n = 4000, d = 2, K = 600;
    for (const char* name : {"vp", "ve"}) {
        auto proc = make_process(name, R"({"t_end": 0.3})");
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const double T = proc->t_end(), t_min = T * (1.0 - 1e-9), v = est->variance(T);
        const double m = 1.0 - (T - t_min) * (proc->drift_rate(T) + proc->g2(T) / v);
        mdlab::test::TestContext ctx(17);
        for (double start : {4.0, 0.25}) {
            INFO(name << ": start variance " << start << " v, v(T) = " << v);
            const auto init = ctx.output_dir() / "init.npy";
            mdlab::npy::write(init, normal_matrix(n, d, 91, std::sqrt(start * v)));
            const auto r = run("predictor_corrector",
                               "{\"steps\": 1, \"snr\": 0.1, \"corrector_steps\": 600, \"t_min\": " +
                                   exact(t_min) + ", " + with_init(init) + "}",
                               est, ctx);
            CHECK(stat(r, "nfe") == K + 1);
            const Matrix chain = r.samples / m;
            // Stationary variance of the chain: v (1 + snr^2) (the step-size bias, 1% here);
            // the memory of the start has decayed far below the Monte Carlo error.
            const double V = pc_variance(*proc, *est, {T, t_min}, snr, K, start * v) / (m * m);
            INFO("predicted chain variance " << V << ", stationary v (1 + snr^2) = " << v * (1 + snr * snr));
            CHECK(std::abs(V - v * (1 + snr * snr)) <= 0.01 * se_var(v, n));
            check_gaussian(chain, v, snr * snr * v);
            check_gaussian(chain, v * (1 + snr * snr));
        }
    }
}

TEST_CASE("predictor_corrector is score_sde's PC sampler (transcription with the same noise)",
          "[predictor_corrector][reference]") {
    // get_pc_sampler with EulerMaruyamaPredictor and LangevinCorrector, written out with plain loops
    // on our time grid; alpha = alpha(t_i)^2 / alpha(t_{i+1})^2 stands for score_sde's VP alphas[timestep].
    const double s0 = 0.8, snr = 0.16;
    const std::size_t n = 600, d = 3, steps = 20, K = 2;  // 600 rows: three noise chunks
    for (const char* name : {"vp", "subvp", "ve"}) {
        INFO(name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::uint64_t seed = 29;
        mdlab::test::TestContext ctx(seed);
        const Matrix x0 = normal_matrix(n, d, 93, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto r = run("predictor_corrector",
                           "{\"steps\": 20, \"corrector_steps\": 2, \"t_min\": 0.01, " + with_init(init) + "}", est,
                           ctx);

        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 0.01);
        const mdlab::RandomStream pred_noise(seed, "shared/sampler/noise"),
            corr_noise(seed, "shared/sampler/corrector_noise");
        std::vector<double> x(x0.data(), x0.data() + x0.size()), x_mean(x.size());
        Matrix xm, grad;
        for (std::size_t i = 0; i < steps; ++i) {
            const double ti = t[i], dt = t[i + 1] - t[i];  // dt < 0
            const double alpha = std::pow(proc->alpha(ti) / proc->alpha(t[i + 1]), 2);
            for (std::size_t j = 0; j < K; ++j) {  // LangevinCorrector.update_fn
                xm = Matrix::from_shape({n, d});
                std::copy(x.begin(), x.end(), xm.data());
                est->score(xm, ti, grad);
                const std::vector<double> g(grad.data(), grad.data() + grad.size());
                const std::vector<double> noise = noise_of(corr_noise, i * K + j, n, d);
                const double grad_norm = mean_norm(g, n, d), noise_norm = mean_norm(noise, n, d);
                const double step_size = std::pow(snr * noise_norm / grad_norm, 2) * 2 * alpha;
                for (std::size_t k = 0; k < x.size(); ++k) {
                    x_mean[k] = x[k] + step_size * g[k];
                    x[k] = x_mean[k] + std::sqrt(step_size * 2) * noise[k];
                }
            }
            // EulerMaruyamaPredictor.update_fn on the reverse SDE: drift = f - g^2 s.
            xm = Matrix::from_shape({n, d});
            std::copy(x.begin(), x.end(), xm.data());
            est->score(xm, ti, grad);
            const double g2 = proc->g2(ti), f_rate = proc->drift_rate(ti);
            const bool last = i + 1 == steps;
            const std::vector<double> z = last ? std::vector<double>(x.size(), 0.0) : noise_of(pred_noise, i, n, d);
            for (std::size_t k = 0; k < x.size(); ++k) {
                x_mean[k] = x[k] + (f_rate * x[k] - g2 * grad.data()[k]) * dt;
                x[k] = x_mean[k] + std::sqrt(g2) * std::sqrt(-dt) * z[k];
            }
        }
        // The last step's mean is returned (score_sde's noise removal); here x == x_mean.
        const double diff = max_rel_diff(r.samples, x_mean);
        INFO("max relative difference " << diff);
        CHECK(diff <= 1e-12);
        CHECK(stat(r, "nfe") == steps * (K + 1));
    }

    // The VP factor against score_sde's alphas[timestep] = 1 - beta(t_i) / N on its uniform grid:
    // alpha(t_i)^2 / alpha(t_{i+1})^2 = exp(-int beta) = 1 - beta h + (beta' + beta^2) h^2 / 2 + O(h^3).
    auto vp = make_process("vp");
    const std::size_t N = 1000;
    const std::vector<double> t = mdlab::time_grid(*vp, "uniform", N, 1e-3);
    for (std::size_t i = 0; i < N; i += 37) {
        const double h = t[i] - t[i + 1], beta = 0.1 + 19.9 * t[i];
        const double a = std::pow(vp->alpha(t[i]) / vp->alpha(t[i + 1]), 2);
        CHECK(std::abs(a - (1.0 - beta * h)) <= (19.9 + beta * beta) * h * h);
        CHECK(a > 0.0);
        CHECK(a < 1.0);
    }
}

TEST_CASE("predictor_corrector with corrector_steps = 0 is euler_maruyama", "[predictor_corrector]") {
    auto proc = make_process("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    const std::string params = R"({"n": 700, "steps": 40, "t_min": 0.01)";
    const auto pc = run("predictor_corrector", params + R"(, "corrector_steps": 0})", est, 5);
    const auto em = run("euler_maruyama", params + "}", est, 5);
    CHECK(identical(pc.samples, em.samples));
    CHECK(stat(pc, "nfe") == 40);
    // With the corrector on, the output differs.
    CHECK(!identical(run("predictor_corrector", params + "}", est, 5).samples, em.samples));
}

TEST_CASE("annealed_langevin with the exact Gaussian score samples N(0, s0^2 I) (VE)", "[annealed_langevin]") {
    const auto t0 = std::chrono::steady_clock::now();
    const double s0 = 0.5, epsilon = 1e-4;
    const std::size_t n = 4000, d = 2, steps = 200, K = 20;
    auto proc = make_process("ve");
    auto est = std::make_shared<GaussianScore>(proc, d, s0);
    const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
    const double V = al_variance(*proc, *est, t, K, epsilon, std::pow(proc->prior_std(), 2));
    const double bias = std::abs(V - s0 * s0);
    INFO("variance of the discrete scheme " << V << ", target " << s0 * s0);
    REQUIRE(bias <= 0.5 * se_var(s0 * s0, n));
    const auto r = run("annealed_langevin", R"({"n": 4000, "steps": 200, "langevin_steps": 20, "epsilon": 1e-4})", est);
    REQUIRE(mdlab::rows(r.samples) == n);
    check_gaussian(r.samples, s0 * s0, bias);
    check_gaussian(r.samples, V);
    CHECK(stat(r, "nfe") == (steps + 1) * K);
    CHECK(stat(r, "steps") == steps);

    // The paper's settings (epsilon = 2e-5 for sigma_min = 0.01) with too few updates per level
    // leave the variance visibly high; the recursion predicts by how much and the samples agree.
    const std::vector<double> t100 = mdlab::time_grid(*proc, "uniform", 100, 1e-3);
    const double V_short = al_variance(*proc, *est, t100, 10, 2e-5, std::pow(proc->prior_std(), 2));
    const auto short_run = run("annealed_langevin", R"({"n": 4000})", est);
    INFO("defaults (101 levels x 10 updates): predicted variance " << V_short);
    REQUIRE(V_short - s0 * s0 >= 3.0 * se_var(s0 * s0, n));
    check_gaussian(short_run.samples, V_short);
    CHECK(stat(short_run, "nfe") == 1010);
    WARN("annealed_langevin: scheme variance " << V << " (" << bias / se_var(s0 * s0, n) << " SE from s0^2); at the "
                                               << "defaults " << V_short << "; " << seconds_since(t0) << " s");
}

TEST_CASE("annealed_langevin is Song and Ermon's Algorithm 1 (transcription with the same noise)",
          "[annealed_langevin][reference]") {
    const double s0 = 0.7, epsilon = 2e-5;
    const std::size_t n = 520, d = 2, steps = 6, K = 4;
    for (const char* name : {"ve", "vp"}) {
        INFO(name);
        auto proc = make_process(name);
        auto est = std::make_shared<GaussianScore>(proc, d, s0);
        const std::uint64_t seed = 31;
        mdlab::test::TestContext ctx(seed);
        const Matrix x0 = normal_matrix(n, d, 95, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x0);
        const auto r = run("annealed_langevin", "{\"steps\": 6, \"langevin_steps\": 4, " + with_init(init) + "}", est, ctx);

        // for i = 1..L: alpha_i = eps sigma_i^2 / sigma_L^2; for t = 1..T: x += alpha_i/2 s(x, sigma_i) + sqrt(alpha_i) z.
        const std::vector<double> t = mdlab::time_grid(*proc, "uniform", steps, 1e-3);
        const mdlab::RandomStream noise(seed, "shared/sampler/noise");
        const double sigma_L = proc->sigma(t.back());
        Matrix x = x0, s;
        for (std::size_t i = 0; i <= steps; ++i) {
            const double alpha_i = epsilon * proc->sigma(t[i]) * proc->sigma(t[i]) / (sigma_L * sigma_L);
            for (std::size_t k = 0; k < K; ++k) {
                const bool last = i == steps && k + 1 == K;  // the final update returns its mean
                const std::vector<double> z = last ? std::vector<double>(n * d, 0.0) : noise_of(noise, i * K + k, n, d);
                est->score(x, t[i], s);
                for (std::size_t q = 0; q < n * d; ++q)
                    x.data()[q] = x.data()[q] + alpha_i / 2 * s.data()[q] + std::sqrt(alpha_i) * z[q];
            }
        }
        const double diff = max_rel_diff(r.samples, std::vector<double>(x.data(), x.data() + x.size()));
        INFO("max relative difference " << diff);
        CHECK(diff <= 1e-13);
        CHECK(stat(r, "nfe") == (steps + 1) * K);
    }
}

TEST_CASE("langevin samplers: init files, denoise, trajectories", "[predictor_corrector][annealed_langevin][init]") {
    auto proc = make_process("ve");
    const double s0 = 0.5;
    auto est = std::make_shared<GaussianScore>(proc, 3, s0);
    mdlab::test::TestContext ctx(13, "node7");
    const Matrix x0 = normal_matrix(300, 3, 61, proc->prior_std());
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x0);
    for (const char* name : {"predictor_corrector", "annealed_langevin"}) {
        INFO(name);
        const std::string common = "\"n\": 1000, \"steps\": 10, \"t_min\": 0.05, " + with_init(init);
        const auto a = run(name, "{" + common + "}", est, ctx);
        const auto b = run(name, "{" + common + "}", est, ctx);
        const auto prior = run(name, R"({"n": 300, "steps": 10, "t_min": 0.05})", est, ctx);
        REQUIRE(mdlab::rows(a.samples) == 300);  // the file's rows, not n
        CHECK(identical(a.samples, b.samples));
        CHECK(!identical(a.samples, prior.samples));

        // denoise: the Tweedie factor of the Gaussian at t_min on the same run, one more evaluation.
        const auto den = run(name, "{" + common + ", \"denoise\": true}", est, ctx);
        const double factor = est->denoise_factor(0.05);
        for (std::size_t k = 0; k < a.samples.size(); ++k)
            CHECK(den.samples.data()[k] == Approx(factor * a.samples.data()[k]).epsilon(1e-12));
        CHECK(stat(den, "nfe") == stat(a, "nfe") + 1);

        // record_every = 3: frames at steps 0, 3, 6, 9 and the last one, each n x D.
        const auto rec = run(name, "{" + common + ", \"record_every\": 3}", est, ctx);
        CHECK(identical(rec.samples, a.samples));
        const NpyArray traj = read_npy(ctx.output_dir() / "node7.trajectory.npy");
        const NpyArray times = read_npy(ctx.output_dir() / "node7.trajectory_t.npy");
        REQUIRE(traj.shape == std::vector<std::size_t>{5, 300, 3});
        REQUIRE(times.shape == std::vector<std::size_t>{5});
        CHECK(std::equal(x0.data(), x0.data() + x0.size(), traj.values.begin()));
        CHECK(std::equal(a.samples.data(), a.samples.data() + a.samples.size(), traj.values.end() - 900));
        CHECK(times.values.front() == proc->t_end());
        CHECK(times.values.back() == 0.05);
        for (std::size_t f = 1; f < 5; ++f) CHECK(times.values[f] <= times.values[f - 1]);
    }
}

TEST_CASE("langevin samplers give identical results with 1 and 2 threads",
          "[predictor_corrector][annealed_langevin][threads]") {
    auto proc = make_process("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 71));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    for (const char* sampler : {"predictor_corrector", "annealed_langevin"}) {
        INFO(sampler);
        mdlab::SampleResult one, two;
        const bool pc = std::string(sampler) == "predictor_corrector";
        // 1200 rows: five noise chunks and two chunks of the corrector's ordered norm sums.
        const std::string params = R"({"n": 1200, "steps": 20, "langevin_steps": 2, "denoise": true})";
        const std::string p = pc ? R"({"n": 1200, "steps": 20, "denoise": true})" : params;
        tbb::task_arena(1).execute([&] { one = run(sampler, p, est, 21); });
        tbb::task_arena(2).execute([&] { two = run(sampler, p, est, 21); });
        CHECK(identical(one.samples, two.samples));
    }
}

TEST_CASE("langevin samplers report progress, honour cancellation and catch divergence",
          "[predictor_corrector][annealed_langevin]") {
    auto proc = make_process("vp");
    auto est = std::make_shared<GaussianScore>(proc, 2, 0.5);
    auto broken = std::make_shared<BrokenScore>(proc, 2, 0.5);
    using Catch::Matchers::Contains;
    struct S {
        const char* name;
        std::size_t reports;  // progress reports for 10 steps: per step, or per noise level (11)
    };
    for (const S& sm : {S{"predictor_corrector", 10}, S{"annealed_langevin", 11}}) {
        INFO(sm.name);
        RecordingContext ctx(3);
        run(sm.name, R"({"n": 10, "steps": 10})", est, ctx);
        REQUIRE(ctx.fractions.size() == sm.reports);
        for (std::size_t i = 0; i < sm.reports; ++i) CHECK(ctx.fractions[i] == Approx(double(i + 1) / sm.reports));

        RecordingContext stop(3);
        stop.cancel = true;
        CHECK_THROWS_WITH(run(sm.name, R"({"n": 10, "steps": 10})", est, stop), Contains("cancelled"));
        CHECK_THROWS_WITH(run(sm.name, R"({"n": 10, "steps": 10})", broken), Contains("diverged"));
    }
    // Parameter ranges.
    CHECK_THROWS(run("predictor_corrector", R"({"snr": 0})", est));
    CHECK_THROWS(run("predictor_corrector", R"({"corrector_steps": -1})", est));
    CHECK_THROWS(run("annealed_langevin", R"({"langevin_steps": 0})", est));
    CHECK_THROWS(run("annealed_langevin", R"({"epsilon": 0})", est));
}
