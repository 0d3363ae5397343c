// The unipc sampler against an independent transcription of diffusers' UniPCMultistepScheduler
// (predict_x0, prediction_type "sample": the model returns the denoiser D) fed the same sigmas, the
// same initial points and the same (nonlinear, empirical) denoiser; against the exact flow of
// Gaussian data for its convergence orders; and against DDIM and DPM-Solver++(2M), which are its
// UniP-1 and UniP-2 (bh2) special cases.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// max |a - b| / max |b|.
double rel_gap(const Matrix& a, const Matrix& b) {
    REQUIRE(a.shape() == b.shape());
    double num = 0.0, den = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        num = std::max(num, std::abs(a.data()[k] - b.data()[k]));
        den = std::max(den, std::abs(b.data()[k]));
    }
    return num / den;
}

std::string list(const std::vector<double>& v) {
    std::ostringstream o;
    o.precision(17);
    o << "[";
    for (std::size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << v[i];
    o << "]";
    return o.str();
}

// diffusers' UniPCMultistepScheduler (src/diffusers/schedulers/scheduling_unipc_multistep.py:
// step, multistep_uni_p_bh_update, multistep_uni_c_bh_update) with predict_x0 = True and the model
// output taken as x0 (prediction_type "sample"), transcribed statement by statement. sigmas are
// k-diffusion's sigma/alpha, num_inference_steps + 1 of them, alpha = 1/sqrt(sigma^2 + 1) (VP).
struct DiffusersUniPc {
    int solver_order = 2;
    std::string solver_type = "bh2";
    bool lower_order_final = true;
    std::vector<int> disable_corrector;
    std::vector<double> sigmas;

    std::vector<std::optional<Matrix>> model_outputs;
    int lower_order_nums = 0, this_order = 0, step_index = 0;
    std::optional<Matrix> last_sample;

    int num_inference_steps() const { return int(sigmas.size()) - 1; }
    std::pair<double, double> alpha_sigma(double sigma) const {
        const double alpha_t = 1.0 / std::sqrt(sigma * sigma + 1.0);
        return {alpha_t, sigma * alpha_t};
    }
    double lambda(int index) const {
        const auto [a, s] = alpha_sigma(sigmas[index]);
        return std::log(a) - std::log(s);
    }

    // The shared part of both updates: rks, D1s, the order conditions R, b and B(h).
    struct Terms {
        double h, hh, h_phi_1, B_h, alpha_t, sigma_t, sigma_s0;
        std::vector<double> rks;
        std::vector<Matrix> D1s;
        Eigen::MatrixXd R;
        Eigen::VectorXd b;
    };
    Terms terms(int t_index, int s0_index, int order) const {
        Terms c;
        std::tie(c.alpha_t, c.sigma_t) = alpha_sigma(sigmas[t_index]);
        c.sigma_s0 = alpha_sigma(sigmas[s0_index]).second;
        const double lambda_t = lambda(t_index), lambda_s0 = lambda(s0_index);
        c.h = lambda_t - lambda_s0;
        const Matrix& m0 = *model_outputs.back();
        for (int i = 1; i < order; ++i) {
            const int si = s0_index - i;
            const Matrix& mi = *model_outputs[model_outputs.size() - 1 - i];
            const double rk = (lambda(si) - lambda_s0) / c.h;
            c.rks.push_back(rk);
            c.D1s.push_back((mi - m0) / rk);
        }
        c.rks.push_back(1.0);
        c.hh = -c.h;  // predict_x0
        c.h_phi_1 = std::expm1(c.hh);
        double h_phi_k = c.h_phi_1 / c.hh - 1.0;
        double factorial_i = 1.0;
        c.B_h = solver_type == "bh1" ? c.hh : std::expm1(c.hh);
        c.R.resize(order, order);
        c.b.resize(order);
        for (int i = 1; i <= order; ++i) {
            for (int k = 0; k < order; ++k) c.R(i - 1, k) = std::pow(c.rks[k], i - 1);
            c.b(i - 1) = h_phi_k * factorial_i / c.B_h;
            factorial_i *= i + 1;
            h_phi_k = h_phi_k / c.hh - 1.0 / factorial_i;
        }
        return c;
    }

    Matrix multistep_uni_p_bh_update(const Matrix& sample, int order) const {
        const Matrix& m0 = *model_outputs.back();
        const Terms c = terms(step_index + 1, step_index, order);
        const Matrix x_t_ = c.sigma_t / c.sigma_s0 * sample - c.alpha_t * c.h_phi_1 * m0;
        if (c.D1s.empty()) {
            const double pred_res = 0.0;  // as in diffusers: a 0 times alpha_t B_h (NaN if B_h = -inf)
            return x_t_ - c.alpha_t * c.B_h * pred_res;
        }
        Eigen::VectorXd rhos_p = Eigen::VectorXd::Constant(1, 0.5);  // order 2: the simplified version
        if (order != 2) rhos_p = c.R.topLeftCorner(order - 1, order - 1).partialPivLu().solve(c.b.head(order - 1));
        Matrix pred_res = rhos_p(0) * c.D1s[0];
        for (int k = 1; k < int(c.D1s.size()); ++k) pred_res = pred_res + rhos_p(k) * c.D1s[k];
        return x_t_ - c.alpha_t * c.B_h * pred_res;
    }

    Matrix multistep_uni_c_bh_update(const Matrix& this_model_output, const Matrix& last, int order) const {
        const Matrix& m0 = *model_outputs.back();
        const Terms c = terms(step_index, step_index - 1, order);
        Eigen::VectorXd rhos_c = Eigen::VectorXd::Constant(1, 0.5);  // order 1: the simplified version
        if (order != 1) rhos_c = c.R.partialPivLu().solve(c.b);
        const Matrix x_t_ = c.sigma_t / c.sigma_s0 * last - c.alpha_t * c.h_phi_1 * m0;
        Matrix corr_res = Matrix::from_shape(m0.shape());
        corr_res.fill(0.0);
        for (int k = 0; k < int(c.D1s.size()); ++k) corr_res = corr_res + rhos_c(k) * c.D1s[k];
        const Matrix D1_t = this_model_output - m0;
        return x_t_ - c.alpha_t * c.B_h * (corr_res + rhos_c(order - 1) * D1_t);
    }

    Matrix step(const Matrix& model_output, const Matrix& sample_in) {
        if (model_outputs.empty()) model_outputs.resize(solver_order);
        const bool use_corrector = step_index > 0 &&
                                   std::find(disable_corrector.begin(), disable_corrector.end(), step_index - 1) ==
                                       disable_corrector.end() &&
                                   last_sample.has_value();
        Matrix sample = sample_in;
        if (use_corrector) sample = multistep_uni_c_bh_update(model_output, *last_sample, this_order);
        for (int i = 0; i < solver_order - 1; ++i) model_outputs[i] = model_outputs[i + 1];
        model_outputs.back() = model_output;
        int order = lower_order_final ? std::min(solver_order, num_inference_steps() - step_index) : solver_order;
        this_order = std::min(order, lower_order_nums + 1);
        last_sample = sample;
        Matrix prev_sample = multistep_uni_p_bh_update(sample, this_order);
        if (lower_order_nums < solver_order) ++lower_order_nums;
        ++step_index;
        return prev_sample;
    }
};

// The sampling loop of a diffusers pipeline: the model at every sigma but the last; stopped after
// `steps` steps when given.
Matrix diffusers_sample(DiffusersUniPc sched, const mdlab::ScoreEstimator& est, Matrix x, int steps = -1) {
    const auto& proc = est.process();
    Matrix den = Matrix::from_shape(x.shape());
    for (int i = 0; i < (steps < 0 ? sched.num_inference_steps() : steps); ++i) {
        const double t = i == 0 ? proc.t_end() : proc.time_at_noise_ratio(sched.sigmas[i]);
        est.denoise(x, t, den);
        x = sched.step(den, x);
    }
    return x;
}

std::shared_ptr<mdlab::ScoreEstimator> empirical_vp(std::size_t n_data, std::uint64_t seed) {
    auto proc = make<mdlab::ForwardProcess>("vp");
    auto est = make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::make_shared<const Matrix>(normal_matrix(n_data, 2, seed)));
    in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(proc));
    TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

