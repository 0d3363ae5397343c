// The geometric coarse score (SCIENCE.md section 2, tangent_smoothed): every training point x_i
// gets a tangent basis U_i (D x k, local PCA of its nearest neighbours, local_pca.hpp) and the
// mixture component N(alpha x_i, sigma^2 I + alpha^2 h^2 U_i U_i^T). With r = x - alpha x_i and
// c = alpha^2 h^2 / (sigma^2 + alpha^2 h^2):
//   log-weight_i = -( |r|^2 - c |U_i^T r|^2 ) / (2 sigma^2)   (the determinants are equal),
//   component score = -( r - c U_i U_i^T r ) / sigma^2,   s = sum_i softmax_i * component score.
// It is the exact score of the noised law of x_i + h U_i z (z ~ N(0, I_k), i uniform): mass is
// spread along the manifold and not across it, so its error to M is O(curvature h^2).
// h = 0 is the empirical score, bit for bit. Computed by the streaming softmax kernel
// (mdlab/kernels/softmax_score.hpp) with per-key tangent bases. bandwidth "cv": h is chosen by
// held-out denoising score matching (mdlab/bandwidth_cv.hpp), the tangent bases of the fit set
// estimated from the fit set alone.
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>

#include <mdlab/bandwidth_cv.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include <mdlab/training_set_estimator.hpp>
#include "local_pca.hpp"

namespace {

class TangentSmoothed : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("tangent_smoothed", "1.0.0",
                                 "score of the training set smoothed by h along local-PCA tangent spaces only "
                                 "(components N(alpha x_i, sigma^2 I + alpha^2 h^2 U_i U_i^T)): novel samples near M")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "data manifold, read only for its intrinsic dimension when intrinsic_dim = 0", false)
            .param(mdlab::bandwidth_cv::bandwidth_param(0.05,
                                                        "tangential bandwidth h in data units (0: the empirical score)"))
            .param(mdlab::integer("neighbours", 10,
                                  "nearest training neighbours of each point used for its local PCA "
                                  "(at least intrinsic_dim, less than N)")
                       .at_least(1)
                       .at_most(static_cast<double>(mdlab::kernels::max_neighbours)))
            .param(mdlab::integer("intrinsic_dim", 0,
                                  "dimension k of the tangent spaces (0: the connected manifold's intrinsic dimension)")
                       .at_least(0))
            .param(precision_param("; it applies to bandwidth = 0 (the empirical score), the tangent kernel "
                                   "(bandwidth > 0) always runs in f64"))
            .param(spatial_index_param());
    }

    explicit TangentSmoothed(const mdlab::Params& p)
        : TrainingSetEstimator("tangent_smoothed", p),
          cv_(p.is_choice("bandwidth")),
          h_(cv_ ? 0.0 : p.real("bandwidth")),
          neighbours_(p.count("neighbours")),
          k_param_(p.count("intrinsic_dim")) {
        if (!std::isfinite(h_) || !(h_ >= 0.0))
            throw mdlab::InputError("tangent_smoothed: bandwidth must be finite and >= 0, got " + std::to_string(h_),
                                    "bandwidth");
        if (neighbours_ < 1 || neighbours_ > mdlab::kernels::max_neighbours)
            throw mdlab::InputError("tangent_smoothed: neighbours must be in [1, " +
                                        std::to_string(mdlab::kernels::max_neighbours) + "], got " +
                                        std::to_string(neighbours_),
                                    "neighbours");
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        prepare_training_set(inputs);
        const std::size_t n = mdlab::rows(data()), d = mdlab::cols(data());
        std::size_t k = k_param_;
        if (k == 0) {
            if (!inputs.has("manifold"))
                throw mdlab::InputError("tangent_smoothed: intrinsic_dim = 0 means 'take it from the manifold', but no "
                                        "manifold is connected: set intrinsic_dim or connect input 'manifold'",
                                        "intrinsic_dim");
            auto m = inputs.manifold("manifold");
            if (!m) throw mdlab::Error("tangent_smoothed: input 'manifold' is null");
            k = m->intrinsic_dim();
        }
        const std::string from = k_param_ == 0 ? " (from the manifold)" : "";
        if (k >= d)
            throw mdlab::InputError("tangent_smoothed: intrinsic_dim = " + std::to_string(k) + from +
                                        " must be smaller than the data dimension D = " + std::to_string(d) +
                                        " (with k = D the smoothing is isotropic: use kernel_smoothed)",
                                    "intrinsic_dim");
        if (neighbours_ < k)
            throw mdlab::InputError("tangent_smoothed: neighbours = " + std::to_string(neighbours_) +
                                        " is smaller than intrinsic_dim = " + std::to_string(k) + from +
                                        ": the local PCA needs at least k neighbours to span a k-dimensional tangent space",
                                    "neighbours");
        if (neighbours_ >= n)
            throw mdlab::InputError("tangent_smoothed: neighbours = " + std::to_string(neighbours_) +
                                        " needs more training points than N = " + std::to_string(n),
                                    "neighbours");
        if (cv_ && neighbours_ >= mdlab::bandwidth_cv::fit_size(n))
            throw mdlab::InputError("tangent_smoothed: bandwidth \"cv\" fits on " +
                                        std::to_string(mdlab::bandwidth_cv::fit_size(n)) + " of the N = " +
                                        std::to_string(n) + " training points, fewer than neighbours + 1 = " +
                                        std::to_string(neighbours_ + 1),
                                    "neighbours");
        if (cv_) h_ = mdlab::bandwidth_cv::select(data(), ctx, name_, [&](const mdlab::Matrix& fit) {
            auto keys = std::make_shared<mdlab::kernels::SoftmaxKeys>(pack_keys(fit));
            keys->set_tangents(mdlab_local_pca::tangent_bases(fit, neighbours_, k).bases);
            return [keys](const mdlab::Matrix& x, double h, double sigma, mdlab::Matrix& out) {
                mdlab::kernels::softmax_score(x, *keys, 1.0, sigma * sigma, out, nullptr, h * h);
            };
        });
        const mdlab_local_pca::TangentEstimate est = mdlab_local_pca::tangent_bases(data(), neighbours_, k);
        keys_.set_tangents(est.bases);
        ctx.log("tangent_smoothed: local PCA with " + std::to_string(neighbours_) + " neighbours, k = " +
                std::to_string(k) + " tangent directions at " + std::to_string(n) + " training points" +
                (est.undetermined > 0 ? "; " + std::to_string(est.undetermined) +
                                            " neighbourhoods spanned fewer than k directions (coincident points?) "
                                            "and were completed with coordinate axes"
                                      : ""));
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        const double ah = a * h_;
        // tau = alpha^2 h^2 along U_i; tau = 0 is the plain (empirical) kernel. The tangent
        // kernel runs in double whatever the precision.
        mdlab::kernels::softmax_score(x, keys_, a, s * s, out, nullptr, ah * ah, precision_);
    }

private:
    bool cv_;
    double h_;
    std::size_t neighbours_, k_param_;
};

}  // namespace

MDLAB_PLUGINS(TangentSmoothed)
