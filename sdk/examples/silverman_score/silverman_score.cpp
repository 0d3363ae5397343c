// Example estimator plugin: the score of the noised Gaussian KDE of the training set, with a
// bandwidth that shrinks with the training-set size by a Silverman-style rule,
//   h = c N^(-1/(k+4))    (c: `scale`, k: `intrinsic_dim`, N: training points),
//   s(x, t) = sum_i w_i(x) (alpha x_i - x) / v,  w = softmax_i(-|x - alpha x_i|^2 / (2 v)),
//   v = sigma(t)^2 + alpha(t)^2 h^2.
// For a given N it is the built-in kernel_smoothed estimator at bandwidth h.
#include <cmath>
#include <string>

#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/training_set_estimator.hpp>

namespace {

class SilvermanScore : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("silverman_score", "1.0.0",
                                 "score of the noised Gaussian KDE of the training set, bandwidth h = c N^(-1/(k+4))")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(mdlab::real("scale", 0.5, "c in h = c N^(-1/(k+4)), in data units").greater_than(0.0))
            .param(mdlab::integer("intrinsic_dim", 1, "k in h = c N^(-1/(k+4)): the data's intrinsic dimension")
                       .at_least(1))
            .param(precision_param())
            .param(spatial_index_param());
    }

    explicit SilvermanScore(const mdlab::Params& p)
        : TrainingSetEstimator("silverman_score", p), scale_(p.real("scale")), k_(p.count("intrinsic_dim")) {}

    // The bandwidth depends on the data, so it is chosen here, once, after the training set is read.
    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        prepare_training_set(inputs);
        const double n = static_cast<double>(mdlab::rows(data()));
        h_ = scale_ * std::pow(n, -1.0 / (static_cast<double>(k_) + 4.0));
        ctx.log("silverman_score: bandwidth h = " + std::to_string(h_));
    }

    // Const and thread-safe: samplers call it from several threads at once.
    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        mdlab::kernels::softmax_score(x, keys_, a, s * s + a * a * h_ * h_, out, nullptr, 0.0, precision_);
    }

private:
    double scale_;
    std::size_t k_;
    double h_ = 0.0;
};

}  // namespace

MDLAB_PLUGINS(SilvermanScore)
