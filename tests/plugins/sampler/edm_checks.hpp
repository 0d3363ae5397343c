// Shared by the edm_stochastic and restart tests: a nonlinear closed-form denoiser (two-point data
// in every coordinate), initial points written to a file, and k-diffusion's Heun/Euler step with
// churn transcribed for one coordinate on EDM's sigma axis (alpha = 1).
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include "sampler_check.hpp"

namespace mdlab::test {

// Data uniform on {-m, +m}^D: each coordinate independent, so the denoiser is per coordinate,
// D(x, t) = E[x0 | x_t = x] = m tanh(alpha m x / sigma^2), and s(x, t) = (alpha D - x) / sigma^2.
// Nonlinear (unlike a Gaussian's), so a transcription fed the same points checks every evaluation.
class TwoPointScore : public mdlab::ScoreEstimator {
public:
    TwoPointScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double m)
        : p_(std::move(p)), d_(d), m_(m) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return d_; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    double denoise(double x, double t) const {
        const double a = p_->alpha(t), s = p_->sigma(t);
        return m_ * std::tanh(a * m_ * x / (s * s));
    }
    void score(const Matrix& x, double t, Matrix& out) const override {
        const double a = p_->alpha(t), s = p_->sigma(t);
        out = Matrix::from_shape(x.shape());
        for (std::size_t k = 0; k < x.size(); ++k) out.data()[k] = (a * denoise(x.data()[k], t) - x.data()[k]) / (s * s);
    }

private:
    std::shared_ptr<const mdlab::ForwardProcess> p_;
    std::size_t d_;
    double m_;
};

// Writes x to <ctx folder>/<name>.npy and returns the path as a JSON string value.
inline std::string write_init(const mdlab::test::TestContext& ctx, const Matrix& x, const std::string& name = "init") {
    const auto path = ctx.output_dir() / (name + ".npy");
    mdlab::npy::write(path, x);
    return "\"" + path.string() + "\"";
}

// The set-up of the transcription tests: the two-point score on EDM (sigma_max = 80) and 10 x 2
// initial points, also written to a file (init, a JSON string value).
struct EdmTranscription {
    std::shared_ptr<const mdlab::ForwardProcess> proc = make<mdlab::ForwardProcess>("edm");
    std::shared_ptr<TwoPointScore> est = std::make_shared<TwoPointScore>(proc, 2, 0.8);
    mdlab::test::TestContext ctx{9};
    Matrix x_T = normal_matrix(10, 2, 43, proc->prior_std());
    std::string init = write_init(ctx, x_T);
};

// k-diffusion's step i of sample_euler / sample_heun (Karras et al. 2022, Algorithm 2) for one
// coordinate x, with its noise eps = randn * s_noise given and gamma already chosen:
//   sigma_hat = sigma_i (gamma + 1); x += eps sqrt(sigma_hat^2 - sigma_i^2) if gamma > 0;
//   d = (x - D(x, sigma_hat)) / sigma_hat; Euler to sigma_{i+1}, Heun's correction unless it is 0.
template <class Denoiser>
double kdiffusion_churn_step(Denoiser&& den, double x, double sigma, double sigma_next, double gamma, double eps,
                             bool heun) {
    const double sigma_hat = sigma * (gamma + 1.0);
    if (gamma > 0.0) x = x + eps * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
    const double d = (x - den(x, sigma_hat)) / sigma_hat;
    const double dt = sigma_next - sigma_hat;
    if (!heun || sigma_next == 0.0) return x + d * dt;
    const double x2 = x + d * dt;
    const double d2 = (x2 - den(x2, sigma_next)) / sigma_next;
    return x + (d + d2) / 2.0 * dt;
}

// For Gaussian data N(0, v0) every Euler or Heun step of the scaled probability-flow ODE is linear:
// with D = v0 xh / (v0 + lambda^2) the slope is d = lambda xh / (v0 + lambda^2), and a step from
// lambda to lambda_next multiplies xh by
//   Euler  c1 = 1 + h lambda / (v0 + lambda^2),   h = lambda_next - lambda,
//   Heun   1 + h/2 (lambda / (v0 + lambda^2) + c1 lambda_next / (v0 + lambda_next^2)).
// The tests propagate the variance of xh with it: the samplers' exact discrete law.
inline double gaussian_step_factor(double v0, double lambda, double lambda_next, bool heun) {
    const double h = lambda_next - lambda, c1 = 1.0 + h * lambda / (v0 + lambda * lambda);
    return heun ? 1.0 + h / 2.0 * (lambda / (v0 + lambda * lambda) + c1 * lambda_next / (v0 + lambda_next * lambda_next))
                : c1;
}

// Sampler `a` with params `a_json` gives bit for bit the output and the nfe of sampler `b` with `b_json`.
inline void check_same_run(const std::string& a, const std::string& a_json, const std::string& b,
                           const std::string& b_json, std::shared_ptr<const mdlab::ScoreEstimator> est,
                           mdlab::Context& ctx) {
    const auto ra = run(a, a_json, est, ctx), rb = run(b, b_json, est, ctx);
    CHECK(identical(ra.samples, rb.samples));
    CHECK(stat(ra, "nfe") == stat(rb, "nfe"));
}

// Calls f(est, ctx, json) on edm and vp, grids uniform and karras, with the two-point score of the
// process and json the start of a params object (15 steps, the grid and an init file of 30 points,
// no closing brace): the cases where a sampler must reduce to a pf_ode_* sampler.
template <class F>
void for_each_ode_case(F&& f) {
    for (const char* name : {"edm", "vp"}) {
        auto proc = make<mdlab::ForwardProcess>(name);
        auto est = std::make_shared<TwoPointScore>(proc, 3, 0.6);
        mdlab::test::TestContext ctx(4);
        const std::string init = write_init(ctx, normal_matrix(30, 3, 7, proc->prior_std()));
        for (const char* grid : {"uniform", "karras"}) {
            INFO(name << ", " << grid);
            f(est, ctx, std::string(R"({"steps": 15, "grid": ")") + grid + R"(", "init": )" + init);
        }
    }
}

// The sampler's output is the same on 1 and on 2 threads.
inline void check_thread_independent(const std::string& sampler, const std::string& json,
                                     std::shared_ptr<const mdlab::ScoreEstimator> est) {
    Matrix out[2];
    for (int threads : {1, 2}) {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        out[threads - 1] = run(sampler, json, est).samples;
    }
    CHECK(identical(out[0], out[1]));
}

// The largest difference between a and b relative to the largest |b|.
inline double max_relative_difference(const Matrix& a, const Matrix& b) {
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        err = std::max(err, std::abs(a.data()[k] - b.data()[k]));
        scale = std::max(scale, std::abs(b.data()[k]));
    }
    return err / scale;
}

}  // namespace mdlab::test
