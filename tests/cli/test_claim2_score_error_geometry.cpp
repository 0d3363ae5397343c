// Claim 2 (SCIENCE.md section 5), through the shipped pipeline at its smoke size: a solenoidal
// and a gradient perturbation of the oracle score with the same L2 size (eps = 1: relative error
// exactly eps^2 = 1 for both) give very different samples. The solenoidal one keeps W1, TV, MMD
// and the distance to the circle at the unperturbed (eps = 0) values; the gradient one degrades
// them. gradient_error separates the two, score_error does not.
//
// Margins come from the smoke run (500 samples, one seed; figures in docs/experiments.md):
// W1 control 0.099, solenoidal 0.094, gradient 0.31 (baseline 0.105); TV 0.10 / 0.094 / 0.27
// (baseline 0.084; its sampling noise sqrt(C / (pi n)) is about 0.1 for 16 bins and n = 500);
// MMD^2 -9e-5 / 2e-4 / 0.056; gradient part 0.034 (noise floor 0.034) against 6.8 (fraction 0.90).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <stdexcept>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("claim 2: equal L2 score errors, solenoidal keeps sample quality, gradient degrades it") {
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (source_dir() / "pipelines" / "claim2_score_error_geometry.json").string(),
                              "--smoke", "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* f : {"pipeline.json", "results.json", "results.csv", "summary.csv", "rates.csv", "report.html"})
        CHECK(fs::is_regular_file(out / f));

    const auto rows = parse_csv(read_text(out / "results.csv"));
    auto at = [&](const std::string& eps, const std::string& variant, const std::string& node, const std::string& col) {
        return value_at(rows, {{"score.eps", eps}, {"score", variant}, {"node", node}}, col);
    };

    // eps = 0 is the control: both variants are the oracle, the same samples bit for bit.
    for (const char* col : {"w1", "baseline_w1"})
        CHECK(at("0", "gradient", "w", col) == at("0", "solenoidal", "w", col));
    CHECK(at("0", "gradient", "err", "l2") == 0.0);
    const double w_ctrl = at("0", "solenoidal", "w", "w1"), tv_ctrl = at("0", "solenoidal", "tv", "tv");
    const double dist_ctrl = at("0", "solenoidal", "dist", "mean");

    // Same L2 size: relative error eps^2 = 1 for both (|J s| = |s| pointwise, D even).
    CHECK(at("1", "gradient", "err", "relative") == Approx(1.0).epsilon(1e-9));
    CHECK(at("1", "solenoidal", "err", "relative") == Approx(1.0).epsilon(1e-9));

    // The Helmholtz-Hodge gradient part: at the noise floor for the solenoidal error, most of
    // the L2 error for the gradient one (observed fractions 0.004 and 0.90).
    CHECK(at("1", "solenoidal", "grad", "gradient") < 3 * at("1", "solenoidal", "grad", "noise_floor"));
    CHECK(at("1", "solenoidal", "grad", "gradient_fraction") < 0.05);
    CHECK(at("1", "gradient", "grad", "gradient_fraction") > 0.7);
    CHECK(at("1", "gradient", "grad", "gradient") > 50 * at("1", "solenoidal", "grad", "gradient"));

    // Sample quality. Solenoidal: unchanged within the sampling noise of each metric.
    const double w_sol = at("1", "solenoidal", "w", "w1"), w_grad = at("1", "gradient", "w", "w1");
    const double base_w = at("1", "solenoidal", "w", "baseline_w1");
    INFO("W1: control " << w_ctrl << ", solenoidal " << w_sol << ", gradient " << w_grad << ", baseline " << base_w);
    CHECK(std::abs(w_sol - w_ctrl) < 0.03);
    CHECK(w_sol < 1.5 * base_w);
    // Gradient: clearly worse than the control and than the fresh-sample floor.
    CHECK(w_grad > w_ctrl + 0.1);
    CHECK(w_grad > 2 * base_w);

    const double tv_sol = at("1", "solenoidal", "tv", "tv"), tv_grad = at("1", "gradient", "tv", "tv");
    INFO("TV: control " << tv_ctrl << ", solenoidal " << tv_sol << ", gradient " << tv_grad);
    CHECK(std::abs(tv_sol - tv_ctrl) < 0.05);
    CHECK(tv_grad > tv_ctrl + 0.1);

    CHECK(at("1", "solenoidal", "mmd", "mmd2") < 0.005);
    CHECK(at("1", "gradient", "mmd", "mmd2") > 0.02);

    // The distance to the circle (samples of p_t at t_min = 1e-4, no Tweedie step): the
    // solenoidal samples are spread around M like the control's (observed +5%).
    CHECK(at("1", "solenoidal", "dist", "mean") == Approx(dist_ctrl).epsilon(0.25));
}
