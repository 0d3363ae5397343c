// Turning JSON values into typed, checked parameter values.
#pragma once
#include <optional>
#include <string>

#include <boost/json/value.hpp>
#include <mdlab/params.hpp>

namespace mdlab::runtime {

// The value, or a message saying what is wrong with it (mentioning the expected form).
struct Bound {
    std::optional<ParamValue> value;
    std::string error;
};
Bound bind_param(const ParamSpec& spec, const boost::json::value& v);

// "an integer >= 1", "a number in (0, 1)", "one of: a, b", ...
std::string expected_form(const ParamSpec& spec);

boost::json::value to_json(const ParamValue& v);
std::string to_text(const ParamValue& v);

// Parses the right-hand side of --set key=value: JSON when it parses, else a plain string.
boost::json::value parse_cli_value(const std::string& text);

}  // namespace mdlab::runtime
