// Exporting plugins from a shared library:
//
//   class Circle : public mdlab::Manifold {
//   public:
//       static mdlab::PluginSpec describe();      // name, version, summary, params, inputs
//       explicit Circle(const mdlab::Params& p);  // params already validated against describe()
//       ...
//   };
//   MDLAB_PLUGINS(Circle)                          // once per library, listing its classes
#pragma once
#include <memory>
#include <type_traits>
#include <vector>

#include "mdlab/abi.hpp"
#include "mdlab/components.hpp"
#include "mdlab/params.hpp"
#include "mdlab/spec.hpp"

namespace mdlab {

using Factory = std::unique_ptr<Component> (*)(const Params&);

struct PluginEntry {
    PluginSpec spec;
    Factory create = nullptr;
};

struct PluginTable {
    std::vector<PluginEntry> entries;
};

template <class T>
constexpr Kind kind_of() {
    if constexpr (std::is_base_of_v<Manifold, T>) return Kind::manifold;
    else if constexpr (std::is_base_of_v<ForwardProcess, T>) return Kind::process;
    else if constexpr (std::is_base_of_v<ScoreEstimator, T>) return Kind::estimator;
    else if constexpr (std::is_base_of_v<Sampler, T>) return Kind::sampler;
    else {
        static_assert(std::is_base_of_v<Metric, T>,
                      "a plugin class derives from Manifold, ForwardProcess, ScoreEstimator, Sampler or Metric");
        return Kind::metric;
    }
}

template <class T>
PluginEntry make_entry() {
    PluginEntry e{T::describe(), [](const Params& p) -> std::unique_ptr<Component> {
                      return std::make_unique<T>(p);
                  }};
    e.spec.kind = kind_of<T>();
    return e;
}

template <class... T>
PluginTable make_table() {
    return PluginTable{{make_entry<T>()...}};
}

}  // namespace mdlab

#define MDLAB_PLUGINS(...)                                                                  \
    extern "C" MDLAB_VISIBLE const mdlab_abi_info* mdlab_plugin_abi() {                    \
        static const mdlab_abi_info info{MDLAB_ABI_VERSION, MDLAB_BUILD_SIGNATURE};         \
        return &info;                                                                       \
    }                                                                                       \
    extern "C" MDLAB_VISIBLE const ::mdlab::PluginTable* mdlab_plugin_table() {            \
        static const ::mdlab::PluginTable table = ::mdlab::make_table<__VA_ARGS__>();       \
        return &table;                                                                      \
    }
