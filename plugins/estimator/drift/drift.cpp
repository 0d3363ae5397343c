// The drift (mean-shift) field of drifting models as a score estimator (SCIENCE.md section 2
// 'drift', section 5 claim 4):
//   V(x) = m_k(x; data) - m_k(x; model),  m_k(x; P) = sum_j k(x, p_j) (p_j - x) / sum_j k(x, p_j),
// the attraction to the data samples minus the repulsion from the model samples (without a
// `model` input, V = m_k(x; data)). With the Gaussian kernel k = exp(-|x - y|^2 / (2 tau^2)),
// V = tau^2 (grad log(mu_data * phi_tau) - grad log(q * phi_tau)): tau^2 times a difference of
// smoothed scores. The Laplace kernel k = exp(-|x - y| / tau) is the default of drifting models
// and only approximately a score difference.
//
// The field does not depend on time: score(x, t) ignores t. It has no forward process of its
// own; one can be connected (input `process`) so that samplers needing alpha(t), sigma(t) can
// run it, otherwise process() throws.
// Computed by the streaming kernel mdlab/kernels/mean_shift.hpp.
#include <cfloat>
#include <cmath>
#include <memory>
#include <string>

#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/mdlab.hpp>

namespace {

void require_points(const mdlab::Matrix& p, const std::string& port) {
    if (mdlab::rows(p) == 0 || mdlab::cols(p) == 0)
        throw mdlab::InputError("drift: input '" + port + "' is empty (" + std::to_string(mdlab::rows(p)) + " x " +
                                    std::to_string(mdlab::cols(p)) + " points)",
                                port);
    for (std::size_t k = 0; k < p.size(); ++k)
        if (!std::isfinite(p.data()[k]))
            throw mdlab::InputError("drift: point " + std::to_string(k / mdlab::cols(p)) + " of input '" + port +
                                        "' is not finite",
                                    port);
}

class Drift : public mdlab::ScoreEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("drift", "1.0.0",
                                 "mean-shift drift field of drifting models, V = m_k(x; data) - m_k(x; model) "
                                 "(Gaussian kernel: tau^2 times the smoothed score difference); time-independent")
            .input("data", mdlab::ValueKind::points, "data samples x_1..x_N (N x D): the attraction")
            .input("model", mdlab::ValueKind::points,
                   "model samples y_1..y_M (M x D): the repulsion; without it V = m_k(x; data)", false)
            .input("process", mdlab::ValueKind::process,
                   "forward process reported by process(); the field does not use it, but samplers and "
                   "denoise() need one",
                   false)
            .param(mdlab::choice("kernel", "laplace", {"gaussian", "laplace"},
                                 "gaussian: exp(-|x-y|^2 / (2 tau^2)); laplace: exp(-|x-y| / tau) (drifting models' default)"))
            .param(mdlab::real("tau", 0.5, "kernel bandwidth (temperature), in data units").greater_than(0.0));
    }

    explicit Drift(const mdlab::Params& p)
        : kernel_(mdlab::kernels::mean_shift_kernel(p.string("kernel"))), tau_(p.real("tau")) {
        if (!(tau_ * tau_ >= DBL_MIN) || !std::isfinite(tau_))
            throw mdlab::InputError("drift: tau = " + std::to_string(tau_) +
                                        " is out of range (tau^2 must be a finite normal double, tau >= 1.5e-154)",
                                    "tau");
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context&) override {
        auto data = inputs.points("data");
        if (!data) throw mdlab::Error("drift: input 'data' is null");
        require_points(*data, "data");
        const std::size_t d = mdlab::cols(*data);
        std::shared_ptr<const mdlab::Matrix> model;
        if (inputs.has("model")) {
            model = inputs.points("model");
            if (!model) throw mdlab::Error("drift: input 'model' is null");
            require_points(*model, "model");
            if (mdlab::cols(*model) != d)
                throw mdlab::InputError("drift: the model samples have dimension " + std::to_string(mdlab::cols(*model)) +
                                            ", the data has dimension " + std::to_string(d),
                                        "model");
        }
        process_ = inputs.has("process") ? inputs.process("process") : nullptr;
        data_keys_ = mdlab::kernels::SoftmaxKeys(*data);
        has_model_ = model != nullptr;
        if (has_model_) model_keys_ = mdlab::kernels::SoftmaxKeys(*model);
        dim_ = d;
    }

    std::size_t dim() const override {
        prepared();
        return dim_;
    }

    const mdlab::ForwardProcess& process() const override {
        prepared();
        if (!process_)
            throw mdlab::Error("drift: no forward process is connected (input 'process'): the drift field is "
                               "time-independent and has no alpha(t), sigma(t) of its own, so it cannot drive a "
                               "score sampler or a denoiser; connect a process, or use the drifting sampler");
        return *process_;
    }

    // V(x); t is ignored (the field is time-independent).
    void score(const mdlab::Matrix& x, double, mdlab::Matrix& out) const override {
        prepared();
        if (mdlab::cols(x) != dim_)
            throw mdlab::Error("drift: the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the data has dimension " + std::to_string(dim_));
        mdlab::kernels::drift_field(x, data_keys_, has_model_ ? &model_keys_ : nullptr, kernel_, tau_, out);
    }

private:
    void prepared() const {
        if (dim_ == 0) throw mdlab::Error("drift: used before prepare()");
    }

    mdlab::kernels::MeanShiftKernel kernel_;
    double tau_;
    std::size_t dim_ = 0;
    bool has_model_ = false;
    mdlab::kernels::SoftmaxKeys data_keys_, model_keys_;
    std::shared_ptr<const mdlab::ForwardProcess> process_;
};

}  // namespace

MDLAB_PLUGINS(Drift)
