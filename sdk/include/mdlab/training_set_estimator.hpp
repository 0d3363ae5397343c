// Plumbing shared by the estimators built on a training set and the streaming softmax kernel
// (empirical, kernel_smoothed, tangent_smoothed): reading and validating the `data` and
// `process` inputs, packing the training points as kernel keys, keeping the inputs alive, the
// checks every score() call makes (dimension of the queries, sigma(t) > 0), and the kernel's
// `precision` parameter (f64 | f32, see mdlab/kernels/softmax_score.hpp).
// Header-only: each plugin library that includes it gets its own copy.
#pragma once
#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

namespace mdlab {

class TrainingSetEstimator : public mdlab::ScoreEstimator {
public:
    std::size_t dim() const override { return mdlab::cols(data()); }

    const mdlab::ForwardProcess& process() const override {
        data();
        return *process_;
    }

    // The `precision` parameter every training-set estimator declares.
    static mdlab::ParamSpec precision_param(const std::string& note = "") {
        return mdlab::choice("precision", "f64", {"f64", "f32"},
                             "arithmetic of the softmax kernel: f64, or f32 (about twice as fast, relative "
                             "error about 1e-6 within a few sigma of the data; not for tiny sigma)" +
                                 note);
    }

    // The `spatial_index` parameter every training-set estimator declares.
    static mdlab::ParamSpec spatial_index_param() {
        return mdlab::boolean("spatial_index", true,
                              "restrict each query to the training points that carry weight (a k-d tree with a "
                              "proven bound: at most 1e-15 of the weight dropped); false: the dense sum over all "
                              "points (same results to about 1e-12, slower at small sigma)");
    }

protected:
    explicit TrainingSetEstimator(std::string name) : name_(std::move(name)) {}
    // Reads `precision` (declared with precision_param()).
    TrainingSetEstimator(std::string name, const mdlab::Params& p) : name_(std::move(name)) {
        try {
            precision_ = mdlab::kernels::precision_from_string(p.string("precision"));
        } catch (const mdlab::Error& e) {
            throw mdlab::InputError(name_ + ": " + e.what(), "precision");
        }
        spatial_index_ = !p.has("spatial_index") || p.boolean("spatial_index");
    }

    // Reads `data` (non-empty, finite) and `process`, packs the keys.
    void prepare_training_set(const mdlab::Inputs& inputs) {
        auto data = inputs.points("data");
        auto process = inputs.process("process");
        if (!data || !process) throw mdlab::Error(name_ + ": input 'data' or 'process' is null");
        if (mdlab::rows(*data) == 0 || mdlab::cols(*data) == 0)
            throw mdlab::InputError(name_ + ": the training set is empty (" + std::to_string(mdlab::rows(*data)) +
                                        " x " + std::to_string(mdlab::cols(*data)) + " points)",
                                    "data");
        for (std::size_t k = 0; k < data->size(); ++k)
            if (!std::isfinite(data->data()[k]))
                throw mdlab::InputError(name_ + ": training point " + std::to_string(k / mdlab::cols(*data)) +
                                            " is not finite",
                                        "data");
        keys_ = pack_keys(*data);
        // The estimator keeps its inputs alive for as long as it lives.
        data_ = std::move(data);
        process_ = std::move(process);
    }

    // Points packed as kernel keys, with the spatial index when `spatial_index` is on.
    mdlab::kernels::SoftmaxKeys pack_keys(const mdlab::Matrix& x) const {
        return spatial_index_ ? mdlab::kernels::SoftmaxKeys::indexed(x) : mdlab::kernels::SoftmaxKeys(x);
    }

    // alpha(t) and sigma(t) for a score call on x, after checking x's dimension and sigma > 0.
    std::pair<double, double> alpha_sigma(const mdlab::Matrix& x, double t) const {
        const mdlab::Matrix& d = data();
        if (mdlab::cols(x) != mdlab::cols(d))
            throw mdlab::Error(name_ + ": the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the training data has dimension " + std::to_string(mdlab::cols(d)));
        const double a = process_->alpha(t), s = process_->sigma(t);
        if (!(s > 0.0) || !std::isfinite(s) || !std::isfinite(a))
            throw mdlab::Error(name_ + ": score asked at t = " + std::to_string(t) + " where sigma(t) = " +
                               std::to_string(s) + " and alpha(t) = " + std::to_string(a) +
                               " (the score needs sigma > 0)");
        return {a, s};
    }

    const mdlab::Matrix& data() const {
        if (!data_ || !process_) throw mdlab::Error(name_ + ": used before prepare()");
        return *data_;
    }

    const std::string name_;
    mdlab::kernels::SoftmaxKeys keys_;
    mdlab::kernels::Precision precision_ = mdlab::kernels::Precision::f64;
    bool spatial_index_ = true;

private:
    std::shared_ptr<const mdlab::Matrix> data_;
    std::shared_ptr<const mdlab::ForwardProcess> process_;
};

}  // namespace mdlab
