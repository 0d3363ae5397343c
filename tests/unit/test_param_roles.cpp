// Parameters the framework reads are found by the role a plugin's spec marks (PluginSpec::role),
// never by their key: a plugin that names its sample count "count" is read just as one naming it
// "n", and a spec that marks no role gives nothing to read.
#include <catch2/catch.hpp>

#include <mdlab/sampling.hpp>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/registry.hpp"

using namespace mdlab;
using namespace mdlab::runtime;

TEST_CASE("a role marks the parameter declared just before it, whatever its key") {
    const PluginSpec spec = PluginSpec("s", "1", "")
                                .param(integer("steps", 10, ""))
                                .param(integer("count", 7, ""))
                                .role(ParamRole::sample_count)
                                .param(path("start", ""))
                                .role(ParamRole::initial_points);
    REQUIRE(spec.find_param(ParamRole::sample_count) != nullptr);
    CHECK(spec.find_param(ParamRole::sample_count)->key == "count");
    CHECK(spec.find_param(ParamRole::initial_points)->key == "start");
    CHECK(spec.find_param(ParamRole::dimension) == nullptr);

    Params p;
    p.set("steps", std::int64_t{10});
    p.set("count", std::int64_t{7});
    p.set("start", std::string("x.npy"));
    CHECK(role_size(spec, p, ParamRole::sample_count) == 7u);
    CHECK(role_text(spec, p, ParamRole::initial_points) == "x.npy");
    CHECK_FALSE(role_size(spec, p, ParamRole::dimension).has_value());
    CHECK(role_text(spec, p, ParamRole::dimension).empty());
    p.set("count", std::int64_t{-1});  // not a size
    CHECK_FALSE(role_size(spec, p, ParamRole::sample_count).has_value());
}

TEST_CASE("the framework's sample step and the common sampler parameters mark their roles") {
    CHECK(sample_step_spec().find_param(ParamRole::sample_count)->key == "n");
    CHECK(param_keys(sample_step_spec()) == std::vector<std::string>{"n"});
    PluginSpec sampler("s", "1", "");
    SamplerSettings::declare(sampler, 10);
    CHECK(sampler.find_param(ParamRole::sample_count)->key == "n");
    CHECK(sampler.find_param(ParamRole::initial_points)->key == "init");
}
