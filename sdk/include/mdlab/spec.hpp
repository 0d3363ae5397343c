// A plugin's self-description: kind, name, version, summary, parameters and input ports.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mdlab/kinds.hpp"
#include "mdlab/params.hpp"

namespace mdlab {

struct PortSpec {
    std::string name;
    ValueKind kind = ValueKind::points;
    bool required = true;
    std::string doc;
};

// Parameters the framework reads itself. A plugin marks each with PluginSpec::role(), and the
// framework finds it by what it means, not by its key: renaming the parameter keeps it found.
enum class ParamRole {
    sample_count,    // integer: how many points a data or sampler node gives (rows of its output)
    initial_points,  // path: a sampler's file of initial points; when given, it sets the count
    dimension,       // integer: the dimension D of the points the node makes or works with
    process_time,    // real or list of reals: a time of the forward process the node works on, at
                     // most its end time T (0 may stand for a default); the validator checks it
};

struct PluginSpec {
    Kind kind = Kind::metric;  // filled in by MDLAB_PLUGINS from the class's base
    std::string name;
    std::string version;
    std::string summary;
    std::vector<ParamSpec> params;
    std::vector<PortSpec> inputs;
    std::vector<std::pair<ParamRole, std::string>> roles;  // role -> parameter key

    PluginSpec() = default;
    PluginSpec(std::string name_, std::string version_, std::string summary_)
        : name(std::move(name_)), version(std::move(version_)), summary(std::move(summary_)) {}

    PluginSpec& param(ParamSpec p) { params.push_back(std::move(p)); return *this; }
    // Marks the parameter declared last: .param(integer("n", ...)).role(ParamRole::sample_count)
    PluginSpec& role(ParamRole r) {
        if (!params.empty()) roles.emplace_back(r, params.back().key);
        return *this;
    }
    PluginSpec& input(std::string port, ValueKind k, std::string doc, bool required_ = true) {
        inputs.push_back(PortSpec{std::move(port), k, required_, std::move(doc)});
        return *this;
    }
    const ParamSpec* find_param(std::string_view key) const {
        for (const auto& p : params)
            if (p.key == key) return &p;
        return nullptr;
    }
    // The parameter marked with `r`, or null.
    const ParamSpec* find_param(ParamRole r) const {
        for (const auto& [role, key] : roles)
            if (role == r) return find_param(key);
        return nullptr;
    }
    const PortSpec* find_input(std::string_view port) const {
        for (const auto& p : inputs)
            if (p.name == port) return &p;
        return nullptr;
    }
};

}  // namespace mdlab
