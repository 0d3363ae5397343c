#include "mdlab_test.hpp"

#include <atomic>
#include <random>

#include <boost/json/parse.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/registry.hpp"

namespace fs = std::filesystem;

namespace mdlab::test {

const runtime::Registry& registry() {
    static const runtime::Registry* reg = [] {
        auto* r = new runtime::Registry();  // never destroyed: components may outlive static teardown
        r->load({fs::path(MDLAB_TEST_PLUGIN_DIR)}, 1);
        return r;
    }();
    return *reg;
}

std::shared_ptr<Component> make_component(const std::string& name, const std::string& params_json) {
    const runtime::PluginRecord* rec = registry().find(name);
    if (!rec) throw std::runtime_error("no plugin '" + name + "' in " MDLAB_TEST_PLUGIN_DIR);
    Params params;
    for (const auto& spec : rec->spec.params)
        if (spec.default_value) params.set(spec.key, *spec.default_value);
    const boost::json::value v = boost::json::parse(params_json);
    for (const auto& kv : v.as_object()) {
        const ParamSpec* spec = rec->spec.find_param(kv.key());
        runtime::Diagnostic d;
        d.node = name;
        d.key = std::string(kv.key());
        if (!spec) {
            d.message = "unknown parameter";
            throw runtime::BadInput(d);
        }
        runtime::Bound b = runtime::bind_param(*spec, kv.value());
        if (!b.value) {
            d.message = b.error;
            throw runtime::BadInput(d);
        }
        params.set(spec->key, *b.value);
    }
    return registry().create(*rec, params);
}

TestContext::TestContext(std::uint64_t seed, std::string node_id) : seed_(seed), node_(std::move(node_id)) {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("mdlab-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(dir_);
}

TestContext::~TestContext() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

fs::path mdlab_executable() { return MDLAB_TEST_EXECUTABLE; }
fs::path plugin_dir() { return MDLAB_TEST_PLUGIN_DIR; }
fs::path source_dir() { return MDLAB_TEST_SOURCE_DIR; }
fs::path fixture_dir() { return MDLAB_TEST_FIXTURE_DIR; }
fs::path sdk_package_dir() { return MDLAB_TEST_SDK_DIR; }
bool libtorch_found() { return MDLAB_TEST_LIBTORCH_FOUND != 0; }
std::string cmake_command() { return MDLAB_TEST_CMAKE; }
std::string cmake_generator() { return MDLAB_TEST_CMAKE_GENERATOR; }
std::string cxx_compiler() { return MDLAB_TEST_CXX_COMPILER; }

}  // namespace mdlab::test
