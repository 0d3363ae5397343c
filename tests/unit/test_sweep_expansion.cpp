// framework/src/sweep/ as a unit, without the registry or the validator: the sweep's axes (read
// from pipeline text) and hand-made plugin specs and start parameters go in, cells come out.
// Product order (last axis fastest), zip groups as one axis, seeds per cell, alternatives,
// --set overrides on the parameters cells start from, an empty sweep and the cell limit.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "mdlab/runtime/pipeline.hpp"
#include "sweep/overrides.hpp"
#include "sweep/sweep_expansion.hpp"

using namespace mdlab;
using namespace mdlab::runtime;

namespace {

PluginRecord plugin(PluginSpec spec) { return PluginRecord{std::move(spec), nullptr, nullptr, {}}; }

// Two nodes, "train" (n, t_min) and "score" (bandwidth), and another plugin "score" may run as
// one of its alternatives (bandwidth, k).
struct Fixture {
    PluginRecord gen = plugin(PluginSpec("gen", "1", "").param(integer("n", 10, "")).param(real("t_min", 0.1, "")));
    PluginRecord est = plugin(PluginSpec("est", "1", "").param(real("bandwidth", 0.5, "")));
    PluginRecord est2 = plugin(PluginSpec("est2", "1", "").param(real("bandwidth", 1.0, "")).param(integer("k", 3, "")));
    Pipeline pipeline;
    ValidatedPipeline vp;
    StartParams start;

    explicit Fixture(const std::string& sweep, const std::string& seed = "1") {
        pipeline = read_pipeline_text(R"({"seed": )" + seed + R"(, "nodes": [
            {"id": "train", "plugin": "gen"},
            {"id": "score", "plugin": "est", "inputs": {"data": "train"}}], "sweep": )" + sweep + "}",
                                      "test.json");
        vp.nodes = {Node{"train", &gen, {}, {}}, Node{"score", &est, {{"data", 0}}, {}}};
        vp.alternatives.resize(2);
        start.nodes.resize(2);
        start.alternatives.resize(2);
        defaults(gen.spec, start.nodes[0]);
        defaults(est.spec, start.nodes[1]);
        for (const SweepAxis& a : pipeline.sweep)
            if (a.type == SweepAxis::Type::alternatives)
                for (std::size_t v = 0; v < a.variants.size(); ++v) {
                    const PluginRecord* rec = a.variants[v].plugin == "est2" ? &est2 : &est;
                    vp.alternatives[1].push_back(Node{"score", rec, {{"data", 0}}, a.variants[v].plugin});
                    start.alternatives[1].emplace_back();
                    defaults(rec->spec, start.alternatives[1].back());
                }
    }
    static void defaults(const PluginSpec& spec, Params& out) {
        for (const auto& p : spec.params) out.set(p.key, *p.default_value);
    }
    std::vector<Cell> cells() const { return expand_sweep(pipeline.sweep, pipeline.seed, vp, start); }
};

using Assignments = std::vector<std::pair<std::string, boost::json::value>>;

// "[first, first + 1, ..., last]"
std::string numbers(int first, int last) {
    std::string out = "[";
    for (int i = first; i <= last; ++i) out += (i > first ? "," : "") + std::to_string(i);
    return out + "]";
}

Override set(const std::string& text) { return parse_override(text); }

}  // namespace

TEST_CASE("an empty sweep is one cell: the pipeline's seed and the start parameters") {
    Fixture f("{}", "42");
    REQUIRE(sweep_cell_count(f.pipeline.sweep) == 1u);
    const auto cells = f.cells();
    REQUIRE(cells.size() == 1);
    CHECK(cells[0].index == 0);
    CHECK(cells[0].seed == 42);
    CHECK(cells[0].assignments.empty());
    CHECK(cells[0].variant == std::vector<std::size_t>{0, 0});
    CHECK(cells[0].params[0].all() == f.start.nodes[0].all());
    CHECK(cells[0].params[1].all() == f.start.nodes[1].all());
}

TEST_CASE("cells are the product of the axes in the order written, the last varying fastest") {
    Fixture f(R"({"grid": {"train.n": [1, 2, 3], "score.bandwidth": [0.25, 2]}})");
    const auto cells = f.cells();
    REQUIRE(cells.size() == 6);
    const std::vector<std::pair<std::int64_t, double>> expected{{1, 0.25}, {1, 2.0}, {2, 0.25},
                                                                {2, 2.0},  {3, 0.25}, {3, 2.0}};
    for (std::size_t c = 0; c < cells.size(); ++c) {
        INFO("cell " << c);
        CHECK(cells[c].index == c);
        CHECK(cells[c].seed == 1);
        CHECK(cells[c].params[0].integer("n") == expected[c].first);
        CHECK(cells[c].params[1].real("bandwidth") == expected[c].second);
        CHECK(cells[c].params[0].real("t_min") == 0.1);  // unswept: the start value
    }
    // Values are bound to the parameter's type: 2 given for a real parameter is a double.
    CHECK(std::holds_alternative<double>(cells[1].params[1].all().at("bandwidth")));
    CHECK(cells[3].assignments == Assignments{{"train.n", 2}, {"score.bandwidth", 2}});
}

