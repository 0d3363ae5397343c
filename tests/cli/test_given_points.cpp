// Given data in a pipeline: the `points` step hands a file's rows, as given, to any points input
// (two given point sets compared by a metric's `reference` input), and gaussian_mixture with
// given means, weights and variances records them in the cell folder; bad given data stops
// `mdlab validate` / `mdlab run` with exit code 2, naming node and key.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <mdlab/npy.hpp>

#include "command.hpp"
#include "manifold_check.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

// n scattered points in the plane, no two alike.
mdlab::Matrix scattered_points(std::size_t n) {
    mdlab::Matrix x = mdlab::Matrix::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) x(i, 0) = std::sin(1.7 * double(i)), x(i, 1) = 0.5 * std::cos(2.3 * double(i) + 1.0);
    return x;
}

}  // namespace

TEST_CASE("two given point sets compared by metrics through the points step") {
    TempDir tmp;
    const fs::path dir = tmp.path();
    // y is x shifted by (0.3, -0.4): W1 = W2 = 0.5 exactly (the shift is an optimal plan).
    const mdlab::Matrix x = scattered_points(40);
    std::string csv = "a,b\n";
    for (std::size_t i = 0; i < 40; ++i) {
        char line[96];
        std::snprintf(line, sizeof line, "%.17g,%.17g\n", x(39 - i, 0) + 0.3, x(39 - i, 1) - 0.4);
        csv += line;
    }
    mdlab::npy::write(dir / "x.npy", x);
    write_text(dir / "y.csv", csv);
    write_text(dir / "compare.json", R"({
      "name": "compare", "seed": 1,
      "nodes": [
        {"id": "x", "plugin": "points", "params": {"path": "x.npy"}},
        {"id": "y", "plugin": "points", "params": {"path": "y.csv"}},
        {"id": "w", "plugin": "wasserstein", "inputs": {"samples": "x", "reference": "y"}},
        {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "y", "reference": "y"}}
      ]})");
    const CommandResult r = run_mdlab({"run", (dir / "compare.json").string(), "--out", (dir / "run").string()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    // The points node's output is the file, every row in file order.
    CHECK(identical(mdlab::npy::read(dir / "run" / "cells" / "0000" / "x.npy"), x));
    std::ifstream results(dir / "run" / "results.csv");
    const std::string text((std::istreambuf_iterator<char>(results)), std::istreambuf_iterator<char>());
    CHECK_THAT(text, Catch::Contains(",w,wasserstein,samples=x;reference=y,ok,0.5"));
    CHECK_THAT(text, Catch::Contains(",dist,manifold_distance,samples=y;reference=y,ok,"));

    // A file that is not a points file: exit 2 naming the node and key.
    write_text(dir / "y.csv", "1,2\n3;4\n");
    const CommandResult bad = run_mdlab({"run", (dir / "compare.json").string(), "--out", (dir / "bad").string()});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out + bad.err, Catch::Contains("y.csv") && Catch::Contains("line 2"));
}

TEST_CASE("gaussian_mixture with given means records them; bad given data is refused by validate") {
    TempDir tmp;
    const fs::path dir = tmp.path();
    write_text(dir / "variances.csv", "0.5\n0.25\n");
    write_text(dir / "gm.json", R"({
      "name": "gm", "seed": 1,
      "nodes": [
        {"id": "gm", "plugin": "gaussian_mixture",
         "params": {"components": 2, "means": [[-1, 2], [3, 0.5]], "weights": [1, 3], "variances_file": "variances.csv"}},
        {"id": "train", "plugin": "sample", "inputs": {"manifold": "gm"}, "params": {"n": 10}}
      ]})");
    const CommandResult r = run_mdlab({"run", (dir / "gm.json").string(), "--out", (dir / "run").string()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const fs::path cell = dir / "run" / "cells" / "0000";
    const mdlab::Matrix means = mdlab::npy::read(cell / "gm.means.npy");
    const mdlab::Matrix weights = mdlab::npy::read(cell / "gm.weights.npy");
    const mdlab::Matrix variances = mdlab::npy::read(cell / "gm.variances.npy");
    REQUIRE(mdlab::rows(means) == 2);
    REQUIRE(mdlab::cols(means) == 2);
    CHECK(means(0, 0) == -1.0);
    CHECK(means(1, 1) == 0.5);
    CHECK(weights(1, 0) == 0.75);
    CHECK(variances(0, 0) == 0.5);
    CHECK(variances(1, 0) == 0.25);

    write_text(dir / "bad.json", R"({
      "name": "gm", "seed": 1,
      "nodes": [
        {"id": "gm", "plugin": "gaussian_mixture", "params": {"components": 3, "means": [[-1, 2], [3, 0.5]]}}
      ]})");
    const CommandResult bad = run_mdlab({"validate", (dir / "bad.json").string()});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out + bad.err, Catch::Contains("node 'gm', key 'means'") &&
                                      Catch::Contains("components x ambient_dim = 3 x 2 = 6"));
}
