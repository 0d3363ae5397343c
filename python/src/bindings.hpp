// What the parts of the extension module share: the plugin registry the module loaded, and the
// function each part defines to add its classes and functions to the module.
#pragma once
#include <pybind11/pybind11.h>

namespace mdlab::runtime {
class Registry;
}

namespace mdlab::python {

// The plugins, loaded on first use: MDLAB_PLUGIN_PATH, then the build tree's plugin folder when
// the module runs from the build tree, else the install's. Never unloaded (components made by a
// plugin may live until the interpreter exits).
const runtime::Registry& registry();

void bind_errors(pybind11::module_& m);      // errors.cpp: InputError, PluginError, translation
void bind_registry(pybind11::module_& m);    // plugin_registry.cpp: plugin_folders, plugin_names
void bind_runs(pybind11::module_& m);        // runs.cpp: run_pipeline
void bind_catalogue(pybind11::module_& m);   // catalogue.cpp: plugin_specs, spec_json, spec_text, parameter_table
void bind_components(pybind11::module_& m);  // components.cpp: Estimator, Manifold, Process, Sampler, Metric
void bind_pipeline(pybind11::module_& m);    // pipeline_nodes.cpp: Pipeline, nodes built in process
void bind_score_function(pybind11::module_& m);  // score_function.cpp: a Python callable as an Estimator

}  // namespace mdlab::python