TEST_CASE("a zip group is one axis whose keys vary together") {
    Fixture f(R"({"zip": {"train.n": [5, 6], "score.bandwidth": [0.5, 0.75]},
                  "grid": {"train.t_min": [0.01, 0.02, 0.03]}})");
    REQUIRE(sweep_cell_count(f.pipeline.sweep) == 6u);
    const auto cells = f.cells();
    REQUIRE(cells.size() == 6);
    for (std::size_t c = 0; c < cells.size(); ++c) {
        INFO("cell " << c);
        CHECK(cells[c].params[0].integer("n") == (c < 3 ? 5 : 6));
        CHECK(cells[c].params[1].real("bandwidth") == (c < 3 ? 0.5 : 0.75));
        CHECK(cells[c].params[0].real("t_min") == std::vector<double>{0.01, 0.02, 0.03}[c % 3]);
    }
    CHECK(cells[4].assignments == Assignments{{"train.n", 6}, {"score.bandwidth", 0.75}, {"train.t_min", 0.02}});
}

TEST_CASE("each cell has its seed: the swept one, or the pipeline's") {
    Fixture f(R"({"grid": {"seed": [7, 18446744073709551615], "train.n": [1, 2]}})", "3");
    const auto cells = f.cells();
    REQUIRE(cells.size() == 4);
    CHECK(cells[0].seed == 7);
    CHECK(cells[1].seed == 7);
    CHECK(cells[2].seed == 18446744073709551615ull);
    CHECK(cells[3].seed == 18446744073709551615ull);
    CHECK(cells[1].params[0].integer("n") == 2);
    // "seed" sets no node's parameter.
    CHECK(cells[0].params[1].all() == f.start.nodes[1].all());

    Fixture unswept(R"({"grid": {"train.n": [1, 2]}})", "3");
    for (const Cell& c : unswept.cells()) CHECK(c.seed == 3);
}

TEST_CASE("a node's alternatives: each cell runs one, with that plugin's parameters") {
    Fixture f(R"({"alternatives": {"score": [{"plugin": "est"}, {"plugin": "est2", "params": {"k": 5}}]},
                  "grid": {"score.bandwidth": [0.125, 4]}})");
    f.start.alternatives[1][1].set("k", std::int64_t{5});  // the variant's own value, bound by the validator
    const auto cells = f.cells();
    REQUIRE(cells.size() == 4);
    CHECK(cells[0].variant == std::vector<std::size_t>{0, 0});
    CHECK(cells[2].variant == std::vector<std::size_t>{0, 1});
    CHECK(f.vp.node(cells[2], 1).plugin == &f.est2);
    CHECK_FALSE(cells[1].params[1].has("k"));
    CHECK(cells[3].params[1].integer("k") == 5);
    CHECK(cells[3].params[1].real("bandwidth") == 4.0);  // swept across every alternative
    CHECK(cells[2].assignments == Assignments{{"score", "est2"}, {"score.bandwidth", 0.125}});
}

TEST_CASE("overrides change the parameters every cell starts from; a swept key still wins") {
    Fixture f(R"({"alternatives": {"score": [{"plugin": "est"}, {"plugin": "est2"}]}, "grid": {"train.n": [1, 2]}})");
    DiagnosticList errors;
    apply_overrides({set("train.t_min=0.5"), set("train.n=99"), set("score.k=8")}, f.vp, f.start, f.pipeline.nodes,
                    errors);
    REQUIRE(errors.empty());
    for (const Cell& c : f.cells()) {
        CHECK(c.params[0].real("t_min") == 0.5);
        CHECK(c.params[0].integer("n") == (c.index % 2 == 0 ? 1 : 2));
        // k exists only on the second alternative, which alone takes it.
        if (c.variant[1] == 1) CHECK(c.params[1].integer("k") == 8);
        else CHECK_FALSE(c.params[1].has("k"));
    }
    // The resolved pipeline shows the overridden values.
    CHECK(f.pipeline.nodes[0].params.at("t_min").as_double() == 0.5);
    CHECK(f.pipeline.nodes[1].params.at("k").as_int64() == 8);
    CHECK(is_overridden({set("train.n=3")}, "train", "n"));
    CHECK_FALSE(is_overridden({set("train.n=3")}, "score", "n"));
}

TEST_CASE("a bad override is reported with its text, node and key, and changes nothing") {
    Fixture f("{}");
    DiagnosticList errors;
    apply_overrides({set("trian.n=3"), set("train.m=3"), set("train.n=\"many\"")}, f.vp, f.start, f.pipeline.nodes,
                    errors);
    try {
        errors.throw_if_any();
        FAIL("no problem reported");
    } catch (const BadInput& e) {
        const auto& d = e.diagnostics();
        REQUIRE(d.size() == 3);
        CHECK(d[0].file == "--set trian.n=3");
        CHECK(d[0].message == "no node with this id");
        CHECK(d[0].hint.find("train") != std::string::npos);
        CHECK(d[1].key == "m");
        CHECK(d[1].message == "unknown parameter of plugin 'gen'");
        CHECK(d[2].node == "train");
        CHECK(d[2].message == "expected an integer, got a string");
    }
    CHECK(f.start.nodes[0].integer("n") == 10);
    CHECK(f.pipeline.nodes[0].params.empty());
}

TEST_CASE("a sweep of more than a million cells is refused") {
    Fixture f(R"({"grid": {"seed": )" + numbers(0, 1000) + R"(, "train.n": )" + numbers(1, 1000) + "}}");
    CHECK_FALSE(sweep_cell_count(f.pipeline.sweep).has_value());
    CHECK_THROWS_AS(f.cells(), Error);
}
