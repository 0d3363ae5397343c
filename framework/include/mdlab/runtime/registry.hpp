// The plugin registry: finds plugin libraries, checks their ABI, and creates components whose
// lifetime is tied to the library that made them.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mdlab/plugin.hpp>

namespace boost::dll { class shared_library; }

namespace mdlab::runtime {

// Makes an in-process plugin's component (for example a Python callable as an estimator).
using InProcessFactory = std::function<std::unique_ptr<Component>(const Params&)>;

struct PluginRecord {
    PluginSpec spec;                                   // host-owned copy
    Factory create = nullptr;                          // lives in `library`; null for built-ins
    std::shared_ptr<boost::dll::shared_library> library;
    std::filesystem::path file;                        // empty for built-ins and in-process plugins
    InProcessFactory make;                             // set for in-process plugins only
    // A framework step (the `sample` step): no component of its own.
    bool builtin() const { return !library && !make; }
};

class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // --plugin-dir folders, then MDLAB_PLUGIN_PATH, then next to the executable
    // (<exe>/../lib/mdlab/plugins, the build and relocated installs), then the install prefix.
    static std::vector<std::filesystem::path> search_path(const std::vector<std::filesystem::path>& plugin_dirs);

    // Loads every mdlab_*.so in the folders, in order. A name found twice keeps its first
    // definition (so user folders override built-ins); the shadowed one is noted.
    // A folder given on the command line must exist. Throws BadInput on a bad library.
    // Each library is first loaded in a child process (isolation/library_probe.hpp): one that
    // crashes or hangs there is skipped, with a warning.
    void load(const std::vector<std::filesystem::path>& folders, std::size_t explicit_count = 0);
    // Loads one library file.
    void load_library(const std::filesystem::path& file);
    // Adds a plugin defined by the host program itself (no library). A name already loaded
    // keeps its first definition, as for libraries. The spec's kind says what `make` returns.
    void add_in_process(PluginSpec spec, InProcessFactory make);

    const PluginRecord* find(std::string_view name) const;
    std::vector<const PluginRecord*> all(std::optional<Kind> kind = std::nullopt) const;
    std::vector<std::string> names(std::optional<Kind> kind = std::nullopt) const;
    const std::vector<std::string>& notes() const { return notes_; }
    // Libraries skipped because loading them crashed or hung (in a child process), and why.
    const std::vector<std::string>& warnings() const { return warnings_; }
    const std::vector<std::filesystem::path>& folders() const { return folders_; }
    // Every library file loaded, in load order.
    const std::vector<std::filesystem::path>& library_files() const { return library_files_; }

    // Creates a component; the returned pointer keeps the plugin library loaded.
    std::shared_ptr<Component> create(const PluginRecord& plugin, const Params& params) const;

private:
    void add(PluginRecord record);
    std::map<std::string, PluginRecord, std::less<>> plugins_;
    std::vector<std::string> notes_, warnings_;
    std::vector<std::filesystem::path> folders_;
    std::vector<std::filesystem::path> library_files_;
};

// Spec of the framework's own `sample` step (kind data): n draws from a manifold.
PluginSpec sample_step_spec();
// Spec of the framework's own `points` step (kind data): the rows of a .npy or .csv file, as given.
PluginSpec points_step_spec();

}  // namespace mdlab::runtime
