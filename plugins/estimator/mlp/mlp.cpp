// The `mlp` score estimator plugin: a neural score s(x, t) = -net(x, t) / sigma(t) trained by
// denoising score matching (SCIENCE.md section 2, "neural (mlp)"). This library declares the
// plugin and its parameters and does not link libtorch: the network lives in the backend
// mlp_torch/mlp_torch.so (mlp_torch.cpp), loaded on the first prepare(), so that mdlab commands
// and pipelines that do not use the network never load libtorch (see mlp_backend.hpp).
#include <filesystem>
#include <memory>
#include <string>

#include <mdlab/estimator_state.hpp>
#include <mdlab/lazy_backend.hpp>
#include <mdlab/mdlab.hpp>

#include "mlp_backend.hpp"

namespace {

// Any address inside this library, for dladdr.
void anchor() {}

// The backend's factory, loaded once per process (mdlab/lazy_backend.hpp).
mdlab_mlp::CreateFn backend() {
    static mdlab::LazyBackend<mdlab_mlp::CreateFn> loader("mlp", "libtorch", mdlab_mlp::backend_folder,
                                                          mdlab_mlp::backend_file, mdlab_mlp::create_symbol,
                                                          mdlab_mlp::signature_symbol);
    return loader.factory(reinterpret_cast<const void*>(&anchor));
}

class Mlp : public mdlab::ScoreEstimator, public mdlab::EstimatorState {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("mlp", "1.0.0",
                                 "neural score s(x,t) = -net(x,t)/sigma(t): an MLP predicting the noise, "
                                 "trained by denoising score matching (libtorch)")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t), sigma(t) and T")
            .param(mdlab::integer("width", 64, "units per hidden layer").at_least(1).at_most(8192))
            .param(mdlab::integer("depth", 3, "number of hidden layers (affine + activation)").at_least(1).at_most(32))
            .param(mdlab::choice("activation", "silu", {"silu", "relu", "tanh"}, "activation of the hidden layers"))
            .param(mdlab::integer("time_features", 16,
                                  "number K of sin/cos pairs of Fourier features of the rescaled log-SNR fed to the network")
                       .at_least(1)
                       .at_most(1024))
            .param(mdlab::real("time_scale", 32.0,
                               "ratio of the highest to the lowest time frequency: the features are sin(pi f_k u), cos(pi f_k u), "
                               "f_k = 0.5 time_scale^(k/(K-1)), u in [-1, 1] the log-SNR rescaled over [t_min, T]")
                       .at_least(1.0)
                       .at_most(1e6))
            .param(mdlab::integer("epochs", 200, "maximum number of passes over the training points (each point noise_draws times per pass)").at_least(1).at_most(10000000))
            .param(mdlab::integer("batch_size", 256, "noisy training examples per optimiser step").at_least(1).at_most(10000000))
            .param(mdlab::real("learning_rate", 2e-3, "step size of the AdamW optimiser").greater_than(0.0).at_most(10.0))
            .param(mdlab::real("weight_decay", 0.0,
                               "decoupled weight decay of AdamW (Loshchilov and Hutter 2019; 0: plain Adam)")
                       .at_least(0.0)
                       .at_most(100.0))
            .param(mdlab::real("t_min", 1e-3, "smallest training time: t ~ U[t_min, T]").greater_than(0.0))
            .role(mdlab::ParamRole::process_time)
            .param(mdlab::real("validation_fraction", 0.1,
                               "fraction of the training points held out for the validation DSM loss (0: none; "
                               "then early stopping and the best-weights choice use the training loss)")
                       .at_least(0.0)
                       .at_most(0.9))
            .param(mdlab::integer("patience", 20,
                                  "stop after this many epochs without improvement of the monitored loss (0: never stop early)")
                       .at_least(0))
            .param(mdlab::integer("noise_draws", 1, "noisy copies (t, eps) of each training point per epoch").at_least(1).at_most(100000))
            .param(mdlab::choice("precision", "f32", {"f32", "f64"},
                                 "floating-point type of the network (scores are returned as doubles)"))
            .param(mdlab::integer("threads", 1,
                                  "libtorch intra-op threads during training (process-wide setting; results depend on it)")
                       .at_least(1)
                       .at_most(1024))
            .param(mdlab::path("state",
                               "file of trained weights written by save_state (Python: est.save(path)); when given, "
                               "prepare() loads them instead of training (same data, process and network parameters)"));
    }

    // Parameters are kept until prepare(): creating the node (validation, `mdlab describe`)
    // does not load libtorch.
    explicit Mlp(const mdlab::Params& p) : params_(p) {}

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        std::unique_ptr<mdlab::ScoreEstimator> impl(backend()(params_));
        if (!impl) throw mdlab::Error("mlp: the libtorch backend returned no estimator");
        impl->prepare(inputs, ctx);
        impl_ = std::move(impl);
    }
    std::size_t dim() const override { return prepared().dim(); }
    const mdlab::ForwardProcess& process() const override { return prepared().process(); }
    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override { prepared().score(x, t, out); }
    void save_state(const std::filesystem::path& file) const override {
        dynamic_cast<const mdlab::EstimatorState&>(prepared()).save_state(file);
    }

private:
    const mdlab::ScoreEstimator& prepared() const {
        if (!impl_) throw mdlab::Error("mlp: used before prepare()");
        return *impl_;
    }

    mdlab::Params params_;
    std::unique_ptr<mdlab::ScoreEstimator> impl_;
};

}  // namespace

MDLAB_PLUGINS(Mlp)
