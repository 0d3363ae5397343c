// mdlab plugins / mdlab describe, and plugin loading shared by every command.
#include <iostream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include "commands.hpp"

#include <mdlab/isa.hpp>
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::cli {

namespace {

std::string range_text(const ParamSpec& p) {
    if (!p.min && !p.max) return "";
    return std::string(p.min ? (p.min_exclusive ? "(" : "[") : "(") + (p.min ? fmt::format("{}", *p.min) : "-inf") +
           ", " + (p.max ? fmt::format("{}", *p.max) : "inf") + (p.max ? (p.max_exclusive ? ")" : "]") : ")");
}

// The valid values in short: a range, choices a|b|c, or both for real_or_choice.
std::string range_or_choices(const ParamSpec& p) {
    std::string choices;
    for (const auto& c : p.choices) choices += (choices.empty() ? "" : "|") + c;
    if (p.type == ParamType::real_or_choice) return range_text(p) + (choices.empty() ? "" : "|" + choices);
    return choices.empty() ? range_text(p) : choices;
}

boost::json::object spec_json(const runtime::PluginRecord& rec) {
    const PluginSpec& s = rec.spec;
    boost::json::object o;
    o["name"] = s.name;
    o["kind"] = std::string(to_string(s.kind));
    o["version"] = s.version;
    o["summary"] = s.summary;
    o["library"] = rec.builtin() ? std::string("(framework)") : rec.file.string();
    boost::json::array params;
    for (const auto& p : s.params) {
        boost::json::object jp;
        jp["key"] = p.key;
        jp["type"] = std::string(to_string(p.type));
        jp["default"] = p.default_value ? runtime::to_json(*p.default_value) : boost::json::value(nullptr);
        jp["required"] = p.is_required();
        if (p.min) jp[p.min_exclusive ? "greater_than" : "min"] = *p.min;
        if (p.max) jp[p.max_exclusive ? "less_than" : "max"] = *p.max;
        if (!p.choices.empty()) jp["choices"] = boost::json::array(p.choices.begin(), p.choices.end());
        jp["doc"] = p.doc;
        params.push_back(std::move(jp));
    }
    o["params"] = std::move(params);
    boost::json::array inputs;
    for (const auto& in : s.inputs)
        inputs.push_back(boost::json::object{{"port", in.name},
                                             {"kind", std::string(to_string(in.kind))},
                                             {"required", in.required},
                                             {"doc", in.doc}});
    o["inputs"] = std::move(inputs);
    return o;
}

}  // namespace

void load_plugins(runtime::Registry& registry, const std::vector<std::filesystem::path>& plugin_dirs) {
    registry.load(runtime::Registry::search_path(plugin_dirs), plugin_dirs.size());
}

int list_plugins(const ListArgs& args, const runtime::Registry& registry) {
    std::optional<Kind> kind;
    if (!args.kind.empty()) {
        kind = kind_from_string(args.kind);
        if (!kind) {
            runtime::Diagnostic d;
            d.file = "command line";
            d.key = "--kind";
            d.message = "unknown kind '" + args.kind + "'";
            d.hint = runtime::suggest(args.kind, {"manifold", "process", "estimator", "sampler", "metric", "data"}, "kinds");
            throw runtime::BadInput(d);
        }
    }
    const auto plugins = registry.all(kind);
    if (args.json) {
        boost::json::array out;
        for (const auto* rec : plugins) out.push_back(spec_json(*rec));
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
    for (const auto& note : registry.notes()) std::cerr << "note: " << note << "\n";
    return 0;
}

int describe(const DescribeArgs& args, const runtime::Registry& registry) {
    const runtime::PluginRecord* rec = registry.find(args.name);
    if (!rec) {
        runtime::Diagnostic d;
        d.file = "command line";
        d.key = "name";
        d.message = "unknown plugin '" + args.name + "'";
        d.hint = runtime::suggest(args.name, registry.names(), "available plugins") + " (see `mdlab plugins`)";
        throw runtime::BadInput(d);
    }
    if (args.json) {
        std::cout << runtime::json_pretty(spec_json(*rec));
        return 0;
    }
    const PluginSpec& s = rec->spec;
    std::cout << s.name << " (" << to_string(s.kind) << ", version " << s.version << ")\n  " << s.summary << "\n  from "
              << (rec->builtin() ? std::string("the framework") : rec->file.string()) << "\n";
    if (!s.inputs.empty()) {
        std::cout << "\ninputs:\n";
        for (const auto& in : s.inputs)
            std::cout << fmt::format("  {:<12} {:<10} {}{}\n", in.name, to_string(in.kind), in.doc,
                                     in.required ? "" : " (optional)");
    }
    if (s.params.empty()) {
        std::cout << "\nparameters: none\n";
        return 0;
    }
    std::cout << "\nparameters:\n";
    std::vector<std::vector<std::string>> table{{"key", "type", "default", "range", "doc"}};
    for (const auto& p : s.params)
        table.push_back({p.key, std::string(to_string(p.type)),
                         p.default_value ? runtime::to_text(*p.default_value) : "(required)", range_or_choices(p), p.doc});
    std::vector<std::size_t> w(5, 0);
    for (const auto& row : table)
        for (std::size_t i = 0; i < 4; ++i) w[i] = std::max(w[i], row[i].size());
    for (const auto& row : table)
        std::cout << fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], w[0], row[1], w[1],
                                 row[2].empty() ? "\"\"" : row[2], std::max<std::size_t>(w[2], 2), row[3], w[3], row[4]);
    return 0;
}

}  // namespace mdlab::cli
