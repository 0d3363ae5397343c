// The `callable` plugin and the runs that lend it Python callables (see callable_pipeline.hpp).
//   _run_with_callables(source, is_file, callables, out, smoke, threads, sets, force): a whole
//       run, as `mdlab run`; returns its folder, exit code and failures (mdlab.callables wraps it
//       until mdlab.run takes callables= itself).
//   _compute_with_callables(text, node, callables, scratch, threads): one node of a pipeline and
//       what it depends on, in process (the points of a sampler, the values of a metric).
#include "callable_pipeline.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <string>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <tbb/global_control.h>

#include "bindings.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/registry.hpp"
#include "mdlab/runtime/run.hpp"

namespace mdlab::python {

namespace py = pybind11;
namespace fs = std::filesystem;

namespace {

// The callables of the run in progress (null between runs), read by the plugin's factory on
// any thread, without the GIL.
struct LentCallables {
    std::map<std::string, SharedPyObject, std::less<>> by_name;
    std::shared_ptr<FirstCallbackError> first;
};
std::mutex lent_mutex;
std::optional<LentCallables> lent;  // guarded by lent_mutex
std::mutex one_run_mutex;           // held by the live CallablesForRun

PluginSpec callable_spec() {
    PluginSpec spec("callable", "1.0.0",
                    "a Python function f(x, t) -> scores (n x dim), given to the run from Python by name: "
                    "mdlab.run(pipeline, callables={name: f}); Python only");
    spec.kind = Kind::estimator;
    spec.input("process", ValueKind::process, "the forward process f's scores belong to (alpha, sigma for denoise)");
    spec.param(string("name", "", "the key of f in the run's callables").required());
    spec.param(integer("dim", 2, "the dimension of the points f scores").at_least(1).required());
    return spec;
}

std::unique_ptr<Component> make_callable_estimator(const Params& params) {
    const std::lock_guard<std::mutex> lock(lent_mutex);
    const std::string& name = params.string("name");
    if (!lent || !lent->by_name.count(name)) {
        std::string given;
        if (lent)
            for (const auto& [key, f] : lent->by_name) given += (given.empty() ? "" : ", ") + key;
        const std::string which = given.empty() ? "none was: pass callables={'" + name + "': f}" : "given: " + given;
        throw mdlab::InputError("no Python callable named '" + name + "' was given to this run (" + which + ")", "name");
    }
    return callable_estimator(lent->by_name.find(name)->second, nullptr, static_cast<std::size_t>(params.integer("dim")),
                              {}, lent->first);
}

std::unique_ptr<tbb::global_control> thread_limit(int threads) {
    if (threads <= 0) return nullptr;
    return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                 static_cast<std::size_t>(threads));
}

py::dict run_summary(const runtime::RunResult& r) {
    py::list failures;
    for (const auto& f : r.failures)
        failures.append(py::dict(py::arg("cell") = f.cell, py::arg("node") = f.node, py::arg("key") = f.key,
                                 py::arg("message") = f.message, py::arg("input_error") = f.input_error));
    return py::dict(py::arg("folder") = r.folder.string(), py::arg("exit_code") = r.exit_code(),
                    py::arg("cells") = r.cells, py::arg("failures") = failures);
}

py::dict run_with_callables(const std::string& source, bool is_file, const py::dict& callables, const std::string& out,
                            bool smoke, int threads, const std::vector<std::string>& sets, bool force) {
    CallablesForRun scope(callables);
    runtime::RunOptions options;
    options.out = out;
    options.sets = sets;
    options.smoke = smoke;
    options.force = force;
    options.threads = threads;
    options.progress = false;
    static const std::atomic<bool> never{false};  // not the SIGINT handler: Python keeps Ctrl-C
    options.cancel = &never;
    std::optional<runtime::RunResult> result;
    {
        py::gil_scoped_release release;
        auto src = is_file ? runtime::PipelineSource::file(source) : runtime::PipelineSource::text(source);
        result = runtime::Run(registry(), std::move(src), std::move(options)).execute();
    }
    scope.rethrow();
    return run_summary(*result);
}

// The first failure of a node up to `target` (the reason `target` has no value).
[[noreturn]] void throw_failure(const runtime::ValidatedPipeline& vp, const runtime::CellOutcome& outcome) {
    for (std::size_t i = 0; i < outcome.nodes.size(); ++i) {
        const auto& n = outcome.nodes[i];
        if (n.status != runtime::NodeStatus::failed) continue;
        const std::string text = "node '" + vp.nodes[i].id + "' failed: " + n.error;
        if (n.input_error) throw InputError(text, n.error_key);
        throw Error(text);
    }
    throw Error("the node was not computed");
}

py::tuple compute_with_callables(const std::string& text, const std::string& node, const py::dict& callables,
                                 const std::string& scratch, int threads) {
    CallablesForRun scope(callables);
    runtime::CellOutcome outcome;
    NodeValue value;
    std::optional<runtime::ValidatedPipeline> vp;
    std::size_t target = 0;
    {
        py::gil_scoped_release release;
        vp = runtime::read_and_validate(runtime::PipelineSource::text(text, "<callables>"), {}, false, registry());
        while (target < vp->nodes.size() && vp->nodes[target].id != node) ++target;
        if (target == vp->nodes.size()) throw Error("no node '" + node + "' in the pipeline");
        const auto limit = thread_limit(threads);
        runtime::OneFolderObserver observer(scratch);  // the caller owns and removes the folder
        static const std::atomic<bool> never{false};
        value = runtime::compute_node(*vp, registry(), 0, target, observer, never, &outcome);
    }
    scope.rethrow();
    if (outcome.nodes.at(target).status != runtime::NodeStatus::ok) throw_failure(*vp, outcome);
    py::object points = py::none();
    if (const auto* m = std::get_if<std::shared_ptr<const Matrix>>(&value))
        points = py::array_t<double>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(rows(**m)), static_cast<py::ssize_t>(cols(**m))},
                                     (*m)->data());  // a copy the array owns
    py::dict values;
    for (const auto& [key, v] : outcome.nodes[target].values) values[py::str(key)] = v;
    return py::make_tuple(points, values);
}

}  // namespace