std::string unipc_params(int order, const char* variant, bool corrector, bool lof) {
    return "\"order\": " + std::to_string(order) + ", \"variant\": \"" + variant +
           "\", \"corrector\": " + (corrector ? "true" : "false") + ", \"lower_order_final\": " + (lof ? "true" : "false");
}

}  // namespace

TEST_CASE("unipc equals a transcription of diffusers' UniPCMultistepScheduler on the same sigmas",
          "[unipc][diffusers]") {
    auto est = empirical_vp(12, 91);
    const auto& proc = est->process();
    TestContext ctx(5);
    const Matrix x_T = normal_matrix(16, 2, 92);
    const auto init = ctx.output_dir() / "init.npy";
    mdlab::npy::write(init, x_T);
    double worst = 0.0;
    const int steps = 10;
    for (const char* grid : {"uniform", "log_snr"}) {
        // k-diffusion sigmas sigma/alpha of our grid; the first is sigma(T)/alpha(T).
        std::vector<double> sigmas;
        for (double t : mdlab::time_grid(proc, grid, steps, 0.02)) sigmas.push_back(proc.sigma(t) / proc.alpha(t));
        std::vector<double> zero = sigmas;
        zero.push_back(0.0);
        for (int order = 1; order <= 3; ++order)
            for (const char* variant : {"bh1", "bh2"})
                for (const bool corrector : {true, false})
                    for (const bool lof : {true, false})
                        for (const bool denoise : {false, true}) {
                            INFO(grid << ", order " << order << ", " << variant << ", corrector " << corrector
                                      << ", lower_order_final " << lof << ", final 0 " << denoise);
                            // Diffusers' step to sigma = 0 needs order 1 (lower_order_final), and bh1 there
                            // multiplies B(h) = -inf by 0: NaN. Not compared.
                            if (denoise && (!lof || std::string(variant) == "bh1")) continue;
                            DiffusersUniPc ref;
                            ref.solver_order = order;
                            ref.solver_type = variant;
                            ref.lower_order_final = lof;
                            if (!corrector)
                                for (int i = 0; i <= steps; ++i) ref.disable_corrector.push_back(i);
                            // Our grid's end is diffusers' last sigma before a final 0 (lower_order_final
                            // counts that step): without denoise, its run stopped before the step to 0.
                            ref.sigmas = lof ? zero : sigmas;
                            const Matrix expected = diffusers_sample(ref, *est, x_T, denoise ? -1 : steps);
                            const auto r = run("unipc",
                                               "{\"grid\": \"given\", \"steps\": 10, \"sigmas\": " +
                                                   list(denoise ? zero : sigmas) + ", " +
                                                   unipc_params(order, variant, corrector, lof) + ", \"init\": \"" +
                                                   init.string() + "\"}",
                                               est, ctx);
                            CHECK(stat(r, "nfe") == steps + (denoise ? 1 : 0));
                            const double gap = rel_gap(r.samples, expected);
                            worst = std::max(worst, gap);
                            CHECK(gap <= 1e-12);
                        }
    }
    WARN("unipc vs the diffusers transcription (VP, empirical denoiser, 10 steps, orders 1-3, bh1/bh2, "
         "with and without corrector): largest relative difference "
         << worst);
}

