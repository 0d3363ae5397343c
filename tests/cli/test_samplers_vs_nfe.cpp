// The shipped comparison of every score sampler (pipelines/samplers_vs_nfe.json,
// docs/experiments.md) at its smoke size: each sampler's score evaluations per step, the declared
// plot of W2 against the number of score evaluations (one line per sampler, log axes, the
// fresh-sample baseline), and what the exact score lets one assert: at 4 steps the second-order
// multistep solver is closer to the law than Euler-Maruyama in every seed.
#include <functional>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const fs::path pipeline() { return source_dir() / "pipelines" / "samplers_vs_nfe.json"; }

// Every sampler of the pipeline and its score evaluations for a number of steps.
const std::vector<std::pair<std::string, std::function<int(int)>>> samplers{
    {"euler_maruyama", [](int s) { return s; }},
    {"predictor_corrector", [](int s) { return 2 * s; }},       // predictor and one corrector step
    {"annealed_langevin", [](int s) { return 10 * (s + 1); }},  // ten updates on each of the s + 1 levels
    {"ddpm_ancestral", [](int s) { return s; }},
    {"ddim", [](int s) { return s; }},
    {"pf_ode_euler", [](int s) { return s; }},
    {"pf_ode_heun", [](int s) { return 2 * s; }},
    {"dpmpp_2m", [](int s) { return s; }},
    {"dpmpp_3m", [](int s) { return s; }},
    {"unipc", [](int s) { return s; }},  // the corrector reuses the next step's evaluation
    {"dpmpp_2m_sde", [](int s) { return s; }},
    {"dpmpp_3m_sde", [](int s) { return s; }},
    {"edm_stochastic", [](int s) { return 2 * s; }},  // Heun
    {"restart", [](int s) { return 2 * s + 2 * 2 * 2; }},  // Heun, and K = 2 restarts of 2 Heun steps
    {"velocity_euler", [](int s) { return s; }},
    {"velocity_heun", [](int s) { return 2 * s; }},
};

}  // namespace

TEST_CASE("samplers_vs_nfe smoke: nfe per sampler, W2 against nfe with a line per sampler") {
    const auto v = run_mdlab({"validate", pipeline().string()});
    INFO(v.err);
    REQUIRE(v.exit_code == 0);
    CHECK(v.out.find("ok: 8 nodes, " + std::to_string(samplers.size() * 7 * 5) + " sweep cells") != std::string::npos);

    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", pipeline().string(), "--smoke", "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto rows = parse_csv(read_text(out / "results.csv"));
    REQUIRE(rows.size() == samplers.size() * 2 * 2 * 2);  // 2 step counts x 2 seeds x 2 metric nodes
    for (const auto& [label, nfe] : samplers)
        for (const std::string steps : {"4", "32"})
            for (const std::string seed : {"1", "2"}) {
                INFO(label << " at " << steps << " steps, seed " << seed);
                const std::map<std::string, std::string> at{
                    {"gen", label}, {"gen.steps", steps}, {"seed", seed}, {"node", "w"}};
                CHECK(value_at(rows, at, "gen.nfe") == nfe(std::stoi(steps)));
                CHECK(value_at(rows, at, "w2") > 0.0);
            }
    for (const std::string seed : {"1", "2"}) {
        const auto w2 = [&](const std::string& label) {
            return value_at(rows, {{"gen", label}, {"gen.steps", "4"}, {"seed", seed}, {"node", "w"}}, "w2");
        };
        CHECK(w2("dpmpp_2m") < w2("euler_maruyama"));
    }

    const std::string html = read_text(out / "report.html");
    const auto at = html.find("data-plot=\"comparison\" data-metric=\"w.w2\" data-x=\"gen.nfe\"");
    REQUIRE(at != std::string::npos);
    const std::string tag = html.substr(at, html.find('>', at) - at);
    CHECK(tag.find("data-lines=\"" + std::to_string(samplers.size()) + "\"") != std::string::npos);
    CHECK(tag.find("data-x-scale=\"log\" data-y-scale=\"log\" data-baseline=\"yes\"") != std::string::npos);
    CHECK(html.find("data-plot=\"comparison\"") == at);  // declared: the first comparison on the page

    // rk45 on its own node: its budget set by its tolerance (zipped with the step counts), more
    // evaluations for the tighter one; its declared plot has one line, a point per tolerance.
    for (const std::string seed : {"1", "2"}) {
        const auto nfe = [&](const std::string& rtol) {
            return value_at(rows, {{"gen", "euler_maruyama"}, {"adaptive.rtol", rtol}, {"seed", seed}, {"node", "w_adaptive"}},
                            "adaptive.nfe");
        };
        CHECK(nfe("0.001") > nfe("0.1"));
    }
    const auto adaptive = html.find("data-plot=\"comparison\" data-metric=\"w_adaptive.w2\" data-x=\"adaptive.nfe\" data-lines=\"1\"");
    REQUIRE(adaptive != std::string::npos);
    const std::string svg = html.substr(adaptive, html.find("</svg>", adaptive) - adaptive);
    std::size_t means = 0;
    for (auto p = svg.find("class=\"mean\""); p != std::string::npos; p = svg.find("class=\"mean\"", p + 1)) ++means;
    CHECK(means == 2);  // not once per alternative of gen, on which rk45 does not depend
}
