// mdlab plugins / mdlab describe, and plugin loading shared by every command.
#include <iostream>

#include <boost/json/array.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "mdlab/runtime/diagnostics.hpp"

#include <mdlab/isa.hpp>
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/spec_json.hpp"

namespace mdlab::cli {

void load_plugins(runtime::Registry& registry, const std::vector<std::filesystem::path>& plugin_dirs) {
    registry.load(runtime::Registry::search_path(plugin_dirs), plugin_dirs.size());
    for (const auto& warning : registry.warnings()) std::cerr << "mdlab: warning: " << runtime::printable(warning) << "\n";
}

int list_plugins(const ListArgs& args, const runtime::Registry& registry) {
    std::optional<Kind> kind;
    if (!args.kind.empty()) kind = runtime::kind_named(args.kind, "command line", "--kind");
    const auto plugins = registry.all(kind);
    if (args.json) {
        boost::json::array out;
        for (const auto* rec : plugins) out.push_back(runtime::spec_json(*rec));
        std::cout << runtime::json_pretty(out);
        return 0;
    }
    std::size_t width = 0;
    for (const auto* rec : plugins) width = std::max(width, rec->spec.name.size());
    std::optional<Kind> shown;
    for (const auto* rec : plugins) {
        if (shown != rec->spec.kind) {
            std::cout << (shown ? "\n" : "") << to_string(rec->spec.kind) << ":\n";
            shown = rec->spec.kind;
        }
        std::cout << fmt::format("  {:<{}}  {}\n", rec->spec.name, width, rec->spec.summary);
    }
    std::string paths;
    for (isa::Path p : isa::supported_paths()) paths += (paths.empty() ? "" : ", ") + std::string(isa::name(p));
    std::cout << fmt::format("\nkernels: the {} path on {} (it supports {}; MDLAB_ISA={} forces one)\n",
                             isa::name(isa::active()), isa::cpu_name(), paths, isa::choices());
    for (const auto& note : registry.notes()) std::cerr << "note: " << runtime::printable(note) << "\n";
    return 0;
}

int describe(const DescribeArgs& args, const runtime::Registry& registry) {
    const runtime::PluginRecord& rec = runtime::plugin_named(registry, args.name, "command line", "`mdlab plugins`");
    std::cout << (args.json ? runtime::json_pretty(runtime::spec_json(rec)) : runtime::spec_text(rec));
    return 0;
}

}  // namespace mdlab::cli