void add_callable_plugin(runtime::Registry& registry) { registry.add_in_process(callable_spec(), make_callable_estimator); }

CallablesForRun::CallablesForRun(const py::dict& callables) {
    LentCallables mine{{}, first_};
    for (const auto& [key, f] : callables) {
        const std::string name = py::str(key);
        if (!PyCallable_Check(f.ptr()))
            throw InputError("callables['" + name + "'] is a " + py::str(py::type::handle_of(f).attr("__name__")).cast<std::string>() +
                                 ", not a function f(x, t) -> scores",
                             name);
        mine.by_name.emplace(name, share_py_object(py::reinterpret_borrow<py::object>(f)));
    }
    {
        py::gil_scoped_release release;  // the run holding the lock may need the GIL to finish
        one_run_ = std::unique_lock<std::mutex>(one_run_mutex);
    }
    const std::lock_guard<std::mutex> lock(lent_mutex);
    lent = std::move(mine);
}

CallablesForRun::~CallablesForRun() {
    std::optional<LentCallables> gone;
    {
        const std::lock_guard<std::mutex> lock(lent_mutex);
        gone.swap(lent);
    }
    // `gone` drops its references after the lock is released (taking the GIL, which we hold).
}

void bind_callable_pipeline(py::module_& m) {
    bind_callable_errors();
    m.def("_run_with_callables", &run_with_callables, py::arg("source"), py::arg("is_file"), py::arg("callables"),
          py::arg("out"), py::arg("smoke"), py::arg("threads"), py::arg("sets"), py::arg("force"),
          "Internal (see mdlab.callables.run_with_callables): a run whose `callable` nodes score with the given "
          "Python functions. Returns {folder, exit_code, cells, failures}.");
    m.def("_compute_with_callables", &compute_with_callables, py::arg("text"), py::arg("node"), py::arg("callables"),
          py::arg("scratch"), py::arg("threads") = 0,
          "Internal (see mdlab.callables.compute): one node of a pipeline (JSON text) in process, with the given "
          "Python functions; returns (points or None, values).");
}

}  // namespace mdlab::python
