// Builds an example plugin of sdk/examples/ out of tree, as a plugin author would: CMake with
// find_package(mdlab) against this build's SDK package, with this build's compiler and generator;
// and runs a pipeline with it.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "command.hpp"
#include "csv.hpp"
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

// `mdlab run pipeline --out out --plugin-dir plugins -q`, required to succeed; the rows of its results.csv.
inline std::vector<CsvRow> run_with_plugins(const std::filesystem::path& pipeline, const std::filesystem::path& out,
                                            const std::filesystem::path& plugins) {
    const auto run =
        run_mdlab({"run", pipeline.string(), "--out", out.string(), "--plugin-dir", plugins.string(), "-q"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    return parse_csv(read_text(out / "results.csv"));
}

}  // namespace mdlab::test
