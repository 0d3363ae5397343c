// mdlab docs [--check] FILE: the parameter tables of a Markdown file (docs/plugins.md), rewritten
// from the loaded plugins' specs between the markers of runtime/parameter_docs.hpp.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <mdlab/regular_file.hpp>

#include "commands.hpp"
#include "mdlab/runtime/atomic_file.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/parameter_docs.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::cli {

namespace {

std::string read_file(const std::filesystem::path& file) {
    std::error_code ec;  // a FIFO would block the open, a device never end
    const std::string special = std::filesystem::exists(file, ec) ? not_regular_file(file) : std::string();
    std::ifstream in;
    if (special.empty()) in.open(file, std::ios::binary);
    if (!special.empty() || !in) {
        runtime::Diagnostic d;
        d.file = file.string();
        d.message = special.empty() ? "cannot read the file" : "is " + special + ", not a regular file";
        d.hint = "give the Markdown file whose parameter tables to update, e.g. docs/plugins.md";
        throw runtime::BadInput(d);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

int docs(const std::filesystem::path& path, bool check, const std::vector<std::string>& optional_plugins,
         const runtime::Registry& registry) {
    const std::string file = runtime::printable(path.string());
    const std::string text = read_file(path);
    const auto regions = runtime::find_parameter_regions(text, file);
    const std::set<std::string> optional(optional_plugins.begin(), optional_plugins.end());

    // The file and the registry must name the same plugins: a region of no plugin, a plugin
    // with no region.
    std::vector<runtime::Diagnostic> problems;
    std::set<std::string> documented;
    for (const auto& r : regions) {
        documented.insert(r.plugin);
        if (registry.find(r.plugin) || optional.count(r.plugin)) continue;
        runtime::Diagnostic d;
        d.file = file;
        d.line = r.line;
        d.message = "parameters region of '" + r.plugin + "', which is no loaded plugin";
        d.hint = runtime::suggest(r.plugin, registry.names(), "plugins") +
                 " (a plugin that is not always built: --optional " + r.plugin + ")";
        problems.push_back(d);
    }
    for (const auto& name : registry.names()) {
        if (documented.count(name)) continue;
        runtime::Diagnostic d;
        d.file = file;
        d.message = "plugin '" + name + "' has no parameters region";
        d.hint = "add " + runtime::parameters_marker(name) + " and " + std::string(runtime::end_parameters_marker) +
                 " lines under its heading, then run `mdlab docs " + file + "`";
        problems.push_back(d);
    }

    std::string updated;
    std::vector<std::string> stale;
    std::size_t copied = 0;
    for (const auto& r : regions) {
        const runtime::PluginRecord* rec = registry.find(r.plugin);
        if (!rec) continue;  // an optional plugin this build lacks: its region stays as it is
        const std::string body = runtime::parameter_region_body(rec->spec);
        if (text.compare(r.body_begin, r.body_end - r.body_begin, body) != 0 &&
            std::find(stale.begin(), stale.end(), r.plugin) == stale.end())
            stale.push_back(r.plugin);
        updated.append(text, copied, r.body_begin - copied).append(body);
        copied = r.body_end;
    }
    updated.append(text, copied, std::string::npos);

    if (!check) {
        if (!problems.empty()) throw runtime::BadInput(problems);
        if (updated != text) runtime::write_file_atomic(path, updated);
        std::cout << file << ": " << regions.size() << " parameter tables, " << stale.size() << " rewritten\n";
        return 0;
    }
    for (const auto& d : problems) std::cerr << d.format() << "\n";
    for (const auto& name : stale)
        std::cerr << file << ": the parameters of '" << name << "' differ from its spec (`mdlab describe " << name
                  << "`)\n";
    if (problems.empty() && stale.empty()) {
        std::cout << file << ": " << regions.size() << " parameter tables, all up to date\n";
        return 0;
    }
    std::cerr << file << " is stale: regenerate its tables with `mdlab docs " << file
              << "` or `cmake --build build --target docs`\n";
    return 1;
}

}  // namespace mdlab::cli
