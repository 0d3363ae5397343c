// mdlab.score_function: a Python callable f(x, t) -> scores as an mdlab.Estimator. In: f, the
// dimension, a forward process (an mdlab.Process) and a name for messages. Out: an Estimator that
// every in-process API takes where a score estimator goes (Sampler.sample(score=...), the score
// inputs of metrics, mdlab.component(..., score=...)), with callable_score.hpp's rules: the GIL
// only around the callback, x passed without a copy, the callback's exceptions raised again.
#include "bindings.hpp"
#include "callable_score.hpp"
#include "components.hpp"

namespace mdlab::python {

namespace py = pybind11;

void bind_score_function(py::module_& m) {
    m.def(
        "_score_function",
        [](py::object f, std::size_t dim, const ProcessHandle& process, std::string name) {
            if (dim == 0) throw InputError("score function '" + name + "': dim must be at least 1", "dim");
            std::shared_ptr<const ScoreEstimator> est = callable_estimator(std::move(f), process.process, dim, name);
            return EstimatorHandle{std::move(est), name, std::string(), Params{}};
        },
        py::arg("f"), py::arg("dim"), py::arg("process"), py::arg("name"));
}

}  // namespace mdlab::python
