// The registry of the extension module. In: where the module's own file lies and
// MDLAB_PLUGIN_PATH. Out: the loaded plugins (see bindings.hpp for the order of the folders).
#include <dlfcn.h>

#include <filesystem>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "callable_pipeline.hpp"
#include "mdlab/runtime/registry.hpp"

namespace mdlab::python {

namespace fs = std::filesystem;

namespace {

// The folder holding this module's file (the build tree's python/mdlab or the install's).
fs::path module_folder() {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<const void*>(&module_folder), &info) == 0 || !info.dli_fname) return {};
    std::error_code ec;
    return fs::weakly_canonical(fs::path(info.dli_fname), ec).parent_path();
}

std::vector<fs::path> plugin_folders() {
    const fs::path build_dir = MDLAB_BUILD_PLUGIN_DIR;
    std::error_code ec;
    // The build tree's module sits in <build>/python/mdlab, its plugins in <build>/lib/mdlab/plugins.
    const bool in_build_tree = fs::equivalent(module_folder(), build_dir.parent_path().parent_path().parent_path() / "python" / "mdlab", ec);
    std::vector<fs::path> folders = runtime::Registry::search_path({});
    // Installed, the plugins sit at the same place relative to the package, whatever the prefix.
    folders.insert(folders.begin(), in_build_tree ? build_dir : module_folder() / MDLAB_PYTHON_TO_PLUGINS);
    return folders;
}

}  // namespace

const runtime::Registry& registry() {
    static const runtime::Registry* reg = [] {
        auto* r = new runtime::Registry();  // never destroyed, as the plugin libraries
        r->load(plugin_folders());
        add_callable_plugin(*r);  // callable_pipeline.cpp: Python functions as estimators
        return r;
    }();
    return *reg;
}

}  // namespace mdlab::python

namespace mdlab::python {

void bind_registry(pybind11::module_& m) {
    m.def(
        "plugin_folders",
        [] {
            std::vector<std::string> out;
            for (const auto& f : registry().folders()) out.push_back(f.string());
            return out;
        },
        "The folders the plugins were loaded from, in search order.");
    m.def(
        "plugin_names", [] { return registry().names(); }, "The names of every loaded plugin, sorted.");
}

}  // namespace mdlab::python
