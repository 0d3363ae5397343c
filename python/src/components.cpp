// In-process components. In: a plugin name with keyword arguments (parameters and inputs, see
// component_args.hpp), or the output of a pipeline node. Out: mdlab.Estimator, Manifold, Process,
// Sampler and Metric objects whose methods take and return numpy arrays; all C++ work runs with
// the GIL released.
#include "components.hpp"

#include <chrono>
#include <cmath>
#include <fstream>

#include <boost/json.hpp>

#include <mdlab/estimator_state.hpp>
#include <mdlab/npy.hpp>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "component_args.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "node_runner.hpp"
#include "scratch_context.hpp"

namespace mdlab::python {

namespace py = pybind11;

py::dict to_dict(const Values& values) {
    py::dict d;
    for (const auto& [k, v] : values) d[py::str(k)] = v;
    return d;
}

py::object wrap(NodeValue value, const std::string& name, const runtime::PluginRecord* plugin, const Params& params) {
    if (auto* e = std::get_if<std::shared_ptr<const ScoreEstimator>>(&value))
        return py::cast(EstimatorHandle{*e, name, plugin ? plugin->spec.name : std::string(), params});
    if (auto* m = std::get_if<std::shared_ptr<const Manifold>>(&value)) return py::cast(ManifoldHandle{*m, name});
    if (auto* p = std::get_if<std::shared_ptr<const ForwardProcess>>(&value)) return py::cast(ProcessHandle{*p, name});
    if (auto* x = std::get_if<std::shared_ptr<const Matrix>>(&value)) return to_numpy(Matrix(**x));
    return py::none();
}

std::shared_ptr<const ScoreEstimator> as_estimator(py::handle obj, const std::string& owner, const std::string& port) {
    if (py::isinstance<EstimatorHandle>(obj)) return obj.cast<const EstimatorHandle&>().estimator;
    bad_argument(owner, port, "got a " + std::string(py::str(obj.get_type().attr("__name__"))) + ", not a score estimator",
                 "an mdlab.Estimator from mdlab.component(...) or pipe.node(...)");
}

namespace {

// Runs the node the way a pipeline does (runtime::run_node: the checked estimator, the sampler's
// output checks), without the GIL.
// A plugin's InputError names the node and the key, as a run's report does.
runtime::NodeResult run(const DeferredNode& node, Context& ctx) {
    try {
        py::gil_scoped_release nogil;
        return runtime::run_node(*node.plugin, node.params, node.inputs, ctx, registry());
    } catch (const InputError& e) {
        bad_argument(node.name, e.key(), e.what());
    }
}

void require_inputs(const DeferredNode& node) {
    for (const auto& port : node.plugin->spec.inputs)
        if (port.required && !node.inputs.has(port.name))
            bad_argument(node.name, port.name, "is required: " + port.doc,
                         "pass it as a keyword argument: " + port.name + "=...");
}

void check_time(double t, const std::string& owner) {
    if (!std::isfinite(t)) bad_argument(owner, "t", "the time must be a finite number");
}

// est.score / est.denoise: the points converted once, the result handed to numpy.
py::array evaluate(const EstimatorHandle& e, py::handle x, double t, bool denoise) {
    check_time(t, e.name);
    const PointsArg in = read_points(x, {"x", e.name, e.estimator->dim(), true});
    Matrix out;
    try {
        py::gil_scoped_release nogil;
        if (denoise)
            e.estimator->denoise(in.points, t, out);
        else
            e.estimator->score(in.points, t, out);
    } catch (const InputError&) {
        throw;
    } catch (const Error& err) {
        // The points and the time are the only things chosen here (as in `mdlab score`).
        bad_argument(e.name, "t", err.what(), "a time where the estimator's process has sigma(t) > 0");
    }
    return to_numpy(std::move(out), in.float32);
}

// Points for a manifold's method, of its ambient dimension.
PointsArg manifold_points(const ManifoldHandle& m, py::handle x) {
    return read_points(x, {"x", m.name, m.manifold->ambient_dim(), true});
}

template <class F>
py::array on_manifold(const ManifoldHandle& m, py::handle x, F f) {
    const PointsArg in = manifold_points(m, x);
    auto out = [&] {
        py::gil_scoped_release nogil;
        return f(*m.manifold, in.points);
    }();
    return to_numpy(std::move(out), in.float32);
}

py::tuple sample(const SamplerHandle& s, py::object score, py::object n, py::object init, std::uint64_t seed) {
    SamplerHandle node = s;
    if (!score.is_none()) {
        const PortSpec* port = nullptr;
        for (const auto& p : node.plugin->spec.inputs)
            if (p.kind == ValueKind::estimator && !port) port = &p;
        if (!port) bad_argument(node.name, "score", "sampler '" + node.plugin->spec.name + "' takes no score estimator");
        set_input(node.inputs, *node.plugin, port->name, score, node.name, seed);
    }
    if (const ParamSpec* count = node.plugin->spec.find_param(ParamRole::sample_count); count && !n.is_none())
        set_param(node.params, *node.plugin, count->key, n, node.name);
    ScratchFolder init_folder;
    if (!init.is_none()) {
        const ParamSpec* file = node.plugin->spec.find_param(ParamRole::initial_points);
        if (!file) bad_argument(node.name, "init", "sampler '" + node.plugin->spec.name + "' takes no initial points");
        const auto path = init_folder.path() / "init.npy";
        npy::write(path, read_points(init, {"init", node.name, 0, true}).points);
        node.params.set(file->key, path.string());
    }
    require_inputs(node);
    ScratchContext ctx(seed, node.name);
    runtime::NodeResult r = run(node, ctx);
    return py::make_tuple(wrap(std::move(r.value), node.name), to_dict(r.values));
}

py::dict measure(const MetricHandle& m, const py::kwargs& inputs, std::uint64_t seed) {
    MetricHandle node = m;
    for (const auto& [k, v] : inputs) {
        const std::string port = py::str(k);
        if (!node.plugin->spec.find_input(port)) set_param(node.params, *node.plugin, port, v, node.name);  // names the valid keys
        else set_input(node.inputs, *node.plugin, port, v, node.name, seed);
    }
    require_inputs(node);
    ScratchContext ctx(seed, node.name);
    return to_dict(run(node, ctx).values);
}

// est.save(path): the estimator's trained state (ScoreEstimator::save_state) to `path`, and beside
// it `path`.json naming the plugin and its parameters, which mdlab.load() reads back.
void save(const EstimatorHandle& e, const std::filesystem::path& path) {
    if (e.plugin.empty())
        bad_argument(e.name, "path", "this estimator was not made by a plugin with known parameters; nothing to save");
    {
        py::gil_scoped_release nogil;
        const auto* state = dynamic_cast<const EstimatorState*>(e.estimator.get());
        if (!state) throw InputError("estimator '" + e.name + "' keeps no trained state to save");
        state->save_state(path);
    }
    boost::json::object params;
    for (const auto& [key, value] : e.params.all())
        if (key != "state") params[key] = runtime::to_json(value);
    const boost::json::object saved{{"plugin", e.plugin}, {"params", params}};
    std::ofstream(path.string() + ".json") << boost::json::serialize(saved) << "\n";
}

// Seconds per est.score(x, t) over `repeats` calls made in C++ (the benchmark's kernel time).
double time_score(const EstimatorHandle& e, py::handle x, double t, std::size_t repeats) {
    const PointsArg in = read_points(x, {"x", e.name, e.estimator->dim(), true});
    Matrix out;
    py::gil_scoped_release nogil;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < repeats; ++i) e.estimator->score(in.points, t, out);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / double(repeats);
}

}  // namespace

