#include "mdlab/runtime/registry.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "../isolation/library_probe.hpp"
#include "mdlab/runtime/diagnostics.hpp"

#ifndef MDLAB_INSTALL_PLUGIN_PATH
#define MDLAB_INSTALL_PLUGIN_PATH "/usr/local/lib/mdlab/plugins"
#endif

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

Diagnostic library_error(const fs::path& file, std::string message, std::string hint) {
    Diagnostic d;
    d.file = file.string();
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

bool is_plugin_file(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.rfind("mdlab_", 0) == 0 && p.extension() == ".so";
}

// A plugin folder the user named (--plugin-dir, an MDLAB_PLUGIN_PATH entry) must exist: a
// misspelt one would otherwise only show later as "unknown plugin".
const fs::path& existing_folder(const fs::path& folder, const std::string& given_by) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        throw BadInput(library_error(folder, "plugin folder does not exist or is not a folder",
                                     "check " + given_by + ": every folder named there must exist"));
    return folder;
}

const char* rebuild_hint =
    "rebuild the plugin against this mdlab's SDK (find_package(mdlab) from this build or install, "
    "then cmake --build), or remove it from the plugin folder";

}  // namespace

PluginSpec sample_step_spec() {
    PluginSpec s("sample", "1.0.0", "Draws n points from a manifold's data distribution (training or reference set)");
    s.kind = Kind::data;
    s.input("manifold", ValueKind::manifold, "manifold to draw from");
    s.param(integer("n", 1000, "number of points").at_least(1)).role(ParamRole::sample_count);
    return s;
}

PluginSpec points_step_spec() {
    PluginSpec s("points", "1.0.0",
                 "Reads given points from a .npy or .csv file, every row in file order (a reference or training set "
                 "given as data)");
    s.kind = Kind::data;
    s.param(path("path", "the .npy (float64/float32, n x d) or .csv file (comma-separated numbers, optional header "
                         "line), one point per row")
                .required());
    return s;
}

Registry::Registry() {
    add(PluginRecord{sample_step_spec(), nullptr, nullptr, {}, {}});
    add(PluginRecord{points_step_spec(), nullptr, nullptr, {}, {}});
}
Registry::~Registry() = default;

std::vector<fs::path> Registry::search_path(const std::vector<fs::path>& plugin_dirs) {
    std::vector<fs::path> out(plugin_dirs.begin(), plugin_dirs.end());
    if (const char* env = std::getenv("MDLAB_PLUGIN_PATH")) {
        std::string s = env;
        std::size_t start = 0;
        while (start <= s.size()) {
            const std::size_t end = std::min(s.find(':', start), s.size());
            if (end > start) out.push_back(existing_folder(s.substr(start, end - start), "MDLAB_PLUGIN_PATH"));
            start = end + 1;
        }
    }
    std::error_code ec;
    const fs::path exe = boost::dll::program_location(ec);
    if (!ec) out.push_back(exe.parent_path().parent_path() / "lib" / "mdlab" / "plugins");
    out.emplace_back(MDLAB_INSTALL_PLUGIN_PATH);
    return out;
}

void Registry::load(const std::vector<fs::path>& folders, std::size_t explicit_count) {
    std::vector<fs::path> files;
    for (std::size_t i = 0; i < folders.size(); ++i) {
        const fs::path& folder = folders[i];
        std::error_code ec;
        if (i < explicit_count) existing_folder(folder, "--plugin-dir");
        if (!fs::is_directory(folder, ec)) continue;
        const fs::path canonical = fs::weakly_canonical(folder, ec);
        if (std::find(folders_.begin(), folders_.end(), canonical) != folders_.end()) continue;
        folders_.push_back(canonical);
        std::vector<fs::path> in_folder;
        for (const auto& entry : fs::directory_iterator(folder, ec))
            if (is_plugin_file(entry.path())) in_folder.push_back(entry.path());
        std::sort(in_folder.begin(), in_folder.end());
        files.insert(files.end(), in_folder.begin(), in_folder.end());
    }
    // Each library is loaded in a child first: one that crashes or hangs there is left out.
    const auto unsafe = probe_libraries(files);
    for (const auto& f : files) {
        const auto bad = unsafe.find(f);
        if (bad == unsafe.end())
            load_library(f);
        else
            warnings_.push_back(f.string() + ": plugin library skipped: a process loading it " + bad->second +
                                " (its plugins are not available; fix or remove the library)");
    }
}

