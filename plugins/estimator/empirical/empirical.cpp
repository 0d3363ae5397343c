// The empirical (memorising) score: the exact score of the noised empirical measure
//   p_t^N(x) = (1/N) sum_i N(x; alpha(t) x_i, sigma(t)^2 I),
//   s(x, t) = sum_i w_i(x) (alpha x_i - x) / sigma^2,  w = softmax_i(-|x - alpha x_i|^2 / (2 sigma^2))
// (SCIENCE.md section 2). Run backwards to t -> 0 it collapses onto the training points.
// Computed by the streaming softmax kernel mdlab/kernels/softmax_score.hpp.
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include <mdlab/training_set_estimator.hpp>

namespace {

class Empirical : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("empirical", "1.0.0",
                                 "exact score of the noised empirical measure of the training set "
                                 "(memorises: samples collapse onto training points as t -> 0)")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(precision_param())
            .param(spatial_index_param());
    }

    explicit Empirical(const mdlab::Params& p) : TrainingSetEstimator("empirical", p) {}

    void prepare(const mdlab::Inputs& inputs, mdlab::Context&) override { prepare_training_set(inputs); }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        mdlab::kernels::softmax_score(x, keys_, a, s * s, out, nullptr, 0.0, precision_);
    }
};

}  // namespace

MDLAB_PLUGINS(Empirical)
