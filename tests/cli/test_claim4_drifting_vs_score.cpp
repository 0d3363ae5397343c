// Claim 4 (SCIENCE.md section 5), through the shipped pipeline at its smoke size: the Gaussian
// mean-shift drift is exactly tau^2 times the difference of the Gaussian-smoothed scores; the
// Laplace drift is close to a smoothed score difference at low temperature, and in high
// dimension at the matched bandwidth b = sqrt(R tau).
//
// Margins come from the smoke run (data 1000 points on S^2, particles 300 draws of N(0, I_D),
// one seed; figures in docs/experiments.md): Gaussian gap <= 1e-16; Laplace gap (b = tau)
// 0.168 -> 0.027 (D = 8) and 0.069 -> 0.012 (D = 128) from tau = 0.3 to 0.01; matched gap at
// tau = 0.3: 0.29 (D = 8) -> 0.00086 (D = 128).
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <stdexcept>

#include "command.hpp"
#include "csv.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

TEST_CASE("claim 4: Gaussian drift = scaled score difference; Laplace close at low tau and high D") {
    TempDir tmp;
    const fs::path out = tmp.path() / "run";
    const auto r = run_mdlab({"run", (source_dir() / "pipelines" / "claim4_drifting_vs_score.json").string(),
                              "--smoke", "--out", out.string(), "-q"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    for (const char* f : {"pipeline.json", "results.json", "results.csv", "summary.csv", "report.html"})
        CHECK(fs::is_regular_file(out / f));

    const auto rows = parse_csv(read_text(out / "results.csv"));
    auto gap = [&](const std::string& node, const std::string& d, const std::string& tau, const std::string& col) {
        return value_at(rows, {{"data_law.ambient_dim", d}, {"gaussian.tau", tau}, {"node", node}}, col);
    };
    for (const std::string d : {"8", "128"})
        for (const std::string tau : {"0.3", "0.01"}) {
            INFO("D = " << d << ", tau = " << tau);
            // The identity, to rounding.
            CHECK(gap("gaussian", d, tau, "relative_gap") < 1e-10);
            CHECK(gap("gaussian", d, tau, "cosine") > 1 - 1e-10);
            CHECK(gap("gaussian", d, tau, "drift_rms") > 0);
            CHECK(gap("gaussian", d, tau, "n_queries") == 300);
        }
    for (const std::string d : {"8", "128"}) {
        // Laplace at b = tau: a real gap at the data scale, much smaller at low temperature.
        const double hot = gap("laplace", d, "0.3", "relative_gap"), cold = gap("laplace", d, "0.01", "relative_gap");
        INFO("D = " << d << ": Laplace gap " << hot << " at tau = 0.3, " << cold << " at tau = 0.01");
        CHECK(hot > 0.03);
        CHECK(cold < 0.5 * hot);
        CHECK(cold < 0.1);
        CHECK(gap("laplace", d, "0.01", "cosine") > 0.99);
    }
    // Laplace at the matched bandwidth: the gap falls with the dimension.
    const double low = gap("laplace_matched", "8", "0.3", "relative_gap");
    const double high = gap("laplace_matched", "128", "0.3", "relative_gap");
    INFO("matched gap at tau = 0.3: " << low << " (D = 8), " << high << " (D = 128)");
    CHECK(high < 0.25 * low);
    CHECK(high < 0.02);
    CHECK(gap("laplace_matched", "128", "0.01", "relative_gap") < 0.02);
}
