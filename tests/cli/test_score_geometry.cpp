// SCIENCE.md claim 2 at the level of the score metrics, through a real pipeline: on the noised
// uniform circle, a solenoidal perturbation of the oracle score has a large L2 score error and a
// gradient part near zero; a gradient perturbation of the same L2 size has both.
#include <catch2/catch.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const char* pipeline_text = R"({
  "name": "score_geometry", "seed": 3,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 4}},
    {"id": "vp", "plugin": "vp"},
    {"id": "oracle", "plugin": "oracle", "inputs": {"manifold": "circle", "process": "vp"}},
    {"id": "sol", "plugin": "perturbed", "params": {"type": "solenoidal", "eps": 0.5}, "inputs": {"score": "oracle"}},
    {"id": "grad", "plugin": "perturbed", "params": {"type": "gradient", "eps": 0.5}, "inputs": {"score": "oracle"}},
    {"id": "l2_sol", "plugin": "score_error", "params": {"t_min": 0.05, "times": 4},
     "inputs": {"score": "sol", "oracle": "oracle", "manifold": "circle"}},
    {"id": "l2_grad", "plugin": "score_error", "params": {"t_min": 0.05, "times": 4},
     "inputs": {"score": "grad", "oracle": "oracle", "manifold": "circle"}},
    {"id": "hh_sol", "plugin": "gradient_error", "params": {"t_min": 0.05, "times": 4, "form": "both"},
     "inputs": {"score": "sol", "oracle": "oracle", "manifold": "circle"}},
    {"id": "hh_grad", "plugin": "gradient_error", "params": {"t_min": 0.05, "times": 4, "form": "both"},
     "inputs": {"score": "grad", "oracle": "oracle", "manifold": "circle"}}
  ]
})";

double value(const std::vector<CsvRow>& rows, const std::string& node, const std::string& column) {
    const CsvRow& row = row_where(rows, "node", node);
    INFO(node << "." << column);
    REQUIRE(row.count(column));
    return std::stod(row.at(column));
}

}  // namespace

TEST_CASE("solenoidal errors are invisible to gradient_error, gradient errors are not") {
    TempDir tmp;
    const fs::path pipeline = tmp.path() / "p.json";
    write_text(pipeline, pipeline_text);
    const auto r = run_mdlab({"run", pipeline.string(), "--out", (tmp.path() / "run").string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto rows = parse_csv(read_text(tmp.path() / "run" / "results.csv"));

    // Both perturbations have L2 size eps |s_oracle| (|J v| = |v| in even dimension): relative error eps^2.
    const double rel_sol = value(rows, "l2_sol", "relative"), rel_grad = value(rows, "l2_grad", "relative");
    CHECK(rel_sol == Approx(0.25).epsilon(1e-9));
    CHECK(rel_grad == Approx(0.25).epsilon(1e-9));

    const double l2_sol = value(rows, "hh_sol", "l2"), l2_grad = value(rows, "hh_grad", "l2");
    // Each metric node draws its own x ~ p_t, so the two L2 figures agree within Monte Carlo error.
    CHECK(l2_sol == Approx(l2_grad).epsilon(0.05));
    // The solenoidal error has no gradient part beyond the estimator's noise floor, in both forms.
    CHECK(value(rows, "hh_sol", "gradient") <= 3.0 * value(rows, "hh_sol", "noise_floor"));
    CHECK(value(rows, "hh_sol", "gradient") < 0.02 * l2_sol);
    CHECK(value(rows, "hh_sol", "gradient_stein") <= 3.0 * value(rows, "hh_sol", "noise_floor_stein"));
    // The gradient error is almost all gradient.
    CHECK(value(rows, "hh_grad", "gradient_fraction") > 0.9);
    CHECK(value(rows, "hh_grad", "gradient_stein") > 0.8 * l2_grad);
}
