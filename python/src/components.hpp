// The Python classes of in-process components (mdlab.Estimator, Manifold, Process, Sampler,
// Metric) and what components.cpp and pipeline_nodes.cpp share to make them.
#pragma once
#include <memory>
#include <string>

#include <mdlab/components.hpp>
#include <pybind11/pybind11.h>

#include "mdlab/runtime/registry.hpp"

namespace mdlab::python {

// A prepared component, under the name its streams and messages use (a node id or the plugin's).
struct EstimatorHandle {
    std::shared_ptr<const ScoreEstimator> estimator;
    std::string name;
    std::string plugin;  // what made it, for save(): the plugin and its parameters
    Params params;
};
struct ManifoldHandle {
    std::shared_ptr<const Manifold> manifold;
    std::string name;
};
struct ProcessHandle {
    std::shared_ptr<const ForwardProcess> process;
    std::string name;
};
// Samplers and metrics run when called: their parameters and the inputs given so far.
struct DeferredNode {
    const runtime::PluginRecord* plugin = nullptr;
    Params params;
    Inputs inputs;
    std::string name;
};
struct SamplerHandle : DeferredNode {};
struct MetricHandle : DeferredNode {};

// A node's output as Python sees it: a component object, or points as a numpy array.
// `plugin` and `params` (when known) say what made an estimator, for its save().
pybind11::object wrap(NodeValue value, const std::string& name, const runtime::PluginRecord* plugin = nullptr,
                      const Params& params = {});

// The estimator given for input `port` of `owner`: an mdlab.Estimator (Python callables are
// added here by the callable-score part). Throws InputError for anything else. Needs the GIL.
std::shared_ptr<const ScoreEstimator> as_estimator(pybind11::handle obj, const std::string& owner,
                                                   const std::string& port);

// Statistics and metric values as an ordered dict.
pybind11::dict to_dict(const Values& values);

}  // namespace mdlab::python
