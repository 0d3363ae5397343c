#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/suggest.hpp"

#include <cmath>
#include <fmt/format.h>

#include "mdlab/runtime/json_precise_parse.hpp"
#include <boost/json/serialize.hpp>

namespace mdlab::runtime {

namespace {

std::string num(double x) { return fmt::format("{}", x); }

std::string range_text(const ParamSpec& s) {
    if (s.min && s.max)
        return fmt::format(" in {}{}, {}{}", s.min_exclusive ? "(" : "[", num(*s.min), num(*s.max),
                           s.max_exclusive ? ")" : "]");
    if (s.min) return fmt::format(" {} {}", s.min_exclusive ? ">" : ">=", num(*s.min));
    if (s.max) return fmt::format(" {} {}", s.max_exclusive ? "<" : "<=", num(*s.max));
    return "";
}

std::string check_range(const ParamSpec& s, double x) {
    const bool low = s.min && (s.min_exclusive ? !(x > *s.min) : !(x >= *s.min));
    const bool high = s.max && (s.max_exclusive ? !(x < *s.max) : !(x <= *s.max));
    if (low || high) return "value " + num(x) + " is out of range: expected " + expected_form(s);
    return {};
}

std::string type_name(const boost::json::value& v) {
    switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "an integer";
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
    }
    return "?";
}

std::optional<double> as_number(const boost::json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.as_int64());
    if (v.is_uint64()) return static_cast<double>(v.as_uint64());
    if (v.is_double()) return v.as_double();
    return std::nullopt;
}

std::string choice_list(const ParamSpec& s) {
    std::string out = "one of: ";
    for (std::size_t i = 0; i < s.choices.size(); ++i) out += (i ? ", " : "") + s.choices[i];
    return out;
}

Bound bind_real(const ParamSpec& s, double x) {
    if (!std::isfinite(x)) return Bound{std::nullopt, "value must be finite"};
    if (auto e = check_range(s, x); !e.empty()) return Bound{std::nullopt, e};
    return Bound{ParamValue{x}, {}};
}

Bound bind_choice(const ParamSpec& s, const std::string& c) {
    for (const auto& ok : s.choices)
        if (ok == c) return Bound{ParamValue{c}, {}};
    return Bound{std::nullopt, "'" + c + "' is not a valid choice: " + suggest(c, s.choices, "choices")};
}

// A real[] value written as rows of numbers, [[1, 2], [3, 4]] (a list of points): the numbers
// row after row, every row as long as the first. nullopt when `a` is not an array of arrays.
struct Rows {
    std::vector<double> values;
    std::string error;
};
std::optional<Rows> flatten_rows(const boost::json::array& a) {
    if (a.empty() || !a.front().is_array()) return std::nullopt;
    Rows out;
    const std::size_t width = a.front().as_array().size();
    for (std::size_t r = 0; r < a.size(); ++r) {
        if (!a[r].is_array())
            return Rows{{}, "row " + std::to_string(r) + " is " + type_name(a[r]) +
                                ": expected an array of finite numbers, or of rows of them (all the same length)"};
        const auto& row = a[r].as_array();
        if (row.size() != width)
            return Rows{{}, "row " + std::to_string(r) + " has " + std::to_string(row.size()) + " numbers but row 0 has " +
                                std::to_string(width) + " (rows of a list of points must all have the same length)"};
        for (std::size_t c = 0; c < row.size(); ++c) {
            auto x = as_number(row[c]);
            if (!x || !std::isfinite(*x))
                return Rows{{}, "row " + std::to_string(r) + ", entry " + std::to_string(c) + " is " +
                                    (x ? "not finite" : type_name(row[c])) + ": expected a finite number"};
            out.values.push_back(*x);
        }
    }
    return out;
}

}  // namespace

std::string expected_form(const ParamSpec& s) {
    switch (s.type) {
    case ParamType::boolean: return "true or false";
    case ParamType::integer: return "an integer" + range_text(s);
    case ParamType::real: return "a finite number" + range_text(s);
    case ParamType::string: return "a string";
    case ParamType::path: return "a file path (string)";
    case ParamType::real_list: return "an array of finite numbers" + range_text(s);
    case ParamType::choice: return choice_list(s);
    case ParamType::real_or_choice: return "a finite number" + range_text(s) + " or " + choice_list(s);
    }
    return "?";
}

