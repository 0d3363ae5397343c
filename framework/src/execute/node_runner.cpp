#include "node_runner.hpp"

#include <memory>

#include "checked_estimator.hpp"

namespace mdlab::runtime {

namespace {

// A sampler's output: n rows (its `n` parameter, unless an `init` file gave the points), the
// dimension of its score estimator (when it has one), every coordinate finite.
void check_samples(const Matrix& x, const Inputs& inputs, const Params& params, const std::string& node,
                   const std::string& plugin) {
    const std::string who = "sampler '" + node + "' (plugin '" + plugin + "')";
    const bool from_file = params.has("init") && !params.string("init").empty();
    if (params.has("n") && !from_file && rows(x) != params.count("n"))
        throw Error(who + " returned " + std::to_string(rows(x)) + " samples, not n = " + std::to_string(params.count("n")));
    if (inputs.has("score") && cols(x) != inputs.estimator("score")->dim())
        throw Error(who + " returned samples of dimension " + std::to_string(cols(x)) + ", but its score estimator's is " +
                    std::to_string(inputs.estimator("score")->dim()));
    if (auto k = first_non_finite(x)) throw Error(who + " returned a non-finite sample (row " + std::to_string(*k / cols(x)) + ")");
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
        r.value = std::shared_ptr<const ScoreEstimator>(
            std::make_shared<CheckedEstimator>(std::move(e), ctx.node_id(), plugin.spec.name));
        break;
    }
    case Kind::sampler: {
        auto s = create_as<Sampler>(plugin, params, registry);
        SampleResult out = s->sample(inputs, ctx);
        check_samples(out.samples, inputs, params, ctx.node_id(), plugin.spec.name);
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
