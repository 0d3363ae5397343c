// A plugin's self-description: kind, name, version, summary, parameters and input ports.
#pragma once
#include <string>
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

struct PluginSpec {
    Kind kind = Kind::metric;  // filled in by MDLAB_PLUGINS from the class's base
    std::string name;
    std::string version;
    std::string summary;
    std::vector<ParamSpec> params;
    std::vector<PortSpec> inputs;

    PluginSpec() = default;
    PluginSpec(std::string name_, std::string version_, std::string summary_)
        : name(std::move(name_)), version(std::move(version_)), summary(std::move(summary_)) {}

    PluginSpec& param(ParamSpec p) { params.push_back(std::move(p)); return *this; }
    PluginSpec& input(std::string port, ValueKind k, std::string doc, bool required_ = true) {
        inputs.push_back(PortSpec{std::move(port), k, required_, std::move(doc)});
        return *this;
    }
    const ParamSpec* find_param(std::string_view key) const {
        for (const auto& p : params)
            if (p.key == key) return &p;
        return nullptr;
    }
    const PortSpec* find_input(std::string_view port) const {
        for (const auto& p : inputs)
            if (p.name == port) return &p;
        return nullptr;
    }
};

}  // namespace mdlab