void Registry::load_library(const fs::path& file) {
    auto lib = std::make_shared<boost::dll::shared_library>();
    try {
        lib->load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        throw BadInput(library_error(file, std::string("cannot load plugin library: ") + e.what(),
                                     "check that it is a shared library built for this machine and that its "
                                     "dependencies are installed (ldd " + file.string() + ")"));
    }
    if (!lib->has(abi_symbol) || !lib->has(table_symbol))
        throw BadInput(library_error(file, "not an mdlab plugin: it lacks the entry points mdlab_plugin_abi and mdlab_plugin_table",
                                     "end the plugin's source with MDLAB_PLUGINS(YourClass...) and build it with mdlab_add_plugin()"));
    const mdlab_abi_info* info = lib->get<const mdlab_abi_info*()>(abi_symbol)();
    if (!info || info->abi_version != abi_version)
        throw BadInput(library_error(file,
                                     "built for plugin ABI version " + std::to_string(info ? info->abi_version : 0) +
                                         ", this mdlab uses version " + std::to_string(abi_version),
                                     rebuild_hint));
    if (!info->build_signature || std::strcmp(info->build_signature, build_signature) != 0)
        throw BadInput(library_error(file,
                                     std::string("built with other compile settings (") +
                                         (info->build_signature ? info->build_signature : "none") +
                                         ") than this mdlab (" + build_signature + ")",
                                     std::string(rebuild_hint) + "; the -march and SIMD settings must match"));
    const PluginTable* table = lib->get<const PluginTable*()>(table_symbol)();
    if (!table || table->entries.empty())
        throw BadInput(library_error(file, "plugin library exports an empty plugin table",
                                     "list the plugin classes in MDLAB_PLUGINS(...)"));
    for (const PluginEntry& e : table->entries)
        if (e.spec.name.empty() || !e.create)
            throw BadInput(library_error(file, "plugin library has an entry without a name or factory", rebuild_hint));
    for (const PluginEntry& e : table->entries) add(PluginRecord{e.spec, e.create, lib, file, {}});
    library_files_.push_back(file);
}


void Registry::add_in_process(PluginSpec spec, InProcessFactory make) {
    if (spec.name.empty() || !make) throw Error("an in-process plugin needs a name and a factory");
    add(PluginRecord{std::move(spec), nullptr, nullptr, {}, std::move(make)});
}

void Registry::add(PluginRecord record) {
    auto it = plugins_.find(record.spec.name);
    if (it != plugins_.end()) {
        notes_.push_back("plugin '" + record.spec.name + "' in " +
                         (record.file.empty() ? std::string("the framework") : record.file.string()) +
                         " is shadowed by the one in " +
                         (it->second.file.empty() ? std::string("the framework") : it->second.file.string()));
        return;
    }
    std::string name = record.spec.name;
    plugins_.emplace(std::move(name), std::move(record));
}

const PluginRecord* Registry::find(std::string_view name) const {
    auto it = plugins_.find(name);
    return it == plugins_.end() ? nullptr : &it->second;
}

std::vector<const PluginRecord*> Registry::all(std::optional<Kind> kind) const {
    std::vector<const PluginRecord*> out;
    for (const auto& [name, rec] : plugins_)
        if (!kind || rec.spec.kind == *kind) out.push_back(&rec);
    std::stable_sort(out.begin(), out.end(), [](const PluginRecord* a, const PluginRecord* b) {
        return a->spec.kind < b->spec.kind;
    });
    return out;
}

std::vector<std::string> Registry::names(std::optional<Kind> kind) const {
    std::vector<std::string> out;
    for (const auto* r : all(kind)) out.push_back(r->spec.name);
    return out;
}

std::shared_ptr<Component> Registry::create(const PluginRecord& plugin, const Params& params) const {
    if (!plugin.create && !plugin.make)
        throw Error("'" + plugin.spec.name + "' is a framework step, not a plugin component");
    std::unique_ptr<Component> made = plugin.create ? plugin.create(params) : plugin.make(params);
    if (!made) throw Error("plugin '" + plugin.spec.name + "' returned no object");
    // The deleter holds the library: it is unloaded only after its last object is destroyed.
    auto lib = plugin.library;
    return std::shared_ptr<Component>(made.release(), [lib](Component* c) { delete c; });
}

}  // namespace mdlab::runtime
