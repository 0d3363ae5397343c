// The five plugin kinds, and the kinds of value that flow along pipeline edges.
#pragma once
#include <array>
#include <optional>
#include <string_view>

namespace mdlab {

// What a node is. `data` is the framework's own `sample` step, not a plugin kind.
enum class Kind { manifold, process, estimator, sampler, metric, data };

// What travels along an edge.
enum class ValueKind { manifold, points, process, estimator, none };

inline constexpr std::array<Kind, 5> plugin_kinds{Kind::manifold, Kind::process, Kind::estimator,
                                                  Kind::sampler, Kind::metric};

constexpr std::string_view to_string(Kind k) {
    switch (k) {
    case Kind::manifold: return "manifold";
    case Kind::process: return "process";
    case Kind::estimator: return "estimator";
    case Kind::sampler: return "sampler";
    case Kind::metric: return "metric";
    case Kind::data: return "data";
    }
    return "?";
}

constexpr std::string_view to_string(ValueKind k) {
    switch (k) {
    case ValueKind::manifold: return "manifold";
    case ValueKind::points: return "points";
    case ValueKind::process: return "process";
    case ValueKind::estimator: return "estimator";
    case ValueKind::none: return "nothing";
    }
    return "?";
}

// The value a node of kind `k` produces.
constexpr ValueKind output_of(Kind k) {
    switch (k) {
    case Kind::manifold: return ValueKind::manifold;
    case Kind::process: return ValueKind::process;
    case Kind::estimator: return ValueKind::estimator;
    case Kind::sampler:
    case Kind::data: return ValueKind::points;
    case Kind::metric: return ValueKind::none;
    }
    return ValueKind::none;
}

inline std::optional<Kind> kind_from_string(std::string_view s) {
    for (Kind k : {Kind::manifold, Kind::process, Kind::estimator, Kind::sampler, Kind::metric,
                   Kind::data})
        if (to_string(k) == s) return k;
    return std::nullopt;
}

}  // namespace mdlab
