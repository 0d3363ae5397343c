// The isotropic coarse score (SCIENCE.md section 2, kernel_smoothed): the empirical score with
// every sigma^2 replaced by sigma^2 + alpha^2 h^2,
//   s(x, t) = sum_i w_i(x) (alpha x_i - x) / v,  w = softmax_i(-|x - alpha x_i|^2 / (2 v)),
//   v = sigma(t)^2 + alpha(t)^2 h^2,
// the exact score of the noised Gaussian KDE (1/N) sum_i N(x_i, h^2 I) pushed through the
// forward process (alpha (x_i + h z) + sigma eps ~ N(alpha x_i, v I)). Samples are novel but
// carry off-manifold noise of size h in all D directions. h = 0 is the empirical score.
// Computed by the streaming softmax kernel mdlab/kernels/softmax_score.hpp. bandwidth "cv": h is
// chosen by held-out denoising score matching (mdlab/bandwidth_cv.hpp).
#include <cmath>
#include <string>

#include <memory>

#include <mdlab/bandwidth_cv.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include <mdlab/training_set_estimator.hpp>

namespace {

class KernelSmoothed : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("kernel_smoothed", "1.0.0",
                                 "score of the noised Gaussian KDE of the training set (empirical score with "
                                 "sigma^2 -> sigma^2 + alpha^2 h^2): novel samples, isotropic off-manifold noise")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(mdlab::bandwidth_cv::bandwidth_param(0.05, "KDE bandwidth h in data units (0: the empirical score)"))
            .param(precision_param())
            .param(spatial_index_param());
    }

    explicit KernelSmoothed(const mdlab::Params& p)
        : TrainingSetEstimator("kernel_smoothed", p),
          cv_(p.is_choice("bandwidth")),
          h_(cv_ ? 0.0 : p.real("bandwidth")) {
        if (!std::isfinite(h_) || !(h_ >= 0.0))
            throw mdlab::InputError("kernel_smoothed: bandwidth must be finite and >= 0, got " + std::to_string(h_),
                                    "bandwidth");
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        prepare_training_set(inputs);
        if (cv_) h_ = mdlab::bandwidth_cv::select(data(), ctx, name_, [&](const mdlab::Matrix& fit) {
            auto keys = std::make_shared<const mdlab::kernels::SoftmaxKeys>(pack_keys(fit));
            return [keys, precision = precision_](const mdlab::Matrix& x, double h, double sigma, mdlab::Matrix& out) {
                mdlab::kernels::softmax_score(x, *keys, 1.0, sigma * sigma + h * h, out, nullptr, 0.0, precision);
            };
        });
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        const double ah = a * h_;
        mdlab::kernels::softmax_score(x, keys_, a, s * s + ah * ah, out, nullptr, 0.0, precision_);
    }

private:
    bool cv_;
    double h_;
};

}  // namespace

MDLAB_PLUGINS(KernelSmoothed)