Bound bind_param(const ParamSpec& s, const boost::json::value& v) {
    auto wrong = [&] { return Bound{std::nullopt, "expected " + expected_form(s) + ", got " + type_name(v)}; };
    switch (s.type) {
    case ParamType::boolean:
        if (!v.is_bool()) return wrong();
        return Bound{ParamValue{v.as_bool()}, {}};
    case ParamType::integer: {
        std::int64_t i = 0;
        if (v.is_int64()) i = v.as_int64();
        else if (v.is_uint64()) {
            if (v.as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return Bound{std::nullopt, "integer is too large"};
            i = static_cast<std::int64_t>(v.as_uint64());
        } else if (v.is_double() && std::isfinite(v.as_double()) && std::floor(v.as_double()) == v.as_double() &&
                   std::abs(v.as_double()) < 9.0e15) {
            i = static_cast<std::int64_t>(v.as_double());
        } else {
            return wrong();
        }
        if (auto e = check_range(s, static_cast<double>(i)); !e.empty()) return Bound{std::nullopt, e};
        return Bound{ParamValue{i}, {}};
    }
    case ParamType::real: {
        auto x = as_number(v);
        if (!x) return wrong();
        return bind_real(s, *x);
    }
    case ParamType::string:
    case ParamType::path:
        if (!v.is_string()) return wrong();
        return Bound{ParamValue{std::string(v.as_string())}, {}};
    case ParamType::choice:
        if (!v.is_string()) return wrong();
        return bind_choice(s, std::string(v.as_string()));
    case ParamType::real_or_choice: {
        if (v.is_string()) {
            Bound b = bind_choice(s, std::string(v.as_string()));
            if (!b.value) b.error += "; expected " + expected_form(s);
            return b;
        }
        auto x = as_number(v);
        if (!x) return wrong();
        return bind_real(s, *x);
    }
    case ParamType::real_list: {
        if (!v.is_array()) return wrong();
        if (auto rows = flatten_rows(v.as_array())) {
            if (!rows->error.empty()) return Bound{std::nullopt, rows->error};
            for (double x : rows->values)
                if (auto err = check_range(s, x); !err.empty()) return Bound{std::nullopt, err};
            return Bound{ParamValue{std::move(rows->values)}, {}};
        }
        std::vector<double> out;
        for (const auto& e : v.as_array()) {
            auto x = as_number(e);
            if (!x || !std::isfinite(*x)) return wrong();
            if (auto err = check_range(s, *x); !err.empty()) return Bound{std::nullopt, err};
            out.push_back(*x);
        }
        return Bound{ParamValue{std::move(out)}, {}};
    }
    }
    return wrong();
}

std::vector<std::string> param_keys(const PluginSpec& spec) {
    std::vector<std::string> out;
    for (const auto& s : spec.params) out.push_back(s.key);
    return out;
}

namespace {

// The value of the parameter marked with `role`, if the spec marks one and it has a value.
const ParamValue* role_value(const PluginSpec& spec, const Params& params, ParamRole role) {
    const ParamSpec* marked = spec.find_param(role);
    if (!marked) return nullptr;
    auto it = params.all().find(marked->key);
    return it == params.all().end() ? nullptr : &it->second;
}

}  // namespace

std::optional<std::size_t> role_size(const PluginSpec& spec, const Params& params, ParamRole role) {
    const auto* v = std::get_if<std::int64_t>(role_value(spec, params, role));
    if (!v || *v < 0) return std::nullopt;
    return static_cast<std::size_t>(*v);
}

std::string role_text(const PluginSpec& spec, const Params& params, ParamRole role) {
    const auto* v = std::get_if<std::string>(role_value(spec, params, role));
    return v ? *v : std::string();
}

boost::json::value to_json(const ParamValue& v) {
    return std::visit(
        [](const auto& x) -> boost::json::value {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<double>>) {
                boost::json::array a;
                for (double d : x) a.emplace_back(d);
                return a;
            } else if constexpr (std::is_same_v<T, std::string>) {
                return boost::json::value(boost::json::string(x));
            } else {
                return boost::json::value(x);
            }
        },
        v);
}

std::string to_text(const ParamValue& v) {
    if (auto* s = std::get_if<std::string>(&v)) return *s;
    if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
    return boost::json::serialize(to_json(v));
}

boost::json::value parse_cli_value(const std::string& text) {
    boost::system::error_code ec;
    boost::json::value v = parse_json_precise(text, ec);
    if (ec) return boost::json::value(boost::json::string(text));
    return v;
}

}  // namespace mdlab::runtime
