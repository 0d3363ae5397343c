// Python keyword arguments -> a plugin's parameters and inputs, checked as a pipeline node's
// are (the same messages: key, expected form, valid choices).
#pragma once
#include <cstdint>
#include <string>

#include <mdlab/components.hpp>
#include <pybind11/pybind11.h>

#include "mdlab/runtime/registry.hpp"

namespace mdlab::python {

// The plugin called `name`, or InputError with the closest names.
const runtime::PluginRecord& find_plugin(const std::string& name);

// Sets parameter `key` of `plugin` from a Python value (bool, int, float, str, list of numbers,
// numpy scalars). `owner` names the component in messages.
void set_param(Params& params, const runtime::PluginRecord& plugin, const std::string& key, pybind11::handle value,
               const std::string& owner);

// Connects input port `port` of `plugin` to a Python value: a numpy array (points), a component
// object, or a plugin name (built with its defaults and `seed`).
void set_input(Inputs& inputs, const runtime::PluginRecord& plugin, const std::string& port, pybind11::handle value,
               const std::string& owner, std::uint64_t seed);

// The plugin's defaults, then each keyword: a parameter or an input by the plugin's spec.
void bind_keywords(const runtime::PluginRecord& plugin, const pybind11::dict& kwargs, Params& params, Inputs& inputs,
                   const std::string& owner, std::uint64_t seed);

// Builds `plugin` from keyword arguments (components.cpp): manifolds, processes and estimators
// are prepared now with a Context of `seed` and node id `name`; samplers and metrics run when called.
pybind11::object build_component(const runtime::PluginRecord& plugin, const pybind11::dict& kwargs,
                                 std::uint64_t seed, const std::string& name);

}  // namespace mdlab::python
