// Parameter specs (declared once per plugin) and the validated values a plugin receives.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mdlab/error.hpp"

namespace mdlab {

// real_or_choice: a number (with the bounds) or one of the named choices, e.g. a bandwidth that is
// either given or "cv" (chosen from the data).
enum class ParamType { boolean, integer, real, string, choice, path, real_list, real_or_choice };

constexpr std::string_view to_string(ParamType t) {
    switch (t) {
    case ParamType::boolean: return "bool";
    case ParamType::integer: return "int";
    case ParamType::real: return "real";
    case ParamType::string: return "string";
    case ParamType::choice: return "choice";
    case ParamType::path: return "path";
    case ParamType::real_list: return "real[]";
    case ParamType::real_or_choice: return "real|choice";
    }
    return "?";
}

using ParamValue = std::variant<bool, std::int64_t, double, std::string, std::vector<double>>;

// One parameter: key, type, default (none = required), bounds or choices, and a doc line.
// Built fluently: mdlab::integer("n", 500, "number of samples").at_least(1)
struct ParamSpec {
    std::string key;
    ParamType type = ParamType::real;
    std::optional<ParamValue> default_value;
    std::optional<double> min, max;
    bool min_exclusive = false, max_exclusive = false;
    std::vector<std::string> choices;
    std::string doc;

    ParamSpec& at_least(double v) { min = v; min_exclusive = false; return *this; }
    ParamSpec& greater_than(double v) { min = v; min_exclusive = true; return *this; }
    ParamSpec& at_most(double v) { max = v; max_exclusive = false; return *this; }
    ParamSpec& less_than(double v) { max = v; max_exclusive = true; return *this; }
    ParamSpec& required() { default_value.reset(); return *this; }
    bool is_required() const { return !default_value.has_value(); }
};

inline ParamSpec boolean(std::string key, bool def, std::string doc) {
    return ParamSpec{std::move(key), ParamType::boolean, ParamValue{def}, {}, {}, false, false, {},
                     std::move(doc)};
}
inline ParamSpec integer(std::string key, std::int64_t def, std::string doc) {
    return ParamSpec{std::move(key), ParamType::integer, ParamValue{def}, {}, {}, false, false, {},
                     std::move(doc)};
}
inline ParamSpec real(std::string key, double def, std::string doc) {
    return ParamSpec{std::move(key), ParamType::real, ParamValue{def}, {}, {}, false, false, {},
                     std::move(doc)};
}
inline ParamSpec string(std::string key, std::string def, std::string doc) {
    return ParamSpec{std::move(key), ParamType::string, ParamValue{std::move(def)}, {}, {}, false,
                     false, {}, std::move(doc)};
}
inline ParamSpec path(std::string key, std::string doc) {
    return ParamSpec{std::move(key), ParamType::path, ParamValue{std::string{}}, {}, {}, false,
                     false, {}, std::move(doc)};
}
inline ParamSpec choice(std::string key, std::string def, std::vector<std::string> choices,
                        std::string doc) {
    return ParamSpec{std::move(key), ParamType::choice, ParamValue{std::move(def)}, {}, {}, false,
                     false, std::move(choices), std::move(doc)};
}
inline ParamSpec real_list(std::string key, std::vector<double> def, std::string doc) {
    return ParamSpec{std::move(key), ParamType::real_list, ParamValue{std::move(def)}, {}, {},
                     false, false, {}, std::move(doc)};
}

// A number (bounds via at_least() etc.) or one of `choices`; the default is a number.
inline ParamSpec real_or_choice(std::string key, double def, std::vector<std::string> choices,
                                std::string doc) {
    return ParamSpec{std::move(key), ParamType::real_or_choice, ParamValue{def}, {}, {}, false,
                     false, std::move(choices), std::move(doc)};
}

// Validated parameter values, defaults filled in. Accessors throw mdlab::Error on a key the
// spec did not declare (a programming error in the plugin, not a user error).
class Params {
public:
    void set(std::string key, ParamValue value) { values_[std::move(key)] = std::move(value); }
    bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
    const std::map<std::string, ParamValue, std::less<>>& all() const { return values_; }

    bool boolean(std::string_view key) const { return get<bool>(key); }
    std::int64_t integer(std::string_view key) const { return get<std::int64_t>(key); }
    double real(std::string_view key) const {
        const ParamValue& v = at(key);
        if (auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
        return get<double>(key);
    }
    const std::string& string(std::string_view key) const { return get<std::string>(key); }
    // For a real_or_choice parameter: true when the user named a choice (read it with string()),
    // false when it holds a number (read it with real()).
    bool is_choice(std::string_view key) const { return std::holds_alternative<std::string>(at(key)); }
    const std::vector<double>& real_list(std::string_view key) const {
        return get<std::vector<double>>(key);
    }
    // A non-negative integer as a size.
    std::size_t count(std::string_view key) const {
        std::int64_t v = integer(key);
        if (v < 0) throw Error("parameter '" + std::string(key) + "' must not be negative");
        return static_cast<std::size_t>(v);
    }

private:
    const ParamValue& at(std::string_view key) const {
        auto it = values_.find(key);
        if (it == values_.end())
            throw Error("plugin asked for parameter '" + std::string(key) +
                        "' that its spec does not declare");
        return it->second;
    }
    template <class T>
    const T& get(std::string_view key) const {
        const ParamValue& v = at(key);
        if (auto* p = std::get_if<T>(&v)) return *p;
        throw Error("parameter '" + std::string(key) + "' has another type than the plugin asked for");
    }
    std::map<std::string, ParamValue, std::less<>> values_;
};

}  // namespace mdlab
