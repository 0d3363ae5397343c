// The empirical (memorising) score: the exact score of the noised empirical measure
//   p_t^N(x) = (1/N) sum_i N(x; alpha(t) x_i, sigma(t)^2 I),
//   s(x, t) = sum_i w_i(x) (alpha x_i - x) / sigma^2,  w = softmax_i(-|x - alpha x_i|^2 / (2 sigma^2))
// (SCIENCE.md section 2). Run backwards to t -> 0 it collapses onto the training points.
// Computed by the streaming softmax kernel mdlab/kernels/softmax_score.hpp.
#include <cmath>
#include <memory>
#include <string>

#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

namespace {

class Empirical : public mdlab::ScoreEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("empirical", "1.0.0",
                                 "exact score of the noised empirical measure of the training set "
                                 "(memorises: samples collapse onto training points as t -> 0)")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)");
    }

    explicit Empirical(const mdlab::Params&) {}

    void prepare(const mdlab::Inputs& inputs, mdlab::Context&) override {
        auto data = inputs.points("data");
        auto process = inputs.process("process");
        if (!data || !process) throw mdlab::Error("empirical: input 'data' or 'process' is null");
        if (mdlab::rows(*data) == 0 || mdlab::cols(*data) == 0)
            throw mdlab::InputError("empirical: the training set is empty (" + std::to_string(mdlab::rows(*data)) +
                                        " x " + std::to_string(mdlab::cols(*data)) + " points)",
                                    "data");
        for (std::size_t k = 0; k < data->size(); ++k)
            if (!std::isfinite(data->data()[k]))
                throw mdlab::InputError("empirical: training point " + std::to_string(k / mdlab::cols(*data)) +
                                            " is not finite",
                                        "data");
        keys_ = mdlab::kernels::SoftmaxKeys(*data);
        // The estimator keeps its inputs alive for as long as it lives.
        data_ = std::move(data);
        process_ = std::move(process);
    }

    std::size_t dim() const override { return mdlab::cols(prepared()); }

    const mdlab::ForwardProcess& process() const override {
        prepared();
        return *process_;
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const mdlab::Matrix& data = prepared();
        if (mdlab::cols(x) != mdlab::cols(data))
            throw mdlab::Error("empirical: the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the training data has dimension " + std::to_string(mdlab::cols(data)));
        const double a = process_->alpha(t), s = process_->sigma(t);
        if (!(s > 0.0) || !std::isfinite(s) || !std::isfinite(a))
            throw mdlab::Error("empirical: score asked at t = " + std::to_string(t) + " where sigma(t) = " +
                               std::to_string(s) + " and alpha(t) = " + std::to_string(a) +
                               " (the score needs sigma > 0)");
        mdlab::kernels::softmax_score(x, keys_, a, s * s, out);
    }

private:
    const mdlab::Matrix& prepared() const {
        if (!data_ || !process_) throw mdlab::Error("empirical: used before prepare()");
        return *data_;
    }

    std::shared_ptr<const mdlab::Matrix> data_;
    std::shared_ptr<const mdlab::ForwardProcess> process_;
    mdlab::kernels::SoftmaxKeys keys_;
};

}  // namespace

MDLAB_PLUGINS(Empirical)
