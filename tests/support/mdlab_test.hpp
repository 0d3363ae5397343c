// Helpers for tests: create built-in plugins exactly as a pipeline would, and a Context.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <mdlab/mdlab.hpp>
// Tests reach every topic of the SDK: .npy files, sampler settings and time grids.
#include <mdlab/npy.hpp>
#include <mdlab/sampling.hpp>
#include <mdlab/time_grid.hpp>

namespace mdlab::runtime {
class Registry;
}

namespace mdlab::test {

// The built-in plugins, loaded once for the whole test binary (never unloaded: components may
// outlive static teardown).
const runtime::Registry& registry();


// Creates plugin `name` from the build's plugin folder. `params_json` is a JSON object text,
// validated and completed with defaults exactly as a pipeline node's params are.
// Throws the runtime's bad-input exception when the params are invalid.
std::shared_ptr<Component> make_component(const std::string& name, const std::string& params_json = "{}");

template <class T>
std::shared_ptr<T> make(const std::string& name, const std::string& params_json = "{}") {
    auto t = std::dynamic_pointer_cast<T>(make_component(name, params_json));
    if (!t) throw std::logic_error("plugin '" + name + "' is not of the requested kind");
    return t;
}

// A Context with a fixed seed and node id; output goes to a fresh temporary folder that is
// removed when the context is destroyed.
class TestContext : public Context {
public:
    explicit TestContext(std::uint64_t seed = 1, std::string node_id = "test");
    ~TestContext() override;
    std::uint64_t seed() const override { return seed_; }
    const std::string& node_id() const override { return node_; }
    const std::filesystem::path& output_dir() const override { return dir_; }
    void log(std::string_view) override {}
    void progress(double) override {}
    bool cancelled() const override { return false; }

private:
    std::uint64_t seed_;
    std::string node_;
    std::filesystem::path dir_;
};

// Path of the build's `mdlab` executable and of its plugin folder.
std::filesystem::path mdlab_executable();
std::filesystem::path plugin_dir();
std::filesystem::path source_dir();
// Where the test fixtures (broken plugin libraries) were built, and the build's SDK package.
std::filesystem::path fixture_dir();
std::filesystem::path sdk_package_dir();
// The CMake, generator and compiler of this build, for building plugins out of tree.
std::string cmake_command();
std::string cmake_generator();
std::string cxx_compiler();
// Whether this build found a usable libtorch: the optional mlp plugin must then be built.
bool libtorch_found();

}  // namespace mdlab::test
