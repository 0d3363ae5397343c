// The plugin catalogue for Python. In: the module's registry. Out: each plugin's spec as the JSON
// text of `mdlab describe NAME --json` (mdlab/catalogue.py turns it into dicts), the text of
// `mdlab describe NAME` and the Markdown table of its parameters (docs/plugins.md's).
#include <optional>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "mdlab/runtime/parameter_docs.hpp"
#include "mdlab/runtime/spec_json.hpp"

namespace mdlab::python {

namespace {

const runtime::PluginRecord& named(const std::string& name) {
    return runtime::plugin_named(registry(), name, "mdlab.describe", "mdlab.plugins()");
}

}  // namespace

void bind_catalogue(pybind11::module_& m) {
    m.def(
        "plugin_specs",
        [](const std::optional<std::string>& kind) {
            std::optional<Kind> k;
            if (kind) k = runtime::kind_named(*kind, "mdlab.plugins", "kind");
            std::vector<std::string> out;
            for (const auto* rec : registry().all(k)) out.push_back(boost::json::serialize(runtime::spec_json(*rec)));
            return out;
        },
        pybind11::arg("kind") = pybind11::none(), "Each plugin's spec as JSON text, by kind and name.");
    m.def(
        "spec_json", [](const std::string& name) { return boost::json::serialize(runtime::spec_json(named(name))); },
        pybind11::arg("name"), "The plugin's spec as JSON text (`mdlab describe NAME --json`).");
    m.def(
        "spec_text", [](const std::string& name) { return runtime::spec_text(named(name)); }, pybind11::arg("name"),
        "The plugin's spec in words (`mdlab describe NAME`).");
    m.def(
        "parameter_table",
        [](const std::string& name) { return runtime::parameter_table_markdown(named(name).spec); },
        pybind11::arg("name"), "The plugin's parameters as a Markdown table (docs/plugins.md's).");
}

}  // namespace mdlab::python
