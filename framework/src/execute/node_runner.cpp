#include "node_runner.hpp"

#include <memory>

#include <mdlab/point_file.hpp>

#include "checked_estimator.hpp"
#include "mdlab/runtime/param_binding.hpp"

namespace mdlab::runtime {

namespace {

// The input port through which a plugin receives `kind` (the first such port it declares).
const PortSpec* port_of(const PluginSpec& spec, ValueKind kind) {
    for (const PortSpec& port : spec.inputs)
        if (port.kind == kind) return &port;
    return nullptr;
}

// A sampler's output: as many rows as its sample count (unless its initial points came from a
// file), the dimension of its score estimator (when it has one), every coordinate finite. The
// spec says which parameters and port these are (ParamRole, ValueKind), not their names.
void check_samples(const Matrix& x, const Inputs& inputs, const Params& params, const std::string& node,
                   const PluginSpec& spec) {
    const std::string who = "sampler '" + node + "' (plugin '" + spec.name + "')";
    const bool from_file = !role_text(spec, params, ParamRole::initial_points).empty();
    if (const auto n = role_size(spec, params, ParamRole::sample_count); n && !from_file && rows(x) != *n)
        throw Error(who + " returned " + std::to_string(rows(x)) + " samples, not " +
                    spec.find_param(ParamRole::sample_count)->key + " = " + std::to_string(*n));
    const PortSpec* score = port_of(spec, ValueKind::estimator);
    if (score && inputs.has(score->name) && cols(x) != inputs.estimator(score->name)->dim())
        throw Error(who + " returned samples of dimension " + std::to_string(cols(x)) + ", but its score estimator's is " +
                    std::to_string(inputs.estimator(score->name)->dim()));
    if (auto k = first_non_finite(x)) throw Error(who + " returned a non-finite sample (row " + std::to_string(*k / cols(x)) + ")");
}

// The framework's data steps: `points` reads its file (every row, in file order); `sample` draws
// its sample count of points from the manifold at its input.
Matrix draw_points(const PluginSpec& spec, const Params& params, const Inputs& inputs, Context& ctx) {
    if (spec.name == points_step_spec().name) return point_file::read_points(params.string("path"), "path");
    const PortSpec* manifold = port_of(spec, ValueKind::manifold);
    const auto n = role_size(spec, params, ParamRole::sample_count);
    if (!manifold || !n) throw Error("plugin '" + spec.name + "' declares no manifold input or no sample count");
    return inputs.manifold(manifold->name)->sample(*n, ctx.stream("draw"));
}

}  // namespace

NodeResult run_node(const PluginRecord& plugin, const Params& params, const Inputs& inputs, Context& ctx,
                    const Registry& registry) {
    NodeResult r;
    switch (plugin.spec.kind) {
    case Kind::data:
        r.value = std::make_shared<const Matrix>(draw_points(plugin.spec, params, inputs, ctx));
        break;
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
        check_samples(out.samples, inputs, params, ctx.node_id(), plugin.spec);
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
