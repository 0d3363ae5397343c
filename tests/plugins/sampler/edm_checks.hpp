// Shared by the edm_stochastic and restart tests: a nonlinear closed-form denoiser (two-point data
// in every coordinate), initial points written to a file, and k-diffusion's Heun/Euler step with
// churn transcribed for one coordinate on EDM's sigma axis (alpha = 1).
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <vector>

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