TEST_CASE("unipc without corrector is DDIM (order 1) and DPM-Solver++(2M) (order 2, bh2)", "[unipc]") {
    auto est = empirical_vp(12, 93);
    for (const char* grid : {"uniform", "karras"}) {
        INFO(grid);
        const std::string common = std::string(R"({"n": 200, "steps": 25, "grid": ")") + grid + "\", ";
        const auto ddim = run("ddim", common + R"("eta": 0})", est, 4);
        const auto uni1 = run("unipc", common + unipc_params(1, "bh1", false, true) + "}", est, 4);
        CHECK(rel_gap(uni1.samples, ddim.samples) <= 1e-12);
        const auto dpm = run("dpmpp_2m", common + R"("t_min": 0.001})", est, 4);
        const auto uni2 = run("unipc", common + unipc_params(2, "bh2", false, false) + "}", est, 4);
        const double gap = rel_gap(uni2.samples, dpm.samples);
        WARN(grid << ": UniP-2 (bh2) vs dpmpp_2m: relative difference " << gap);
        CHECK(gap <= 1e-12);
    }
}

TEST_CASE("unipc converges to the exact Gaussian flow with its order", "[unipc][convergence]") {
    // Karras grid (on log_snr and uniform grids the orders are the same but the error constants
    // of some cases nearly cancel, so the observed ratios wander; see docs/plugins.md).
    const double s0 = 0.5, t_min = 1e-3;
    struct Case {
        int order;
        bool corrector, lof;
        double expected;  // global order: p for UniP-p, p + 1 with UniC
    };
    const std::vector<Case> cases{{1, false, false, 1.0}, {2, false, false, 2.0}, {3, false, false, 3.0},
                                  {1, true, false, 2.0},  {2, true, false, 3.0},  {3, true, false, 4.0}};
    const int first = 32, counts = 6;  // 32 .. 1024 steps
    for (const char* name : {"vp", "ve"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<GaussianScore>(proc, 2, s0);
        TestContext ctx(5);
        const Matrix x_T = normal_matrix(32, 2, 44, proc->prior_std());
        const auto init = ctx.output_dir() / "init.npy";
        mdlab::npy::write(init, x_T);
        const Matrix exact = x_T * exact_flow_factor(*est, proc->t_end(), t_min);
        auto errors = [&](int order, const char* variant, bool corrector, bool lof) {
            std::vector<double> err;
            for (int k = 0; k < counts; ++k)
                err.push_back(rel_gap(run("unipc",
                                          "{\"steps\": " + std::to_string(first << k) + ", \"grid\": \"karras\", " +
                                              unipc_params(order, variant, corrector, lof) + ", \"init\": \"" +
                                              init.string() + "\"}",
                                          est, ctx)
                                          .samples,
                                      exact));
            return err;
        };
        // Observed order of each halving, log2 of the error ratio.
        auto orders = [](const std::vector<double>& err) {
            std::vector<double> p;
            for (std::size_t k = 0; k + 1 < err.size(); ++k) p.push_back(std::log2(err[k] / err[k + 1]));
            return p;
        };
        for (const char* variant : {"bh1", "bh2"})
            for (const Case& c : cases) {
                const auto err = errors(c.order, variant, c.corrector, c.lof);
                const auto p = orders(err);
                std::ostringstream o;
                for (double v : p) o << " " << v;
                WARN(name << ", UniP-" << c.order << " " << variant << (c.corrector ? " + UniC" : "") << ": errors "
                          << err.front() << " (" << first << " steps) .. " << err.back() << " (" << (first << (counts - 1))
                          << "), observed orders" << o.str());
                CHECK(p[counts - 3] == Approx(c.expected).margin(0.1));
                CHECK(p[counts - 2] == Approx(c.expected).margin(0.1));
            }
        // lower_order_final caps the last step's order at 2 (diffusers' order-1 step to sigma = 0 is
        // counted after it): nothing changes up to order 2; UniPC-3's last step has local error
        // O(h^3), which changes the error's sign near 1024 steps and then sets the order, 3.
        for (const bool corrector : {false, true}) {
            const std::string p2 = "{\"steps\": 40, \"order\": 2, \"corrector\": " + std::string(corrector ? "true" : "false");
            CHECK(identical(run("unipc", p2 + R"(, "lower_order_final": true})", est, ctx).samples,
                            run("unipc", p2 + R"(, "lower_order_final": false})", est, ctx).samples));
        }
        std::vector<double> capped;
        for (int steps : {2048, 4096, 8192})
            capped.push_back(rel_gap(run("unipc",
                                         "{\"steps\": " + std::to_string(steps) + ", \"grid\": \"karras\", " +
                                             unipc_params(3, "bh2", true, true) + ", \"init\": \"" + init.string() + "\"}",
                                         est, ctx)
                                         .samples,
                                     exact));
        const auto p = orders(capped);
        WARN(name << ", UniPC-3 bh2 with lower_order_final: errors " << capped.front() << " (2048 steps) .. "
                  << capped.back() << " (8192), observed orders " << p[0] << " " << p[1]);
        CHECK(p[1] == Approx(3.0).margin(0.4));
    }
}

TEST_CASE("unipc: one evaluation per step, denoise, threads and bad parameters", "[unipc]") {
    auto est = empirical_vp(40, 95);
    for (int order = 1; order <= 3; ++order) {
        INFO("order " << order);
        const std::string common = R"({"n": 1000, "steps": 15, "t_min": 0.05, "order": )" + std::to_string(order);
        mdlab::SampleResult one, two;
        // 1000 rows: several random chunks, split differently between 1 and 2 threads.
        tbb::task_arena(1).execute([&] { one = run("unipc", common + "}", est, 21); });
        tbb::task_arena(2).execute([&] { two = run("unipc", common + "}", est, 21); });
        CHECK(identical(one.samples, two.samples));
        CHECK(stat(one, "nfe") == 15);
        CHECK(stat(one, "steps") == 15);
        // denoise is the Tweedie step on the same output (also with lower_order_final).
        const auto den = run("unipc", common + R"(, "denoise": true})", est, 21);
        CHECK(stat(den, "nfe") == 16);
        Matrix expected = Matrix::from_shape(one.samples.shape());
        est->denoise(one.samples, 0.05, expected);
        CHECK(rel_gap(den.samples, expected) <= 1e-14);
    }
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(make<mdlab::Sampler>("unipc", R"({"order": 4})"), Contains("order"));
    CHECK_THROWS_WITH(make<mdlab::Sampler>("unipc", R"({"order": 0})"), Contains("order"));
    CHECK_THROWS_WITH(make<mdlab::Sampler>("unipc", R"({"variant": "bh3"})"), Contains("bh1"));
}

