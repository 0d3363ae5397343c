// Claim 4 extended, through the shipped pipeline pipelines/drifting_generator.json at its smoke
// size: the trained one-step drifting generator (libtorch) beats its untrained initialisation by
// far, in one network evaluation, beside the particle drifting sampler and DPM-Solver++(2M) in
// 1-2 steps of a kernel-smoothed score. Where the build found no usable libtorch the generator is
// not built and this test says it is skipped (as tests/plugins/estimator/mlp.cpp does).
// Margins from the smoke run (500 training points of a 2-D mixture of 4 Gaussians, 300 samples,
// one seed; docs/experiments/drifting_generator.md): W2 0.15 (generator) against 1.39
// (untrained), baseline 0.24; MMD^2 -0.002 against 0.64; particles W2 0.27 in 301 field
// evaluations; DPM-Solver++(2M) in 2 steps W2 0.44.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("drifting generator: one network evaluation, far better than its untrained initialisation") {
    if (!libtorch_found()) {
        WARN("skipped: no usable libtorch at build time, so the optional drifting_generator plugin is not built");
        return;
    }
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (source_dir() / "pipelines" / "drifting_generator.json").string(), "--smoke",
                              "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    auto at = [&](const std::string& variant, const std::string& node, const std::string& col) {
        return value_at(rows, {{"gen", variant}, {"node", node}}, col);
    };
    CHECK(at("generator", "w", "gen.nfe") == 1);
    CHECK(at("untrained", "w", "gen.nfe") == 1);
    CHECK(at("particles", "w", "gen.nfe") == 301);
    const double trained = at("generator", "w", "w2"), untrained = at("untrained", "w", "w2");
    const double baseline = at("generator", "w", "baseline_w2");
    INFO("W2: generator " << trained << ", untrained " << untrained << ", baseline " << baseline << ", particles "
                          << at("particles", "w", "w2") << ", dpm++2m 2 steps " << at("dpm2m_2step", "w", "w2"));
    CHECK(trained < 0.25 * untrained);        // measured 0.15 against 1.39
    CHECK(trained < 1.5 * baseline);          // as close as two fresh samples (0.24)
    CHECK(at("generator", "mmd", "mmd2") < 0.05 * at("untrained", "mmd", "mmd2"));  // -0.002 against 0.64
    // The score sampler in 2 steps is less accurate than the one-step generator (0.44).
    CHECK(trained < at("dpm2m_2step", "w", "w2"));
}
