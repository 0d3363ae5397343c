// Turning JSON values into typed, checked parameter values.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>
#include <mdlab/params.hpp>
#include <mdlab/spec.hpp>

namespace mdlab::runtime {

// The value, or a message saying what is wrong with it (mentioning the expected form).
struct Bound {
    std::optional<ParamValue> value;
    std::string error;
};
Bound bind_param(const ParamSpec& spec, const boost::json::value& v);

// "an integer >= 1", "a number in (0, 1)", "one of: a, b", ...
std::string expected_form(const ParamSpec& spec);

// The keys a spec declares, in its order (the valid choices when a key is unknown).
std::vector<std::string> param_keys(const PluginSpec& spec);

// The parameter a plugin's spec marks with `role` (mdlab::ParamRole), read from `params`: the
// framework reads these by what they mean, never by key. As a size: nullopt when the spec marks
// none or its value is not a non-negative integer.
std::optional<std::size_t> role_size(const PluginSpec& spec, const Params& params, ParamRole role);
// As text: empty when the spec marks none or its value is not a string.
std::string role_text(const PluginSpec& spec, const Params& params, ParamRole role);

boost::json::value to_json(const ParamValue& v);
std::string to_text(const ParamValue& v);

// Parses the right-hand side of --set key=value: JSON when it parses, else a plain string.
boost::json::value parse_cli_value(const std::string& text);

}  // namespace mdlab::runtime
