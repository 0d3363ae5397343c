// Builds an example plugin of sdk/examples/ out of tree, as a plugin author would: CMake with
// find_package(mdlab) against this build's SDK package, with this build's compiler and generator.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "command.hpp"
#include "mdlab_test.hpp"

namespace mdlab::test {

// Configures and builds sdk/examples/<example> in `build`; returns the path of the plugin library
// it makes, build/mdlab_<example>.so (each example is one plugin named as its folder).
inline std::filesystem::path build_sdk_example(const std::string& example, const std::filesystem::path& build) {
    const auto configure = run_program(cmake_command(),
                                       {"-S", (source_dir() / "sdk" / "examples" / example).string(), "-B",
                                        build.string(), "-G", cmake_generator(), "-DCMAKE_BUILD_TYPE=Release",
                                        "-DCMAKE_CXX_COMPILER=" + cxx_compiler(),
                                        "-Dmdlab_DIR=" + sdk_package_dir().string()});
    INFO(configure.out << configure.err);
    REQUIRE(configure.exit_code == 0);
    const auto compile = run_program(cmake_command(), {"--build", build.string()});
    INFO(compile.out << compile.err);
    REQUIRE(compile.exit_code == 0);
    const std::filesystem::path library = build / ("mdlab_" + example + ".so");
    REQUIRE(std::filesystem::is_regular_file(library));
    return library;
}

}  // namespace mdlab::test
