// The comparison view of a real run (three samplers x step counts x seeds): report.html has one
// comparison plot per varying metric value with one line per sampler, a table laid out the same
// way (and the samplers' nfe), the sample panels in a grid of samplers by step counts; the terminal shows the summary
// over seeds; nothing is fitted unless declared; a "plots" section adds plots and is validated.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab/runtime/summary.hpp"
#include "mdlab_test.hpp"
#include "report_sweep.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

struct Ran {
    fs::path out;
    CommandResult result;
};

Ran run_pipeline(const fs::path& dir, const std::string& name, const std::string& text) {
    write_text(dir / (name + ".json"), text);
    Ran r{dir / name, run_mdlab({"run", (dir / (name + ".json")).string(), "--out", (dir / name).string()})};
    INFO(r.result.out << r.result.err);
    REQUIRE(r.result.exit_code == 0);
    return r;
}

// The opening tags of the <svg> elements of one kind, in page order.
std::vector<std::string> svg_tags(const std::string& html, const std::string& kind) {
    std::vector<std::string> tags;
    const std::string open = "<svg data-plot=\"" + kind + "\"";
    for (auto p = html.find(open); p != std::string::npos; p = html.find(open, p + 1))
        tags.push_back(html.substr(p, html.find('>', p) - p));
    return tags;
}

const char* const samplers[] = {"euler_maruyama", "pf_ode_heun", "ddim"};

}  // namespace

TEST_CASE("three samplers over step counts: a plot per value with a line per sampler, tables and a sample grid") {
    TempDir tmp;
    const Ran ran = run_pipeline(tmp.path(), "run", report_alternatives_pipeline());
    const std::string html = read_text(ran.out / "report.html");

    SECTION("comparison plots: w1, w2 with their baselines, the four distances, the nfe; constants are named instead") {
        const auto tags = svg_tags(html, "comparison");
        REQUIRE(tags.size() == 7);
        CHECK(tags.back().find("data-metric=\"gen.nfe\"") != std::string::npos);  // Heun: two per step
        for (const auto& tag : tags) {
            INFO(tag);
            CHECK(tag.find("data-lines=\"3\"") != std::string::npos);
            CHECK(tag.find("data-x=\"gen.steps\"") != std::string::npos);
            CHECK(tag.find("data-x-scale=\"log\"") != std::string::npos);  // 5, 10, 20, 40
            const bool wasserstein = tag.find("data-metric=\"w.w") != std::string::npos;
            CHECK(tag.find(wasserstein ? "data-baseline=\"yes\"" : "data-baseline=\"no\"") != std::string::npos);
        }
        CHECK(count(html, "class=\"line\" data-line=\"pf_ode_heun\"") == 7);
        CHECK(count(html, "class=\"band\"") == 7 * 3);
        CHECK(count(html, "<path class=\"baseline\"") == 2);
        CHECK(html.find("Not plotted, the same in every cell: w.n_samples = 100, w.n_reference = 100") != std::string::npos);
    }

    SECTION("the tables: one row per sampler and the baseline, one column per step count, values from summary.csv") {
        CHECK(count(html, "<table class=\"comparison\"") == 7);
        CHECK(count(html, "<tr class=\"line\">") == 7 * 3);
        CHECK(count(html, "<tr class=\"baseline\">") == 2);
        CHECK(count(html, "<td title=\"n = 3 seeds\">") == (7 * 3 + 2) * 4);
        CHECK(html.find("<td title=\"n = 3 seeds\">80 &plusmn; 0</td>") != std::string::npos);  // Heun, 40 steps
        const auto summary = parse_csv(read_text(ran.out / "summary.csv"));
        for (const auto& r : summary)
            if (r.at("node") == "dist" && r.at("value") == "mean" && r.at("gen.steps") == "10" && r.at("gen") == "ddim") {
                const mdlab::runtime::SampleStats stats{3, std::stod(r.at("mean")), std::stod(r.at("se")),
                                                        std::stod(r.at("ci_low")), std::stod(r.at("ci_high"))};
                const std::string cell = mdlab::runtime::mean_and_half_width(stats, "&plusmn;");
                CHECK(html.find("<td title=\"n = 3 seeds\">" + cell + "</td>") != std::string::npos);
            }
    }

    SECTION("sample panels: a row per sampler, a column per step count (seed 1)") {
        const auto grid = html.substr(html.find("<table class=\"samples\">"));
        CHECK(count(html, "<svg data-plot=\"samples\"") == 3 * 4);
        std::size_t row = grid.find("<tr><th class=\"text\">gen: ");
        for (const char* sampler : samplers) {
            REQUIRE(row != std::string::npos);
            const std::size_t next = grid.find("<tr>", row + 4);
            const std::string cells = grid.substr(row, next - row);
            INFO(sampler);
            CHECK(cells.find(std::string("gen: ") + sampler + "</th>") != std::string::npos);
            CHECK(count(cells, std::string("(") + sampler + ")") == 4);
            row = next;
        }
        const std::string header = grid.substr(0, grid.find("</tr>"));
        CHECK(header.find("gen.steps=5</th><th class=\"text\">gen.steps=10</th>") != std::string::npos);
    }

    SECTION("the terminal: the summary over seeds, one row per step count and sampler, and no rate fit") {
        const std::string& out = ran.result.out;
        CHECK(out.find("summary over seeds") != std::string::npos);
        for (const char* sampler : samplers) {
            INFO(sampler);
            CHECK(count(out, std::string(" ") + sampler + " ") == 2 * 4);  // two tables, 4 step counts each
        }
        CHECK(out.find("rates:") == std::string::npos);
        CHECK(out.find("samples=gen") == std::string::npos);  // the per-cell tables' inputs column is gone
        const auto rates = parse_csv(read_text(ran.out / "rates.csv"));
        CHECK(rates.empty());
        CHECK(html.find("No rate fits: none declared") != std::string::npos);
    }
}

