// The quickstart pipeline shows memorisation: run to a small t_min the empirical score copies
// training points; stopped early it does not, and stays on the circle.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("quickstart: full sampling memorises, early stopping does not") {
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (source_dir() / "pipelines" / "quickstart.json").string(), "--out", out.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);

    // The terminal shows one table per metric.
    CHECK(r.out.find("memorization") != std::string::npos);
    CHECK(r.out.find("manifold_distance") != std::string::npos);
    CHECK(r.out.find("memorised_full") != std::string::npos);

    for (const char* f : {"pipeline.json", "results.json", "results.csv", "run.log", "cells/0000/train.npy",
                          "cells/0000/full.npy", "cells/0000/early.npy"})
        CHECK(fs::is_regular_file(out / f));

    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 4);
    const double full = std::stod(row_where(rows, "node", "memorised_full").at("fraction"));
    const double early = std::stod(row_where(rows, "node", "memorised_early").at("fraction"));
    const double baseline = std::stod(row_where(rows, "node", "memorised_early").at("baseline_fraction"));
    INFO("memorised: full " << full << ", early " << early << ", fresh-sample baseline " << baseline);
    CHECK(full >= 0.9);
    CHECK(early < full - 0.3);
    // Stopped early, the sampler generalises: it copies no more than fresh draws from the circle
    // would appear to, and its samples lie close to the circle.
    CHECK(early < baseline + 0.1);
    CHECK(std::stod(row_where(rows, "node", "distance_early").at("mean")) < 0.01);
    CHECK(std::stod(row_where(rows, "node", "distance_full").at("max")) < 1e-4);
}
