#include "node_runner.hpp"

#include <memory>

namespace mdlab::runtime {

namespace {

template <class T>
std::shared_ptr<T> create_as(const PluginRecord& plugin, const Params& params, const Registry& registry) {
    auto made = std::dynamic_pointer_cast<T>(registry.create(plugin, params));
    if (!made)
        throw Error("plugin '" + plugin.spec.name + "' declares kind " + std::string(to_string(plugin.spec.kind)) +
                    " but its object does not implement that interface");
    return made;
}

}  // namespace

NodeResult run_node(const PluginRecord& plugin, const Params& params, const Inputs& inputs, Context& ctx,
                    const Registry& registry) {
    NodeResult r;
    switch (plugin.spec.kind) {
    case Kind::data: {  // the framework's `sample` step
        auto manifold = inputs.manifold("manifold");
        r.value = std::make_shared<const Matrix>(manifold->sample(params.count("n"), ctx.stream("draw")));
        break;
    }
    case Kind::manifold: {
        auto m = create_as<Manifold>(plugin, params, registry);
        m->prepare(ctx);
        r.value = std::shared_ptr<const Manifold>(std::move(m));
        break;
    }
    case Kind::process:
        r.value = std::shared_ptr<const ForwardProcess>(create_as<ForwardProcess>(plugin, params, registry));
        break;
    case Kind::estimator: {
        auto e = create_as<ScoreEstimator>(plugin, params, registry);
        e->prepare(inputs, ctx);
        r.value = std::shared_ptr<const ScoreEstimator>(std::move(e));
        break;
    }
    case Kind::sampler: {
        auto s = create_as<Sampler>(plugin, params, registry);
        SampleResult out = s->sample(inputs, ctx);
        r.value = std::make_shared<const Matrix>(std::move(out.samples));
        r.values = std::move(out.stats);
        break;
    }
    case Kind::metric:
        r.values = create_as<Metric>(plugin, params, registry)->evaluate(inputs, ctx);
        break;
    }
    ctx.progress(1.0);
    return r;
}

}  // namespace mdlab::runtime
