// The shipped side-by-side comparison (pipelines/compare_samplers.json,
// docs/experiments/compare_samplers.md) at its smoke size: validate shows that the three sampler
// variants share every parameter (Euler-Maruyama's own noise aside); each sampler reports its score evaluations (Heun two per step,
// every sampler one more for the final denoiser); the report draws W2 against the step count
// with one line and one band per sampler and the fresh-sample baseline; DPM-Solver++(2M) at 5
// steps is closer to the data than Euler-Maruyama at 5 steps in every seed (smoke run: W2 0.23-0.25
// against 0.86-1.03; the full run's figures are in the doc).
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const fs::path pipeline() { return source_dir() / "pipelines" / "compare_samplers.json"; }

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("compare_samplers: validate shows the variants differ only in their plugin") {
    const auto r = run_mdlab({"validate", pipeline().string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("ok: 8 nodes, 45 sweep cells") != std::string::npos);
    // Only Euler-Maruyama has a step noise (its default), the ODE solvers none.
    CHECK(r.out.find("alternatives of node 'gen': the resolved parameters that differ (-: the plugin has no such parameter)\n"
                     "  variant         plugin          noise\n"
                     "  euler_maruyama  euler_maruyama  independent\n"
                     "  heun            pf_ode_heun     -\n"
                     "  dpm++2m         dpmpp_2m        -\n") != std::string::npos);
}

TEST_CASE("compare_samplers smoke: nfe per sampler, the W2 comparison plot, DPM-Solver++(2M) ahead at 5 steps") {
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", pipeline().string(), "--smoke", "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == 36);  // 2 step counts x 3 samplers x 2 seeds x 3 metric nodes

    for (const std::string steps : {"5", "20"}) {
        const int n = std::stoi(steps);
        for (const std::string seed : {"1", "2"}) {
            INFO("steps " << steps << ", seed " << seed);
            const auto nfe = [&](const std::string& sampler) {
                return value_at(rows, {{"gen.steps", steps}, {"gen", sampler}, {"seed", seed}, {"node", "w"}}, "gen.nfe");
            };
            CHECK(nfe("euler_maruyama") == n + 1);
            CHECK(nfe("heun") == 2 * n + 1);
            CHECK(nfe("dpm++2m") == n + 1);
        }
    }
    for (const std::string seed : {"1", "2"}) {
        const auto w2 = [&](const std::string& sampler) {
            return value_at(rows, {{"gen.steps", "5"}, {"gen", sampler}, {"seed", seed}, {"node", "w"}}, "w2");
        };
        INFO("seed " << seed);
        CHECK(w2("dpm++2m") < 0.5 * w2("euler_maruyama"));
    }

    const std::string html = read_text(out / "report.html");
    const auto at = html.find("data-metric=\"w.w2\"");
    REQUIRE(at != std::string::npos);
    const std::string plot = html.substr(at, html.find("</svg>", at) - at);
    CHECK(plot.find("data-lines=\"3\"") != std::string::npos);
    CHECK(plot.find("data-baseline=\"yes\"") != std::string::npos);
    for (const std::string label : {"euler_maruyama", "heun", "dpm++2m"}) {
        INFO(label);
        CHECK(count(plot, "class=\"line\" data-line=\"" + label + "\"") == 1);
        CHECK(count(plot, "class=\"band\" data-line=\"" + label + "\"") == 1);
    }
    CHECK(count(plot, "class=\"baseline-band\"") == 1);
}
