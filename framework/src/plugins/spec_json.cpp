#include "mdlab/runtime/spec_json.hpp"

#include <algorithm>
#include <vector>

#include <boost/json/array.hpp>
#include <fmt/format.h>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

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

std::string parameters_text(const PluginSpec& s) {
    if (s.params.empty()) return "\nparameters: none\n";
    std::string out = "\nparameters:\n";
    std::vector<std::vector<std::string>> table{{"key", "type", "default", "range", "doc"}};
    for (const auto& p : s.params)
        table.push_back({p.key, std::string(to_string(p.type)),
                         p.default_value ? to_text(*p.default_value) : "(required)", range_or_choices(p), p.doc});
    std::vector<std::size_t> w(5, 0);
    for (const auto& row : table)
        for (std::size_t i = 0; i < 4; ++i) w[i] = std::max(w[i], row[i].size());
    for (const auto& row : table)
        out += fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}\n", row[0], w[0], row[1], w[1],
                           row[2].empty() ? "\"\"" : row[2], std::max<std::size_t>(w[2], 2), row[3], w[3], row[4]);
    return out;
}

}  // namespace

boost::json::object spec_json(const PluginRecord& rec) {
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
        jp["default"] = p.default_value ? to_json(*p.default_value) : boost::json::value(nullptr);
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

std::string spec_text(const PluginRecord& rec) {
    const PluginSpec& s = rec.spec;
    std::string out = s.name + " (" + std::string(to_string(s.kind)) + ", version " + s.version + ")\n  " + s.summary +
                      "\n  from " + (rec.builtin() ? std::string("the framework") : rec.file.string()) + "\n";
    if (!s.inputs.empty()) {
        out += "\ninputs:\n";
        for (const auto& in : s.inputs)
            out += fmt::format("  {:<12} {:<10} {}{}\n", in.name, to_string(in.kind), in.doc, in.required ? "" : " (optional)");
    }
    return out + parameters_text(s);
}

const PluginRecord& plugin_named(const Registry& registry, const std::string& name, const std::string& origin,
                                 const std::string& listing) {
    if (const PluginRecord* rec = registry.find(name)) return *rec;
    Diagnostic d;
    d.file = origin;
    d.key = "name";
    d.message = "unknown plugin '" + name + "'";
    d.hint = suggest(name, registry.names(), "available plugins") + " (see " + listing + ")";
    throw BadInput(d);
}

Kind kind_named(const std::string& text, const std::string& origin, const std::string& key) {
    if (const auto kind = kind_from_string(text)) return *kind;
    Diagnostic d;
    d.file = origin;
    d.key = key;
    d.message = "unknown kind '" + text + "'";
    d.hint = suggest(text, {"manifold", "process", "estimator", "sampler", "metric", "data"}, "kinds");
    throw BadInput(d);
}

}  // namespace mdlab::runtime
