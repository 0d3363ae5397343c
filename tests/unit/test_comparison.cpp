// The comparison view of a run, from a run record built here: which plots there are, their
// lines, points, bands, scales and baseline; declared plots; the SVG's marks; the terminal's
// summary over seeds; and no rate fit unless declared.
#include <cmath>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "mdlab/runtime/comparison.hpp"
#include "mdlab/runtime/rate_fit.hpp"
#include "mdlab/runtime/summary.hpp"

using namespace mdlab::runtime;
using Catch::Detail::Approx;

namespace {

const std::vector<int> steps{10, 20, 40, 80};
const std::vector<std::string> samplers{"euler", "heun"};

// w1 = (sampler + 1) / steps * (1 + 0.1 seed); the baseline 0.05 + 0.01 seed whatever the
// sampler; n = 200 everywhere.
double w1(std::size_t sampler, int step, int seed) { return (sampler + 1.0) / step * (1 + 0.1 * seed); }
double baseline(int seed) { return 0.05 + 0.01 * seed; }

RunRecord record(bool alternatives) {
    RunRecord run;
    run.axes.push_back({"gen.steps", "grid", -1, {}});
    for (int s : steps) run.axes.back().values.emplace_back(s);
    run.axes.push_back({"seed", "seed", -1, {1, 2}});
    if (alternatives) run.axes.push_back({"gen", "alternatives", -1, {"euler", "heun"}});
    std::size_t index = 0;
    for (int step : steps)
        for (int seed : {1, 2})
            for (std::size_t a = 0; a < (alternatives ? 2u : 1u); ++a) {
                RunCell cell;
                cell.index = index++;
                cell.seed = static_cast<std::uint64_t>(seed);
                cell.sweep = {{"gen.steps", step}, {"seed", seed}};
                if (alternatives) cell.sweep.emplace_back("gen", samplers[a]);
                RunNode w;
                w.id = "w";
                w.plugin = "wasserstein";
                w.kind = "metric";
                w.status = "ok";
                w.values = {{"w1", w1(a, step, seed)}, {"baseline_w1", baseline(seed)}, {"n", 200.0}};
                cell.nodes.push_back(w);
                run.cells.push_back(cell);
            }
    return run;
}

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("a comparison plot per metric value and swept axis, one line per alternative, with mean and band over seeds") {
    const RunRecord run = record(true);
    const ComparisonView view = comparison_view(run, summarize(run));
    REQUIRE(view.plots.size() == 1);  // w1; baseline_w1 is its reference, n is constant
    REQUIRE(view.constants.size() == 1);
    CHECK(view.constants[0].value == "n");
    CHECK(view.constants[0].number == 200.0);
    const ComparisonPlot& p = view.plots[0];
    CHECK(p.metric() == "w.w1");
    CHECK(p.x == "gen.steps");
    CHECK(p.x_values == std::vector<std::string>{"10", "20", "40", "80"});
    CHECK(p.x_numeric);
    CHECK(p.x_log);    // 10, 20, 40, 80: evenly spaced in log
    CHECK(!p.y_log);   // the means span less than two decades
    CHECK(p.facet.empty());
    REQUIRE(p.lines.size() == 2);
    for (std::size_t a = 0; a < 2; ++a) {
        const ComparisonLine& line = p.lines[a];
        CHECK(line.label == samplers[a]);
        REQUIRE(line.points.size() == steps.size());
        for (std::size_t i = 0; i < steps.size(); ++i) {
            const ComparisonPoint& pt = line.points[i];
            CHECK(pt.x == steps[i]);
            const SampleStats expected = sample_stats({w1(a, steps[i], 1), w1(a, steps[i], 2)});
            CHECK(pt.stats.n == 2);
            CHECK(pt.stats.mean == Approx(expected.mean));
            CHECK(pt.stats.ci_low == Approx(expected.ci_low));
            CHECK(pt.stats.ci_high == Approx(expected.ci_high));
            CHECK(pt.stats.ci_low < pt.stats.mean);
        }
    }
    // The baseline: one reference per x, the same for both samplers, so their interval itself.
    CHECK(p.baseline_value == "baseline_w1");
    REQUIRE(p.baseline.size() == steps.size());
    const SampleStats b = sample_stats({baseline(1), baseline(2)});
    for (const auto& pt : p.baseline) {
        CHECK(pt.stats.mean == Approx(b.mean));
        CHECK(pt.stats.ci_low == Approx(b.ci_low));
        CHECK(pt.stats.ci_high == Approx(b.ci_high));
    }

    const std::string svg = comparison_svg(p);
    CHECK(count(svg, "<svg data-plot=\"comparison\"") == 1);
    CHECK(svg.find("data-lines=\"2\"") != std::string::npos);
    CHECK(svg.find("data-x-scale=\"log\"") != std::string::npos);
    CHECK(svg.find("data-y-scale=\"linear\"") != std::string::npos);
    CHECK(count(svg, "class=\"line\"") == 2);
    CHECK(count(svg, "class=\"band\"") == 2);
    CHECK(count(svg, "class=\"mean\"") == 8);
    CHECK(count(svg, "data-line=\"heun\"") == 2);  // its line and its band
    CHECK(count(svg, "class=\"baseline\"") == 1);
    CHECK(count(svg, "class=\"baseline-band\"") == 1);
    CHECK(svg.find("(log scale)") != std::string::npos);
}

TEST_CASE("without alternatives one line; with one seed no band; a wide range of means gets a log y axis") {
    RunRecord run = record(false);
    for (auto& cell : run.cells)
        for (auto& [k, v] : cell.nodes[0].values)
            if (k == "w1") v = std::pow(10.0, -static_cast<double>(cell.index) / 2.0);  // 1 .. 10^-3.5
    ComparisonView view = comparison_view(run, summarize(run));
    REQUIRE(view.plots.size() == 1);
    REQUIRE(view.plots[0].lines.size() == 1);
    CHECK(view.plots[0].lines[0].label.empty());
    CHECK(view.plots[0].y_log);
    std::string svg = comparison_svg(view.plots[0]);
    CHECK(count(svg, "class=\"line\"") == 1);
    CHECK(count(svg, "class=\"band\"") == 1);

    run.axes[1].values = {1};
    run.cells.erase(std::remove_if(run.cells.begin(), run.cells.end(), [](const RunCell& c) { return c.seed == 2; }),
                    run.cells.end());
    view = comparison_view(run, summarize(run));
    REQUIRE(view.plots.size() == 1);
    CHECK(view.plots[0].lines[0].points.size() == 4);
    svg = comparison_svg(view.plots[0]);
    CHECK(count(svg, "class=\"line\"") == 1);
    CHECK(count(svg, "class=\"band\"") == 0);  // one seed: no interval
}

TEST_CASE("declared plots come first and choose the lines and the scales; unknown values are listed") {
    RunRecord run = record(true);
    PlotDecl d;
    d.x = "gen.steps";
    d.y = {"w.w1", "w.nothing"};
    d.lines_declared = true;  // no lines keys: one line, the alternatives become separate plots
    d.x_scale = "linear";
    d.y_scale = "log";
    run.plots.push_back(d);
    const ComparisonView view = comparison_view(run, summarize(run));
    REQUIRE(view.plots.size() == 3);  // two declared (one per sampler), then the default one
    CHECK(view.missing == std::vector<std::string>{"w.nothing"});
    for (std::size_t a = 0; a < 2; ++a) {
        const ComparisonPlot& p = view.plots[a];
        CHECK(p.declared);
        CHECK(!p.x_log);
        CHECK(p.y_log);
        REQUIRE(p.lines.size() == 1);
        CHECK(p.facet == std::vector<std::pair<std::string, std::string>>{{"gen", samplers[a]}});
        CHECK(p.lines[0].points[0].stats.mean == Approx((w1(a, 10, 1) + w1(a, 10, 2)) / 2));
    }
    CHECK(!view.plots[2].declared);
    CHECK(view.plots[2].lines.size() == 2);

    // Lines by another axis: the steps as lines against the alternatives as categories.
    run.plots[0].x = "gen";
    run.plots[0].y = {"w.w1"};
    run.plots[0].lines = {"gen.steps"};
    run.plots[0].x_scale = run.plots[0].y_scale = "auto";
    const ComparisonView by_sampler = comparison_view(run, summarize(run));
    const ComparisonPlot& p = by_sampler.plots[0];
    CHECK(!p.x_numeric);
    CHECK(p.x_positions == std::vector<double>{0, 1});
    REQUIRE(p.lines.size() == 4);
    CHECK(p.lines[0].label == "gen.steps=10");
    CHECK(p.lines[3].points.size() == 2);
}

TEST_CASE("log spacing: geometric positive values over a factor 4, two values over a factor 100") {
    CHECK(log_spaced({50, 100, 200, 400}));
    CHECK(log_spaced({5, 10, 20, 50, 100}));
    CHECK(log_spaced({1e-6, 1e-2}));
    CHECK(!log_spaced({1, 2, 3, 4, 5}));
    CHECK(!log_spaced({10, 20}));
    CHECK(!log_spaced({0, 1, 10, 100}));
    CHECK(!log_spaced({-1, 1, 10}));
    CHECK(!log_spaced({1, 1.5, 2.25}));  // geometric but less than a factor 4
}

TEST_CASE("the terminal summary: one row per configuration with mean and half-width, not one per cell") {
    const RunRecord run = record(true);
    const std::string text = summary_text(run, summarize(run));
    INFO(text);
    // 4 steps x 2 samplers rows; the 16 cells do not appear one by one.
    CHECK(count(text, " euler ") == 4);
    CHECK(count(text, " heun ") == 4);
    CHECK(count(text, "\n") == 1 + 1 + 2 + 8 + 1);  // title, plugin, header and rule, rows, blank line
    CHECK(text.find("\nwasserstein\n  gen.steps  gen    node  n  w1") != std::string::npos);
    const SampleStats s = sample_stats({w1(1, 10, 1), w1(1, 10, 2)});
    CHECK(text.find(mean_and_half_width(s, "\u00b1")) != std::string::npos);
}

TEST_CASE("mean and half-width: two significant digits of the half-width, the mean to the same place") {
    const auto f = [](double mean, double half) {
        return mean_and_half_width(SampleStats{3, mean, half / 4, mean - half, mean + half}, "+-");
    };
    CHECK(f(53.42, 13.46) == "53 +- 13");
    CHECK(f(0.003333, 0.007171) == "0.0033 +- 0.0072");
    CHECK(f(730.6, 213.3) == "731 +- 213");
    CHECK(f(200, 0) == "200 +- 0");
    CHECK(mean_and_half_width(sample_stats({0.25}), "+-") == "0.25");
    CHECK(mean_and_half_width(sample_stats({}), "+-").empty());
}

TEST_CASE("no rate is fitted unless declared") {
    RunRecord run = record(true);
    CHECK(fit_rates(run).empty());
    run.rates.push_back({"w", "w1", "gen.steps", {}});
    const auto fits = fit_rates(run);
    REQUIRE(fits.size() == 2);  // one per sampler
    CHECK(fits[0].ok());
}

TEST_CASE("another swept axis fixes one plot per value; the first plots cover every value and axis") {
    const RunRecord base = record(true);
    RunRecord run = base;
    run.axes.insert(run.axes.begin(), RunAxis{"train.n", "grid", -1, {100, 200}});
    run.cells.clear();
    for (int n : {100, 200})
        for (RunCell cell : base.cells) {
            cell.index = run.cells.size();
            cell.sweep.insert(cell.sweep.begin(), {"train.n", n});
            for (auto& [k, v] : cell.nodes[0].values)
                if (k == "w1") v *= n;
            run.cells.push_back(cell);
        }
    const ComparisonView view = comparison_view(run, summarize(run));
    // w.w1 against train.n (one plot per step count: 4) and against gen.steps (one per N: 2).
    REQUIRE(view.plots.size() == 6);
    CHECK(view.plots[0].x == "train.n");
    CHECK(view.plots[1].x == "gen.steps");  // before the other facets of train.n
    CHECK(view.plots[0].facet == std::vector<std::pair<std::string, std::string>>{{"gen.steps", "10"}});
    CHECK(view.plots[1].facet == std::vector<std::pair<std::string, std::string>>{{"train.n", "100"}});
    CHECK(view.plots[2].facet == std::vector<std::pair<std::string, std::string>>{{"gen.steps", "20"}});
    CHECK(view.plots[3].facet == std::vector<std::pair<std::string, std::string>>{{"train.n", "200"}});
    CHECK(view.plots[5].facet == std::vector<std::pair<std::string, std::string>>{{"gen.steps", "80"}});
    CHECK(!view.plots[0].x_log);  // 100, 200: two values a factor 2 apart
    CHECK(view.plots[3].lines[1].points[0].stats.mean == Approx(200 * (w1(1, 10, 1) + w1(1, 10, 2)) / 2));
}

TEST_CASE("the samplers' nfe is compared like a metric value; the wall times are not plotted") {
    RunRecord run = record(true);
    for (auto& cell : run.cells) {
        const int steps_of_cell = static_cast<int>(number_of(*cell.axis_value("gen.steps")));
        const bool heun = cell.axis_value("gen")->as_string() == "heun";
        cell.cost = {{"gen.nfe", (heun ? 2.0 : 1.0) * steps_of_cell}, {"gen.wall_s", 0.001 * cell.index}, {"cell.wall_s", 0.01}};
    }
    const ComparisonView view = comparison_view(run, summarize(run));
    REQUIRE(view.plots.size() == 2);
    const ComparisonPlot& nfe = view.plots[1];
    CHECK(nfe.metric() == "gen.nfe");
    REQUIRE(nfe.lines.size() == 2);
    CHECK(nfe.lines[1].label == "heun");
    CHECK(nfe.lines[1].points[3].stats.mean == 160);
    CHECK(nfe.lines[0].points[3].stats.mean == 80);
    CHECK(nfe.lines[0].points[3].stats.n == 2);
    for (const auto& p : view.plots) CHECK(p.value.find("wall") == std::string::npos);
}

TEST_CASE("a measured x (the samplers' nfe): each point at its configuration's mean nfe, the steps along the line") {
    RunRecord run = record(true);
    for (auto& cell : run.cells) {
        const int steps_of_cell = static_cast<int>(number_of(*cell.axis_value("gen.steps")));
        const bool heun = cell.axis_value("gen")->as_string() == "heun";
        cell.cost = {{"gen.nfe", (heun ? 2.0 : 1.0) * steps_of_cell}};
    }
    PlotDecl d;
    d.x = "gen.nfe";
    d.y = {"w.w1"};
    run.plots.push_back(d);
    const ComparisonView view = comparison_view(run, summarize(run));
    REQUIRE(!view.plots.empty());
    const ComparisonPlot& p = view.plots[0];
    CHECK(p.declared);
    CHECK(p.x == "gen.nfe");
    CHECK(p.facet.empty());  // the steps move along the lines: no plot per step count
    REQUIRE(p.lines.size() == 2);
    CHECK(p.lines[0].label == "euler");
    CHECK(p.lines[1].label == "heun");
    REQUIRE(p.lines[1].points.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(p.lines[0].points[i].x == steps[i]);
        CHECK(p.lines[1].points[i].x == 2 * steps[i]);  // Heun: two evaluations per step
        CHECK(p.lines[1].points[i].stats.mean == Approx((w1(1, steps[i], 1) + w1(1, steps[i], 2)) / 2));
    }
    // Every x any line reaches, in order; log-spaced, so a log axis by default.
    CHECK(p.x_positions == std::vector<double>{10, 20, 40, 80, 160});
    CHECK(p.x_log);
    // The baseline at each x where it was measured.
    REQUIRE(p.baseline.size() == 5);
    CHECK(p.baseline.front().stats.mean == Approx((baseline(1) + baseline(2)) / 2));
    CHECK(comparison_svg(p).find("data-x=\"gen.nfe\"") != std::string::npos);

    // A measured x no node reported is listed, not drawn.
    run.plots[0].x = "gen.nothing";
    const ComparisonView missing = comparison_view(run, summarize(run));
    CHECK(missing.missing == std::vector<std::string>{"gen.nothing"});
    CHECK(!missing.plots.empty());
    CHECK(!missing.plots[0].declared);
}
