// The extension module mdlab._mdlab. In: nothing but the interpreter. Out: the module with each
// part's classes and functions (see bindings.hpp); the Python package mdlab/ wraps them.
#include "bindings.hpp"
#include "callable_pipeline.hpp"

PYBIND11_MODULE(_mdlab, m) {
    m.doc() = "mdlab's runtime: runs, the plugin catalogue and components in process";
    m.attr("__version__") = MDLAB_VERSION;
    mdlab::python::bind_errors(m);
    mdlab::python::bind_registry(m);
    mdlab::python::bind_runs(m);
    mdlab::python::bind_catalogue(m);
    mdlab::python::bind_components(m);
    mdlab::python::bind_pipeline(m);
    mdlab::python::bind_score_function(m);
    mdlab::python::bind_callable_pipeline(m);  // after bind_errors: its translator must run first
}
