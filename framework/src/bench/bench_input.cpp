#include "bench_input.hpp"

#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime::bench {

Diagnostic option_error(const std::string& option, std::string message, std::string hint) {
    Diagnostic d;
    d.file = "command line";
    d.key = option;
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

Params bind_settings(const PluginRecord& rec, const std::vector<Setting>& settings) {
    Params params;
    for (const auto& spec : rec.spec.params)
        if (spec.default_value) params.set(spec.key, *spec.default_value);
    std::vector<Diagnostic> bad;
    for (const auto& s : settings) {
        const ParamSpec* spec = rec.spec.find_param(s.key);
        if (!spec) {
            std::vector<std::string> keys;
            for (const auto& p : rec.spec.params) keys.push_back(p.key);
            std::string hint = keys.empty() ? "'" + rec.spec.name + "' takes no parameters"
                                            : suggest(s.key, keys, "its parameters");
            if (s.key == "precision")
                hint = "this build's '" + rec.spec.name +
                       "' has no precision parameter (f64 only): leave out --precision";
            bad.push_back(option_error(s.option, rec.spec.kind == Kind::estimator
                                                     ? "estimator '" + rec.spec.name + "' has no parameter '" + s.key + "'"
                                                     : "plugin '" + rec.spec.name + "' has no parameter '" + s.key + "'",
                                       hint));
            continue;
        }
        Bound b = bind_param(*spec, s.value);
        if (!b.value) {
            bad.push_back(option_error(s.option, "parameter '" + s.key + "' of '" + rec.spec.name + "': " + b.error));
            continue;
        }
        params.set(spec->key, *b.value);
    }
    for (const auto& spec : rec.spec.params)
        if (!params.has(spec.key))
            bad.push_back(option_error("--param", "estimator '" + rec.spec.name + "' needs parameter '" + spec.key + "'",
                                       "give it with --param " + spec.key + "=<value>"));
    if (!bad.empty()) throw BadInput(bad);
    return params;
}

void check_peak_seconds(double seconds, const std::string& option) {
    if (!(seconds > 0.0 && seconds <= 10.0))
        throw BadInput(option_error(option, fmt::format("{} is out of range", seconds), "a duration in seconds in (0, 10]"));
}

std::string option_for_key(const std::string& key, const std::vector<Setting>& settings) {
    for (const auto& s : settings)
        if (s.key == key) return s.option;
    if (key == "data") return "--train";
    if (key == "model") return "--queries";
    if (key == "ambient_dim") return "--dim";
    return key.empty() ? "--estimator" : "--param " + key;
}

}  // namespace mdlab::runtime::bench
