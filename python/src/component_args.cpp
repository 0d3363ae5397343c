#include "component_args.hpp"

#include <boost/json.hpp>

#include "arrays.hpp"
#include "bindings.hpp"
#include "components.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::python {

namespace py = pybind11;

const runtime::PluginRecord& find_plugin(const std::string& name) {
    if (const runtime::PluginRecord* rec = registry().find(name)) return *rec;
    bad_argument("", "plugin", "no plugin '" + name + "'", runtime::suggest(name, registry().names(), "plugins"));
}

namespace {

std::string type_name(py::handle v) { return py::str(v.get_type().attr("__name__")); }

// A parameter value as the pipeline's JSON would give it.
boost::json::value json_of(py::handle v, const std::string& owner, const std::string& key) {
    if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
    if (py::isinstance<py::int_>(v)) return v.cast<std::int64_t>();
    if (py::isinstance<py::float_>(v)) return v.cast<double>();
    if (py::isinstance<py::str>(v)) return boost::json::string(v.cast<std::string>());
    if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v) || py::isinstance<py::array>(v)) {
        if (py::isinstance<py::array>(v) && py::reinterpret_borrow<py::array>(v).ndim() == 0)
            return json_of(v.attr("item")(), owner, key);  // a numpy scalar
        boost::json::array a;
        for (py::handle item : v) a.push_back(json_of(item, owner, key));
        return a;
    }
    if (py::hasattr(v, "item") && py::hasattr(v, "dtype")) return json_of(v.attr("item")(), owner, key);
    bad_argument(owner, key, "got a " + type_name(v), "a bool, a number, a string or a list of numbers");
}

// The component given for a manifold or process port; a plugin name (process="vp") builds that
// plugin with its defaults (kept alive by `keep`).
template <class Handle>
const Handle& component_of(py::handle v, Kind kind, const std::string& port, const std::string& owner,
                           std::uint64_t seed, py::object& keep, const char* what) {
    if (py::isinstance<py::str>(v)) {
        const std::string name = v.cast<std::string>();
        const runtime::PluginRecord& plugin = find_plugin(name);
        if (plugin.spec.kind != kind)
            bad_argument(owner, port, "plugin '" + name + "' is not " + what,
                         runtime::suggest(name, registry().names(kind), "plugins"));
        keep = build_component(plugin, py::dict(), seed, name);
        return keep.cast<const Handle&>();
    }
    if (!py::isinstance<Handle>(v))
        bad_argument(owner, port, "got a " + type_name(v) + ", not " + what,
                     std::string(what) + " from mdlab.component(...) or pipe.node(...), or a plugin name");
    return v.cast<const Handle&>();
}

}  // namespace

void set_param(Params& params, const runtime::PluginRecord& plugin, const std::string& key, py::handle value,
               const std::string& owner) {
    const ParamSpec* spec = plugin.spec.find_param(key);
    if (!spec) {
        std::vector<std::string> valid = runtime::param_keys(plugin.spec);
        for (const auto& port : plugin.spec.inputs) valid.push_back(port.name);
        bad_argument(owner, key, "plugin '" + plugin.spec.name + "' has no parameter or input '" + key + "'",
                     runtime::suggest(key, valid));
    }
    const runtime::Bound b = runtime::bind_param(*spec, json_of(value, owner, key));
    if (!b.value) bad_argument(owner, key, b.error);
    params.set(spec->key, *b.value);
}

void set_input(Inputs& inputs, const runtime::PluginRecord& plugin, const std::string& port, py::handle value,
               const std::string& owner, std::uint64_t seed) {
    const PortSpec* spec = plugin.spec.find_input(port);
    py::object keep;
    switch (spec->kind) {
    case ValueKind::points:
        inputs.set(port, std::make_shared<const Matrix>(read_points(value, {port, owner, 0, true}).points));
        break;
    case ValueKind::manifold:
        inputs.set(port, component_of<ManifoldHandle>(value, Kind::manifold, port, owner, seed, keep, "a manifold").manifold);
        break;
    case ValueKind::process:
        inputs.set(port, component_of<ProcessHandle>(value, Kind::process, port, owner, seed, keep, "a forward process").process);
        break;
    case ValueKind::estimator:
        inputs.set(port, as_estimator(value, owner, port));
        break;
    case ValueKind::none:
        break;
    }
}

void bind_keywords(const runtime::PluginRecord& plugin, const py::dict& kwargs, Params& params, Inputs& inputs,
                   const std::string& owner, std::uint64_t seed) {
    for (const auto& spec : plugin.spec.params)
        if (spec.default_value) params.set(spec.key, *spec.default_value);
    for (const auto& [k, v] : kwargs) {
        const std::string key = py::str(k);
        if (v.is_none()) continue;  // None: the default, or the input left unconnected
        if (plugin.spec.find_input(key))
            set_input(inputs, plugin, key, v, owner, seed);
        else
            set_param(params, plugin, key, v, owner);
    }
    for (const auto& spec : plugin.spec.params)
        if (!params.has(spec.key))
            bad_argument(owner, spec.key, "is required", runtime::expected_form(spec));
}

}  // namespace mdlab::python
