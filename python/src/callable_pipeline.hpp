// Python callables as estimator nodes of pipelines started from Python. In: the callables a run
// is given by name (`callables={"net": f}`). Out: the in-process plugin `callable` in the
// module's registry, whose node
//   {"id": "score", "plugin": "callable", "params": {"name": "net", "dim": 2}, "inputs": {"process": "vp"}}
// scores with f, and the scope that lends a run its callables.
//
// How a run binding uses it (mdlab.run's and the ones below):
//   CallablesForRun scope(callables);          // with the GIL; checks that each one is callable
//   { py::gil_scoped_release release;          // the C++ run must not hold the GIL: the
//     runtime::Run run(registry(), source, o); // callbacks on worker threads take it
//     result = run.execute(); }
//   scope.rethrow();                            // a callback's exception, raised again in Python
#pragma once
#include <memory>
#include <mutex>

#include <pybind11/pybind11.h>

#include "callable_score.hpp"

namespace mdlab::runtime {
class Registry;
}

namespace mdlab::python {

// Adds the `callable` plugin to the module's registry (once, when it is built).
void add_callable_plugin(runtime::Registry& registry);

// Lends `callables` (a dict: name -> f(x, t)) to the runs started while it lives. One such scope
// at a time: a second one (another Python thread's run) waits, with the GIL released, until the
// first ends. A `callable` node whose name is not in the dict fails validation at its `name`.
class MDLAB_PY_HIDDEN CallablesForRun {
public:
    explicit CallablesForRun(const pybind11::dict& callables);  // with the GIL
    ~CallablesForRun();
    CallablesForRun(const CallablesForRun&) = delete;
    CallablesForRun& operator=(const CallablesForRun&) = delete;
    // Throws the first exception a callable raised during the run (as CallbackError), if any.
    void rethrow() const { first_->rethrow(); }

private:
    std::unique_lock<std::mutex> one_run_;
    std::shared_ptr<FirstCallbackError> first_ = std::make_shared<FirstCallbackError>();
};

// _run_with_callables and _compute_with_callables (see callable_pipeline.cpp).
void bind_callable_pipeline(pybind11::module_& m);

}  // namespace mdlab::python
