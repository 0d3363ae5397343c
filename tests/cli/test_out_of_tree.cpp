// A plugin built out of tree with find_package(mdlab), mdlab_add_plugin() and
// mdlab_add_isa_sources(), loaded with --plugin-dir, runs in a pipeline next to the built-in
// plugins, on every instruction-set path.
#include <catch2/catch.hpp>

#include <mdlab/isa.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "doc_excerpts.hpp"
#include "mdlab_test.hpp"
#include "out_of_tree_build.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("an out-of-tree plugin builds against the SDK package and runs in a pipeline") {
    TempDir tmp;
    const fs::path build = tmp.path() / "build";
    build_sdk_example("norm_moment", build);

    const auto list = run_mdlab({"plugins", "--plugin-dir", build.string(), "--kind", "metric"});
    REQUIRE(list.exit_code == 0);
    CHECK(list.out.find("norm_moment") != std::string::npos);

    // On a circle of radius 2 every training point has norm 2: E|y|^3 = 8.
    write_text(tmp.path() / "p.json", R"({
      "seed": 5,
      "nodes": [
        {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 6, "radius": 2.0}},
        {"id": "train", "plugin": "sample", "params": {"n": 100}, "inputs": {"manifold": "circle"}},
        {"id": "moment", "plugin": "norm_moment", "params": {"p": 3}, "inputs": {"samples": "train"}},
        {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "train", "manifold": "circle"}}
      ]
    })");
    const auto rows = run_with_plugins(tmp.path() / "p.json", tmp.path() / "run", build);
    CHECK(std::stod(row_where(rows, "node", "moment").at("moment")) == Approx(8.0).epsilon(1e-12));
    CHECK(row_where(rows, "node", "moment").at("n") == "100");

    // The plugin's own per-path kernel (mdlab_add_isa_sources): every path this CPU supports,
    // forced with MDLAB_ISA, gives the same moment to rounding.
    for (const mdlab::isa::Path path : mdlab::isa::supported_paths()) {
        const std::string name = mdlab::isa::name(path);
        const fs::path out = tmp.path() / ("run_" + name);
        const auto forced = run_mdlab({"run", (tmp.path() / "p.json").string(), "--out", out.string(), "--plugin-dir",
                                       build.string(), "-q"},
                                      {"MDLAB_ISA=" + name});
        INFO(name << ": " << forced.err);
        REQUIRE(forced.exit_code == 0);
        const auto forced_rows = parse_csv(read_text(out / "results.csv"));
        CHECK(std::stod(row_where(forced_rows, "node", "moment").at("moment")) == Approx(8.0).epsilon(1e-12));
    }

    // Without --plugin-dir the pipeline names an unknown plugin.
    const auto without = run_mdlab({"validate", (tmp.path() / "p.json").string()});
    CHECK(without.exit_code == 2);
    CHECK(without.err.find("unknown plugin 'norm_moment'") != std::string::npos);
}

TEST_CASE("docs/writing-plugins.md shows the example metric as it is") {
    const auto blocks = cpp_blocks(source_dir() / "docs" / "writing-plugins.md", "## 2. The example");
    REQUIRE(blocks.size() == 1);
    CHECK(blocks[0] == read_text(source_dir() / "sdk" / "examples" / "norm_moment" / "norm_moment.cpp"));
}