TEST_CASE("\"rates\": [] fits nothing; declared rates are the only fits") {
    TempDir tmp;
    const Ran none = run_pipeline(tmp.path(), "none", report_alternatives_pipeline(R"("rates": [])"));
    CHECK(parse_csv(read_text(none.out / "rates.csv")).empty());
    CHECK(svg_tags(read_text(none.out / "report.html"), "rate").empty());
    const Ran one = run_pipeline(tmp.path(), "one",
                                 report_alternatives_pipeline(R"("rates": [{"metric": "dist.mean", "over": "gen.steps"}])"));
    const auto rates = parse_csv(read_text(one.out / "rates.csv"));
    REQUIRE(rates.size() == 3);  // one per sampler
    for (const auto& r : rates) CHECK(r.at("metric") == "dist.mean");
    CHECK(svg_tags(read_text(one.out / "report.html"), "rate").size() == 1);
}

TEST_CASE("a declared plot comes first with its own lines and scales") {
    TempDir tmp;
    const Ran ran = run_pipeline(
        tmp.path(), "run",
        report_alternatives_pipeline(R"("plots": [{"x": "gen.steps", "y": ["dist.mean"], "lines": [], "y_scale": "log", "x_scale": "linear"},
                                               {"x": "gen", "y": "w.w1", "lines": "gen.steps"}])"));
    const std::string html = read_text(ran.out / "report.html");
    const auto tags = svg_tags(html, "comparison");
    REQUIRE(tags.size() == 3 + 1 + 7);  // dist.mean per sampler, w.w1 by sampler, then the default ones
    for (std::size_t i = 0; i < 3; ++i) {
        INFO(tags[i]);
        CHECK(tags[i].find("data-metric=\"dist.mean\"") != std::string::npos);
        CHECK(tags[i].find("data-lines=\"1\"") != std::string::npos);
        CHECK(tags[i].find("data-x-scale=\"linear\" data-y-scale=\"log\"") != std::string::npos);
    }
    CHECK(tags[3].find("data-x=\"gen\" data-lines=\"4\"") != std::string::npos);  // a line per step count
    CHECK(count(html, "declared plot &middot; gen=pf_ode_heun") == 1);
    // results.json keeps the declaration, so `mdlab report` draws the same page.
    const std::string before = html;
    fs::remove(ran.out / "report.html");
    REQUIRE(run_mdlab({"report", ran.out.string()}).exit_code == 0);
    CHECK(read_text(ran.out / "report.html") == before);
}

TEST_CASE("a malformed \"plots\" section is bad input naming the key and the valid choices") {
    TempDir tmp;
    const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
        {R"("plots": {"x": "gen.steps"})", {"\"plots\" must be a list"}},
        {R"("plots": [{"y": "w.w1"}])", {"/plots/0/x", "\"x\" must be a non-empty string"}},
        {R"("plots": [{"x": "gen.steps"}])", {"/plots/0/y", "\"y\" is required"}},
        {R"("plots": [{"x": "gen.steps", "y": "w.w1", "xscale": "log"}])",
         {"/plots/0/xscale", "unknown field 'xscale'", "did you mean 'x_scale'?", "lines, x, x_scale, y, y_scale"}},
        {R"("plots": [{"x": "gen.steps", "y": "w.w1", "x_scale": "logarithmic"}])",
         {"/plots/0/x_scale", "\"x_scale\" is one of auto, linear, log; 'logarithmic' is not"}},
        {R"("plots": [{"x": "gen.steps", "y": "w.w1", "y_scale": 10}])", {"/plots/0/y_scale", "a number is not"}},
        {R"("plots": [{"x": "gen.step", "y": "w.w1"}])",
         {"/plots/0/x", "'gen.step' is neither a sweep key nor a measured value", "did you mean 'gen.steps'?"}},
        {R"("plots": [{"x": "steps", "y": "w.w1"}])", {"/plots/0/x", "'steps' is not a sweep key"}},
        {R"("plots": [{"x": "nosuch.nfe", "y": "w.w1"}])",
         {"/plots/0/x", "'nosuch.nfe' is neither a sweep key nor a measured value (a sampler's \"<node>.nfe\""}},
        {R"("plots": [{"x": "gen.steps", "y": "ww.w1"}])",
         {"/plots/0/y", "'ww.w1' does not name a value of a metric node", "did you mean 'w'?"}},
        {R"("plots": [{"x": "gen.steps", "y": ["w.w1", "w1"]}])", {"/plots/0/y/1", "\"<metric node id>.<value name>\""}},
        {R"("plots": [{"x": "seed", "y": "w.w1"}])", {"/plots/0/x", "'seed' cannot be the x axis"}},
        {R"("plots": [{"x": "gen.steps", "y": "w.w1", "lines": "gen.steps"}])",
         {"/plots/0/lines", "varies together with the x axis"}},
        {R"("plots": [{"x": "gen.steps", "y": "w.w1", "lines": ["gen", 3]}])", {"/plots/0/lines/1", "expected a sweep key"}},
        {R"("plots": [{"x": "gen", "y": "w.w1", "x_scale": "log"}])",
         {"/plots/0/x_scale", "a log x axis needs positive numbers", "euler_maruyama"}},
    };
    for (const auto& [section, expected] : cases) {
        INFO(section);
        write_text(tmp.path() / "bad.json", report_alternatives_pipeline(section));
        const auto r = run_mdlab({"validate", (tmp.path() / "bad.json").string()});
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("bad.json:") != std::string::npos);
        for (const auto& text : expected) CHECK(r.err.find(text) != std::string::npos);
    }
}
