// The density_coverage metric (Naeem et al. 2020): equal to a brute-force transcription on small
// sets (exactly); for one law its exact expectations E[density] = 1 and
// E[coverage] = 1 - prod_{j=1..k} (N - j) / (M + N - j), whatever the law and dimension; 0 for
// disjoint laws; decreasing in a shift.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "error_key.hpp"
#include "knn_ball_checks.hpp"

namespace {

// density and coverage transcribed from the paper: open k-NN balls of the data.
std::pair<double, double> brute_density_coverage(const Matrix& y, const Matrix& x, std::size_t k) {
    const std::vector<double> rx = brute_radii(x, k);
    double held = 0.0, covered = 0.0;
    for (std::size_t j = 0; j < mdlab::rows(y); ++j) held += double(balls_holding(y, j, x, rx, false));
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        bool any = false;
        for (std::size_t j = 0; j < mdlab::rows(y); ++j) any = any || distance(x, i, y, j) < rx[i];
        covered += any;
    }
    return {held / (double(k) * double(mdlab::rows(y))), covered / double(mdlab::rows(x))};
}

// E[coverage] for samples of the data's own law (Naeem et al. 2020, section 3).
double expected_coverage(double n, double m, std::size_t k) {
    double none = 1.0;
    for (std::size_t j = 1; j <= k; ++j) none *= (n - double(j)) / (m + n - double(j));
    return 1.0 - none;
}

}  // namespace

TEST_CASE("density_coverage equals a brute-force transcription on small sets", "[density_coverage]") {
    check_small_sets("density_coverage", {"density", "coverage"}, brute_density_coverage);
}

TEST_CASE("density_coverage for one law: E[density] = 1, E[coverage] = 1 - prod (N - j) / (M + N - j)",
          "[density_coverage]") {
    // Replicates (another seed: another reference, samples and baseline) in D = 2 and D = 8, with
    // M = N and M = N / 2: the means within 4 standard errors of the exact expectations.
    for (std::size_t d : {2, 8}) {
        for (std::size_t m : {300, 150}) {
            auto law = gaussian(std::vector<double>(d, 0.0));
            std::vector<double> den, cov, bden, bcov;
            for (int r = 0; r < 40; ++r) {
                const Matrix y = law->sample(m, mdlab::RandomStream(500 + r, "model"));
                const auto v = evaluate("density_coverage", y, law, R"({"reference_size": 300})", 50 + r);
                den.push_back(value(v, "density"));
                cov.push_back(value(v, "coverage"));
                bden.push_back(value(v, "baseline_density"));
                bcov.push_back(value(v, "baseline_coverage"));
            }
            const double want = expected_coverage(300.0, double(m), 5);
            for (const auto& [name, figures, expected] :
                 {std::tuple{"density", den, 1.0}, std::tuple{"coverage", cov, want},
                  std::tuple{"baseline_density", bden, 1.0}, std::tuple{"baseline_coverage", bcov, want}}) {
                const auto [mean, se] = mean_and_error(figures);
                INFO("D = " << d << ", M = " << m << ", N = 300: " << name << " " << mean << " +- " << se
                            << ", expected " << expected);
                CHECK(std::abs(mean - expected) < 4.0 * se);
            }
            WARN("one law, D = " << d << ", M = " << m << ", N = 300, k = 5, 40 replicates: density "
                 << mean_and_error(den).first << " (exact 1), coverage " << mean_and_error(cov).first << " (exact "
                 << want << ")");
        }
    }
}

TEST_CASE("density_coverage on Gaussians: disjoint laws, a growing shift", "[density_coverage]") {
    auto m = gaussian({0.0, 0.0});
    const Matrix base = m->sample(800, mdlab::RandomStream(8, "model"));
    check_falls_with_shift("density_coverage", {"density", "coverage"}, base, m, {0.0, 1.0, 2.0, 4.0, 8.0});
}

TEST_CASE("density_coverage refuses bad parameters and inputs", "[density_coverage]") {
    using mdlab::test::error_key;
    auto m = gaussian({0.0, 0.0});
    const Matrix y = random_matrix(10, 2, 1);
    CHECK(error_key([] { mdlab::test::make<mdlab::Metric>("density_coverage", R"({"k": 0})"); }) == "k");
    CHECK(error_key([&] { evaluate("density_coverage", y, m, R"({"reference_size": 5})"); }) == "reference_size");
    CHECK(error_key([&] { with_reference("density_coverage", y, random_matrix(5, 2, 2)); }) == "reference");
    CHECK(error_key([&] { with_reference("density_coverage", random_matrix(4, 3, 1), y); }) == "samples");
    // One sample is enough: only the data's balls are used.
    CHECK(error_key([&] { evaluate("density_coverage", random_matrix(1, 2, 1), m, R"({"reference_size": 50})"); }) ==
          "<none>");
}