py::object build_component(const runtime::PluginRecord& plugin, const py::dict& kwargs, std::uint64_t seed,
                           const std::string& name) {
    DeferredNode node{&plugin, {}, {}, name};
    bind_keywords(plugin, kwargs, node.params, node.inputs, name, seed);
    switch (plugin.spec.kind) {
    case Kind::sampler: return py::cast(SamplerHandle{node});
    case Kind::metric: return py::cast(MetricHandle{node});
    default: break;
    }
    require_inputs(node);
    ScratchContext ctx(seed, name);
    return wrap(run(node, ctx).value, name, &plugin, node.params);
}

void bind_components(py::module_& m) {
    py::class_<EstimatorHandle>(m, "Estimator", "A prepared score estimator s(x, t) (a trained mlp stays trained).")
        .def("score", [](const EstimatorHandle& e, py::handle x, double t) { return evaluate(e, x, t, false); },
             py::arg("x"), py::arg("t"), "Scores of the rows of x (n x dim, float64 or float32) at time t.")
        .def("denoise", [](const EstimatorHandle& e, py::handle x, double t) { return evaluate(e, x, t, true); },
             py::arg("x"), py::arg("t"), "Tweedie denoiser (x + sigma(t)^2 s(x, t)) / alpha(t) of the rows of x.")
        .def_property_readonly("dim", [](const EstimatorHandle& e) { return e.estimator->dim(); })
        .def_property_readonly("process", [](const EstimatorHandle& e) {
            // The process lives in the estimator: the handle shares the estimator's ownership.
            return ProcessHandle{std::shared_ptr<const ForwardProcess>(e.estimator, &e.estimator->process()),
                                 e.name + ".process"};
        })
        .def_readonly("name", &EstimatorHandle::name)
        .def("save", &save, py::arg("path"),
             "Saves a trained estimator (mlp) to path, its plugin and parameters to path.json; see mdlab.load.")
        .def("__repr__", [](const EstimatorHandle& e) {
            return "<mdlab.Estimator '" + e.name + "' dim=" + std::to_string(e.estimator->dim()) + ">";
        });
    m.def("_time_score", &time_score, py::arg("estimator"), py::arg("x"), py::arg("t"), py::arg("repeats"));

    py::class_<ManifoldHandle>(m, "Manifold", "A prepared data manifold M in R^D with its sampling density.")
        .def("sample",
             [](const ManifoldHandle& h, std::size_t n, std::uint64_t seed, py::object stream) {
                 // The pipeline's `sample` node with id N draws from stream "N/draw".
                 const std::string name = stream.is_none() ? h.name + "/draw" : stream.cast<std::string>();
                 auto out = [&] {
                     py::gil_scoped_release nogil;
                     return h.manifold->sample(n, RandomStream(seed, name));
                 }();
                 return to_numpy(std::move(out));
             },
             py::arg("n"), py::arg("seed") = 0, py::arg("stream") = py::none(),
             "n draws from the manifold's density (stream: the random stream's name, default '<name>/draw').")
        .def("project", [](const ManifoldHandle& h, py::handle x) {
            return on_manifold(h, x, [](const Manifold& mf, const Matrix& p) { return mf.project(p); });
        }, py::arg("x"), "Nearest point of M for each row of x.")
        .def("distance", [](const ManifoldHandle& h, py::handle x) {
            return on_manifold(h, x, [](const Manifold& mf, const Matrix& p) { return mf.distance(p); });
        }, py::arg("x"), "Euclidean distance of each row of x to M.")
        .def("intrinsic_coords", [](const ManifoldHandle& h, py::handle x) {
            return on_manifold(h, x, [](const Manifold& mf, const Matrix& p) { return mf.intrinsic_coords(p); });
        }, py::arg("x"), "Intrinsic coordinates of points of M.")
        .def_property_readonly("ambient_dim", [](const ManifoldHandle& h) { return h.manifold->ambient_dim(); })
        .def_property_readonly("intrinsic_dim", [](const ManifoldHandle& h) { return h.manifold->intrinsic_dim(); })
        .def_readonly("name", &ManifoldHandle::name)
        .def("__repr__", [](const ManifoldHandle& h) { return "<mdlab.Manifold '" + h.name + "'>"; });

    py::class_<ProcessHandle>(m, "Process", "A forward noising process x_t = alpha(t) x_0 + sigma(t) eps.")
        .def("alpha", [](const ProcessHandle& p, double t) { return p.process->alpha(t); }, py::arg("t"))
        .def("sigma", [](const ProcessHandle& p, double t) { return p.process->sigma(t); }, py::arg("t"))
        .def_property_readonly("t_end", [](const ProcessHandle& p) { return p.process->t_end(); })
        .def_property_readonly("prior_std", [](const ProcessHandle& p) { return p.process->prior_std(); })
        .def_readonly("name", &ProcessHandle::name)
        .def("__repr__", [](const ProcessHandle& p) { return "<mdlab.Process '" + p.name + "'>"; });

    py::class_<SamplerHandle>(m, "Sampler", "A sampler with its parameters; runs on each call of sample().")
        .def("sample", &sample, py::arg("score") = py::none(), py::arg("n") = py::none(), py::arg("init") = py::none(),
             py::arg("seed") = 0,
             "Runs the sampler: (points, stats). score: an Estimator; n: sample count; init: initial points.")
        .def_readonly("name", &SamplerHandle::name)
        .def("__repr__", [](const SamplerHandle& s) { return "<mdlab.Sampler '" + s.name + "'>"; });

    py::class_<MetricHandle>(m, "Metric", "A metric with its parameters; evaluate(**inputs) computes its values.")
        .def("evaluate", [](const MetricHandle& h, std::uint64_t seed, py::kwargs inputs) { return measure(h, inputs, seed); },
             py::arg("seed") = 0, "Values of the metric on the given inputs (and those given at creation), as a dict.")
        .def_readonly("name", &MetricHandle::name)
        .def("__repr__", [](const MetricHandle& h) { return "<mdlab.Metric '" + h.name + "'>"; });

    m.def("_component",
          [](const std::string& name, const py::dict& kwargs, std::uint64_t seed, const std::string& node) {
              return build_component(find_plugin(name), kwargs, seed, node.empty() ? name : node);
          },
          py::arg("name"), py::arg("kwargs"), py::arg("seed") = 0, py::arg("node") = "");
}

}  // namespace mdlab::python
