// The `drifting_generator` sampler plugin: a one-step generator G(z), z ~ N(0, I_L), an MLP
// trained on the `data` points with the drifting objective of Deng et al. 2026 (drift_field.hpp
// gives the field and the loss), then evaluated once on n latent draws. This library declares the
// plugin and checks its parameters; it does not link libtorch: the network lives in the backend
// drifting_generator_torch.cpp, loaded on the first sample() (mdlab/lazy_backend.hpp).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <mdlab/lazy_backend.hpp>
#include <mdlab/mdlab.hpp>

#include "drifting_generator_backend.hpp"

namespace {

// Any address inside this library, for dladdr.
void anchor() {}

drifting_generator::CreateFn backend() {
    static mdlab::LazyBackend<drifting_generator::CreateFn> loader(
        "drifting_generator", "libtorch", drifting_generator::backend_folder, drifting_generator::backend_file,
        drifting_generator::create_symbol, drifting_generator::signature_symbol);
    return loader.factory(reinterpret_cast<const void*>(&anchor));
}

class DriftingGenerator : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("drifting_generator", "1.0.0",
                                 "one-step generator G(z): an MLP trained with the drifting objective "
                                 "|G(z) - stopgrad(G(z) + V)|^2 (Deng et al. 2026), then one evaluation (libtorch)")
            .input("data", mdlab::ValueKind::points, "data points x_1..x_N (N x D) the generator learns")
            .param(mdlab::integer("n", 1000, "number of samples G(z) drawn after training").at_least(1))
            .role(mdlab::ParamRole::sample_count)
            .param(mdlab::integer("steps", 2000, "training iterations (Adam steps; 0: the untrained initialisation)")
                       .at_least(0)
                       .at_most(10000000))
            .param(mdlab::integer("batch", 256,
                                  "generated points per step, and data points per step (all of them when fewer); "
                                  "time and memory grow as batch^2")
                       .at_least(2)
                       .at_most(4096))
            .param(mdlab::real("lr", 1e-3, "learning rate of the Adam optimiser").greater_than(0.0).at_most(10.0))
            .param(mdlab::integer("width", 128, "units per hidden layer").at_least(1).at_most(8192))
            .param(mdlab::integer("depth", 3, "number of hidden layers (affine + SiLU)").at_least(1).at_most(32))
            .param(mdlab::real_list("radii", {0.02, 0.05, 0.2},
                                    "kernel radii R of the drift, in units of the batch's mean distance; the "
                                    "field sums one normalised field per radius (the reference's R_list)"))
            .param(mdlab::integer("latent_dim", 0, "dimension L of the latent z ~ N(0, I_L) (0: the data's dimension D)")
                       .at_least(0)
                       .at_most(4096))
            .param(mdlab::integer("threads", 1,
                                  "libtorch intra-op threads (process-wide setting; results depend on it)")
                       .at_least(1)
                       .at_most(1024));
    }

    // Parameters are kept until sample(): creating the node (validation, `mdlab describe`) does
    // not load libtorch.
    explicit DriftingGenerator(const mdlab::Params& p) : params_(p) {
        const std::vector<double>& radii = p.real_list("radii");
        if (radii.empty()) throw mdlab::InputError("drifting_generator: radii is empty; give at least one radius > 0", "radii");
        for (double r : radii)
            if (!(r > 0.0) || !std::isfinite(r))
                throw mdlab::InputError("drifting_generator: radius " + std::to_string(r) +
                                            " in radii is not a finite number > 0",
                                        "radii");
    }

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        std::unique_ptr<mdlab::Sampler> impl(backend()(params_));
        if (!impl) throw mdlab::Error("drifting_generator: the libtorch backend returned no sampler");
        return impl->sample(inputs, ctx);
    }

private:
    mdlab::Params params_;
};

}  // namespace

MDLAB_PLUGINS(DriftingGenerator)
