// The transport and kernel metrics (wasserstein, sliced_wasserstein, mmd) and the assignment
// solver behind exact transport (mdlab/kernels/assignment.hpp), checked against brute force over
// permutations, sorted 1-D matching, closed forms for Gaussians and translated copies, and
// direct double-loop computations. The metrics draw their own reference sample from the
// context's stream "reference" (and "baseline", "directions"); the tests reconstruct those
// draws from a TestContext with the same seed and node id.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/assignment.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

using mdlab::Matrix;

namespace {

// N(mean, scale^2 I_D) on R^D: the whole space is the "manifold" (k = D, exact projection).
class TestGaussian : public mdlab::Manifold {
public:
    TestGaussian(std::vector<double> mean, double scale) : mean_(std::move(mean)), scale_(scale) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return mean_.size(); }
    std::size_t intrinsic_dim() const override { return mean_.size(); }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        const std::size_t d = mean_.size();
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t c = 0; c < d; ++c) out[i * d + c] = mean_[c] + scale_ * rng.normal();
    }
    Matrix project(const Matrix& x) const override { return x; }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }

private:
    std::vector<double> mean_;
    double scale_;
};

std::shared_ptr<const mdlab::Manifold> gaussian(std::vector<double> mean, double scale = 1.0) {
    return std::make_shared<TestGaussian>(std::move(mean), scale);
}

double value(const mdlab::Values& v, const std::string& name) {
    for (const auto& [k, x] : v)
        if (k == name) return x;
    FAIL("no value named '" << name << "'");
    return 0.0;
}

std::vector<std::string> names(const mdlab::Values& v) {
    std::vector<std::string> out;
    for (const auto& [k, _] : v) out.push_back(k);
    return out;
}

mdlab::Values evaluate(const std::string& metric, const Matrix& samples, std::shared_ptr<const mdlab::Manifold> m,
                       const std::string& params = "{}", std::uint64_t seed = 3) {
    auto plugin = mdlab::test::make<mdlab::Metric>(metric, params);
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(samples));
    in.set("manifold", std::move(m));
    mdlab::test::TestContext ctx(seed);
    return plugin->evaluate(in, ctx);
}

// The draw a metric makes from its node stream `purpose` (TestContext(seed), node id "test").
Matrix drawn(const mdlab::Manifold& m, std::size_t n, const std::string& purpose, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    return m.sample(n, ctx.stream(purpose));
}

Matrix random_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix m = Matrix::from_shape({n, d});
    for (auto& x : m) x = scale * rng.normal();
    return m;
}

double dist_pow(const Matrix& a, std::size_t i, const Matrix& b, std::size_t j, double p) {
    double s = 0.0;
    for (std::size_t c = 0; c < mdlab::cols(a); ++c) s += (a(i, c) - b(j, c)) * (a(i, c) - b(j, c));
    return std::pow(std::sqrt(s), p);
}

// min over all permutations of sum_i cost[i][sigma(i)].
double brute_assignment(const std::vector<double>& cost, std::size_t n) {
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = INFINITY;
    do {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += cost[i * n + perm[i]];
        best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
    return best;
}

double brute_wasserstein(const Matrix& x, const Matrix& y, double p) {
    const std::size_t n = mdlab::rows(x);
    std::vector<double> cost(n * n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) cost[i * n + j] = dist_pow(x, i, y, j, p);
    return std::pow(brute_assignment(cost, n) / double(n), 1.0 / p);
}

// W_p of two 1-D samples of equal size by the sorted (monotone) matching.
double sorted_wasserstein(std::vector<double> a, std::vector<double> b, double p) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += std::pow(std::abs(a[i] - b[i]), p);
    return std::pow(s / double(a.size()), 1.0 / p);
}

std::vector<double> column(const Matrix& m, std::size_t c = 0) {
    std::vector<double> v(mdlab::rows(m));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = m(i, c);
    return v;
}

// The directions sliced_wasserstein draws (its documented procedure).
Matrix directions(std::size_t L, std::size_t d, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    const auto stream = ctx.stream("directions");
    Matrix u = Matrix::from_shape({L, d});
    for (std::size_t c = 0; c * mdlab::random_chunk_rows < L; ++c) {
        mdlab::Rng rng = stream.chunk(c);
        for (std::size_t l = c * mdlab::random_chunk_rows; l < std::min(L, (c + 1) * mdlab::random_chunk_rows); ++l) {
            double s = 0.0;
            while (!(s > 0.0)) {
                s = 0.0;
                for (std::size_t a = 0; a < d; ++a) {
                    u(l, a) = rng.normal();
                    s += u(l, a) * u(l, a);
                }
            }
            for (std::size_t a = 0; a < d; ++a) u(l, a) /= std::sqrt(s);
        }
    }
    return u;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The assignment solver

TEST_CASE("solve_assignment equals brute force over all permutations", "[assignment]") {
    mdlab::Rng rng(11);
    int checked = 0;
    for (int trial = 0; trial < 600; ++trial) {
        const std::size_t n = 1 + rng.below(8);
        std::vector<double> cost(n * n);
        // A third with many ties (integers 0..3), a third uniform, a third of wide range and sign.
        for (auto& c : cost)
            c = trial % 3 == 0 ? double(rng.below(4)) : trial % 3 == 1 ? rng.uniform() : 1e3 * (rng.uniform() - 0.3);
        const auto a = mdlab::kernels::solve_assignment(cost.data(), n);
        INFO("trial " << trial << " n " << n);
        // A permutation, whose cost is the reported one and the brute-force optimum.
        std::vector<std::size_t> cols = a.col_of_row;
        std::sort(cols.begin(), cols.end());
        for (std::size_t j = 0; j < n; ++j) REQUIRE(cols[j] == j);
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += cost[i * n + a.col_of_row[i]];
        CHECK(a.cost == s);
        CHECK(a.cost == Approx(brute_assignment(cost, n)).margin(1e-9));
        ++checked;
    }
    CHECK(checked == 600);
}

TEST_CASE("solve_assignment: special cases", "[assignment]") {
    // n = 1 and n = 0.
    const double one[1] = {-2.5};
    const auto a1 = mdlab::kernels::solve_assignment(one, 1);
    CHECK(a1.col_of_row == std::vector<std::size_t>{0});
    CHECK(a1.cost == -2.5);
    CHECK(mdlab::kernels::solve_assignment(nullptr, 0).col_of_row.empty());
    // All costs equal: any permutation is optimal.
    std::vector<double> flat(25, 1.0);
    CHECK(mdlab::kernels::solve_assignment(flat.data(), 5).cost == 5.0);
    // Greedy row-by-row choice fails here (row 0 takes column 0 at cost 1, then row 1 pays 100);
    // the optimum is 2 + 3 = 5.
    const std::vector<double> trap = {1, 2, 3, 100};
    const auto t = mdlab::kernels::solve_assignment(trap.data(), 2);
    CHECK(t.cost == 5.0);
    CHECK(t.col_of_row == std::vector<std::size_t>{1, 0});
    // A permuted diagonal of zeros among ones is found exactly.
    const std::size_t n = 40;
    std::vector<double> c(n * n, 1.0);
    for (std::size_t i = 0; i < n; ++i) c[i * n + (7 * i + 3) % n] = 0.0;
    const auto d = mdlab::kernels::solve_assignment(c.data(), n);
    CHECK(d.cost == 0.0);
    for (std::size_t i = 0; i < n; ++i) CHECK(d.col_of_row[i] == (7 * i + 3) % n);
    // Non-finite costs and non-square matrices are refused.
    std::vector<double> bad = {0, 1, INFINITY, 0};
    CHECK_THROWS_WITH(mdlab::kernels::solve_assignment(bad.data(), 2), Catch::Contains("not finite"));
    CHECK_THROWS_WITH(mdlab::kernels::solve_assignment(mdlab::zeros(2, 3)), Catch::Contains("not square"));
}

TEST_CASE("exact W_p of small point sets equals brute force", "[assignment][wasserstein]") {
    for (std::uint64_t seed : {1, 2, 3}) {
        const Matrix x = random_matrix(7, 3, 10 + seed), y = random_matrix(7, 3, 20 + seed, 1.5);
        for (double p : {1.0, 2.0, 3.0}) {
            INFO("seed " << seed << " p " << p);
            CHECK(mdlab::kernels::wasserstein_exact(x, y, p) == Approx(brute_wasserstein(x, y, p)).epsilon(1e-12));
        }
    }
    // W_p(X, X) = 0; the optimal plan of a permuted copy undoes the permutation.
    const Matrix x = random_matrix(30, 2, 5);
    CHECK(mdlab::kernels::wasserstein_exact(x, x, 2.0) == 0.0);
    Matrix y = x;
    for (std::size_t i = 0; i < 30; ++i)
        for (std::size_t c = 0; c < 2; ++c) y(i, c) = x((i * 11) % 30, c);
    const auto t = mdlab::kernels::optimal_transport(y, x, 1.0);
    CHECK(t.w == 0.0);
    for (std::size_t i = 0; i < 30; ++i) CHECK(t.match[i] == (i * 11) % 30);
}

TEST_CASE("exact W_p in one dimension equals the sorted matching", "[assignment][wasserstein]") {
    // On the line the monotone coupling is optimal for every p >= 1.
    const Matrix x = random_matrix(300, 1, 7), y = random_matrix(300, 1, 8, 2.0);
    for (double p : {1.0, 2.0}) {
        INFO("p " << p);
        CHECK(mdlab::kernels::wasserstein_exact(x, y, p) ==
              Approx(sorted_wasserstein(column(x), column(y), p)).epsilon(1e-12));
    }
}

// ---------------------------------------------------------------------------------------------
// wasserstein

TEST_CASE("wasserstein matches brute force on the reconstructed reference", "[wasserstein]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(7, 3, 31, 1.3);
    const auto v = evaluate("wasserstein", y, m);
    CHECK(names(v) == std::vector<std::string>{"w1", "w2", "baseline_w1", "baseline_w2", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 7, "reference"), base = drawn(*m, 7, "baseline");
    CHECK(value(v, "w1") == Approx(brute_wasserstein(y, ref, 1.0)).epsilon(1e-12));
    CHECK(value(v, "w2") == Approx(brute_wasserstein(y, ref, 2.0)).epsilon(1e-12));
    CHECK(value(v, "baseline_w1") == Approx(brute_wasserstein(base, ref, 1.0)).epsilon(1e-12));
    CHECK(value(v, "baseline_w2") == Approx(brute_wasserstein(base, ref, 2.0)).epsilon(1e-12));
    CHECK(value(v, "n_samples") == 7.0);
    // W2 >= W1 (Jensen), for the samples and the baseline.
    CHECK(value(v, "w2") >= value(v, "w1"));
    CHECK(value(v, "baseline_w2") >= value(v, "baseline_w1"));
}

TEST_CASE("wasserstein of a translated copy of the reference is the translation length", "[wasserstein]") {
    // W2(R + c, R)^2 = |c|^2 + W2(centred)^2 = |c|^2, and |c| = |mean difference| <= W1 <= W2:
    // both equal |c| exactly, whatever the reference.
    auto m = gaussian({1.0, -2.0, 0.5, 0.0}, 0.7);
    const std::size_t n = 400;
    Matrix y = drawn(*m, n, "reference");
    const double c[4] = {0.3, -0.1, 0.2, 0.25};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 4; ++a) y(i, a) += c[a];
    const double len = std::sqrt(0.09 + 0.01 + 0.04 + 0.0625);
    const auto v = evaluate("wasserstein", y, m);
    CHECK(value(v, "w1") == Approx(len).epsilon(1e-9));
    CHECK(value(v, "w2") == Approx(len).epsilon(1e-9));
    // The baseline (another fresh sample against the same reference) is the finite-sample floor.
    CHECK(value(v, "baseline_w1") > 0.0);
    CHECK(value(v, "baseline_w2") >= value(v, "baseline_w1"));
}

TEST_CASE("wasserstein is independent of the thread count", "[wasserstein][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(300, 3, 14, 1.2);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("wasserstein", y, m);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("wasserstein", y, m);
    }
    CHECK(one == two);
}

TEST_CASE("wasserstein refuses sizes above max_size and bad samples", "[wasserstein]") {
    auto m = gaussian({0.0, 0.0});
    const Matrix y = random_matrix(11, 2, 4);
    try {
        evaluate("wasserstein", y, m, R"({"max_size": 10})");
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("11 samples") && Catch::Contains("max_size = 10") &&
                            Catch::Contains("sliced_wasserstein") && Catch::Contains("MB") && Catch::Contains(" s "));
        CHECK(e.key() == "samples");
    }
    CHECK_NOTHROW(evaluate("wasserstein", y, m, R"({"max_size": 11})"));
    // Dimension mismatch and non-finite rows name the port.
    try {
        evaluate("wasserstein", random_matrix(5, 3, 1), m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("5 x 3") && Catch::Contains("R^2"));
        CHECK(e.key() == "samples");
    }
    Matrix bad = y;
    bad(4, 1) = NAN;
    CHECK_THROWS_WITH(evaluate("wasserstein", bad, m), Catch::Contains("row 4") && Catch::Contains("samples"));
}

TEST_CASE("wasserstein with a larger reference: exact W1 against r n points, in one dimension", "[wasserstein]") {
    // In one dimension W1 between the uniform laws on n and m points is int |F_Y - F_R|, computed
    // here by sweeping the merged sorted points: an independent check of the r-fold assignment.
    auto m = gaussian({0.5}, 0.8);
    const auto cdf_w1 = [](const Matrix& a, const Matrix& b) {
        std::vector<std::pair<double, int>> pts;
        for (std::size_t i = 0; i < mdlab::rows(a); ++i) pts.emplace_back(a(i, 0), 0);
        for (std::size_t i = 0; i < mdlab::rows(b); ++i) pts.emplace_back(b(i, 0), 1);
        std::sort(pts.begin(), pts.end());
        double fa = 0.0, fb = 0.0, w = 0.0;
        for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
            (pts[i].second == 0 ? fa : fb) += 1.0 / double(pts[i].second == 0 ? mdlab::rows(a) : mdlab::rows(b));
            w += std::abs(fa - fb) * (pts[i + 1].first - pts[i].first);
        }
        return w;
    };
    const Matrix y = random_matrix(60, 1, 41, 1.1);
    const auto v = evaluate("wasserstein", y, m, R"({"reference_factor": 3, "w2": false})");
    CHECK(names(v) == std::vector<std::string>{"w1", "baseline_w1", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 180, "reference"), base = drawn(*m, 60, "baseline");
    CHECK(value(v, "n_reference") == 180.0);
    CHECK(value(v, "w1") == Approx(cdf_w1(y, ref)).epsilon(1e-10));
    CHECK(value(v, "baseline_w1") == Approx(cdf_w1(base, ref)).epsilon(1e-10));
    // samples_used: the first rows only, against 3 x as many reference points.
    const auto part = evaluate("wasserstein", y, m, R"({"reference_factor": 3, "samples_used": 25})");
    Matrix first = Matrix::from_shape({25, 1});
    for (std::size_t i = 0; i < 25; ++i) first(i, 0) = y(i, 0);
    const Matrix ref75 = drawn(*m, 75, "reference");
    CHECK(value(part, "n_samples") == 25.0);
    CHECK(value(part, "w1") == Approx(cdf_w1(first, ref75)).epsilon(1e-10));
    CHECK(value(part, "w2") >= value(part, "w1"));
    // The size solved is r n: refused above max_size, and samples_used beyond the samples.
    CHECK_THROWS_WITH(evaluate("wasserstein", y, m, R"({"reference_factor": 2, "max_size": 100})"),
                      Catch::Contains("reference_factor 2") && Catch::Contains("120 x 120"));
    CHECK_THROWS_WITH(evaluate("wasserstein", y, m, R"({"samples_used": 61})"), Catch::Contains("samples_used = 61"));
}

// ---------------------------------------------------------------------------------------------
// sliced_wasserstein

TEST_CASE("sliced_wasserstein of a translated copy: the direction average of (u.c)^p", "[sliced_wasserstein]") {
    // Y = R + c projects to u.R + u.c: every 1-D transport is the shift, W_p = |u.c|. So
    // SW_2^2 = (1/L) sum_l (u_l.c)^2 exactly for the drawn directions, and for u uniform on
    // S^{D-1}, E (u.c)^2 = |c|^2 / D with Var = |c|^4 2 (D - 1) / (D^2 (D + 2)); in D = 3,
    // u.c / |c| is uniform on [-1, 1], so E |u.c| = |c| / 2 with Var = |c|^2 / 12.
    auto m = gaussian({0.0, 0.0, 0.0}, 2.0);
    const std::size_t n = 500, L = 2000;
    Matrix y = drawn(*m, n, "reference");
    const double c[3] = {1.0, -0.5, 0.7};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 3; ++a) y(i, a) += c[a];
    const double c2 = 1.0 + 0.25 + 0.49;
    const Matrix u = directions(L, 3);
    double s1 = 0.0, s2 = 0.0;
    for (std::size_t l = 0; l < L; ++l) {
        const double uc = u(l, 0) * c[0] + u(l, 1) * c[1] + u(l, 2) * c[2];
        s1 += std::abs(uc);
        s2 += uc * uc;
    }
    const auto v2 = evaluate("sliced_wasserstein", y, m, R"({"directions": 2000, "p": 2})");
    const auto v1 = evaluate("sliced_wasserstein", y, m, R"({"directions": 2000, "p": 1})");
    CHECK(names(v2) == std::vector<std::string>{"sw", "baseline_sw", "n_samples", "n_reference"});
    CHECK(value(v2, "sw") == Approx(std::sqrt(s2 / L)).epsilon(1e-9));
    CHECK(value(v1, "sw") == Approx(s1 / L).epsilon(1e-9));
    // Against the closed forms, within 4 Monte Carlo standard errors over the directions.
    const double se2 = c2 * std::sqrt(2.0 * 2.0 / (9.0 * 5.0) / double(L));
    const double se1 = std::sqrt(c2 / 12.0 / double(L));
    INFO("SW_2^2 " << value(v2, "sw") * value(v2, "sw") << " vs " << c2 / 3 << " (se " << se2 << ")");
    CHECK(std::abs(value(v2, "sw") * value(v2, "sw") - c2 / 3.0) < 4.0 * se2);
    INFO("SW_1 " << value(v1, "sw") << " vs " << std::sqrt(c2) / 2 << " (se " << se1 << ")");
    CHECK(std::abs(value(v1, "sw") - std::sqrt(c2) / 2.0) < 4.0 * se1);
}

TEST_CASE("sliced_wasserstein between two Gaussians: SW_2^2 - baseline = |m1 - m2|^2 / D", "[sliced_wasserstein]") {
    // Y ~ N(m1, I), R ~ N(m2, I) in D = 2, dm = m1 - m2. Per direction u, sorted matching gives
    //   W_2^2(u.Y, u.R) = (u.(ybar - rbar))^2 + W_2^2(centred projections),
    // with E (u.(ybar - rbar))^2 = (u.dm)^2 + 2/n. For the baseline B ~ N(m2, I) against the same
    // R the same holds with dm = 0, and the centred parts have the same law, so
    // E[SW_2^2 - baseline^2] = mean_l (u_l.dm)^2, whose mean over uniform directions is |dm|^2 / D.
    // Standard errors: directions |dm|^2 sqrt(Var cos^2 / L) with Var cos^2 = 1/8 in D = 2; the
    // cross term 2 (u.dm)(u.(ybar - rbar)) averaged over u is about dm.(ybar - rbar), sd
    // |dm| sqrt(2/n). Tolerance: 4 combined standard errors, plus 4/n for the O(1/n) fluctuation
    // of the centred parts.
    const std::vector<double> m1 = {1.2, -0.4}, m2 = {0.0, 0.5};
    auto target = gaussian(m2);
    auto model = gaussian(m1);
    const std::size_t n = 3000, L = 1024;
    const Matrix y = model->sample(n, mdlab::RandomStream(5, "model"));
    const auto v = evaluate("sliced_wasserstein", y, target, R"({"directions": 1024})");
    const double dm2 = 1.2 * 1.2 + 0.9 * 0.9;
    const double sw2 = value(v, "sw") * value(v, "sw"), base2 = value(v, "baseline_sw") * value(v, "baseline_sw");
    const double se = std::sqrt(dm2 * dm2 / 8.0 / double(L) + dm2 * 2.0 / double(n));
    INFO("SW_2^2 " << sw2 << " baseline^2 " << base2 << " expected " << dm2 / 2 << " se " << se);
    CHECK(std::abs(sw2 - base2 - dm2 / 2.0) < 4.0 * se + 4.0 / double(n));
    // The baseline is small: two samples of one law.
    CHECK(base2 < 0.02);
}

TEST_CASE("sliced_wasserstein in one dimension is the exact W_p, also for unequal sizes", "[sliced_wasserstein]") {
    // In D = 1 every direction is +-1 and W_p is invariant under the reflection.
    auto m = gaussian({0.3}, 1.5);
    const Matrix y = random_matrix(40, 1, 9);
    const Matrix ref = drawn(*m, 40, "reference");
    for (int p : {1, 2}) {
        INFO("p " << p);
        const auto v = evaluate("sliced_wasserstein", y, m, "{\"directions\": 5, \"p\": " + std::to_string(p) + "}");
        CHECK(value(v, "sw") == Approx(sorted_wasserstein(column(y), column(ref), p)).epsilon(1e-12));
        CHECK(value(v, "sw") == Approx(mdlab::kernels::wasserstein_exact(y, ref, p)).epsilon(1e-12));
    }
    // 40 samples against 60 reference points: the quantile coupling equals the exact transport
    // between the two laws written with 120 atoms of mass 1/120 (each sample repeated 3 times,
    // each reference point twice), solved by the assignment solver.
    const Matrix ref60 = drawn(*m, 60, "reference");
    Matrix ye = Matrix::from_shape({120, 1}), re = Matrix::from_shape({120, 1});
    for (std::size_t i = 0; i < 120; ++i) {
        ye(i, 0) = y(i / 3, 0);
        re(i, 0) = ref60(i / 2, 0);
    }
    for (int p : {1, 2}) {
        INFO("p " << p);
        const auto v = evaluate("sliced_wasserstein", y, m,
                                "{\"directions\": 3, \"reference_size\": 60, \"p\": " + std::to_string(p) + "}");
        CHECK(value(v, "sw") == Approx(mdlab::kernels::wasserstein_exact(ye, re, p)).epsilon(1e-12));
        CHECK(value(v, "n_reference") == 60.0);
        CHECK(value(v, "n_samples") == 40.0);
    }
}

TEST_CASE("sliced_wasserstein is independent of the thread count and checks its input", "[sliced_wasserstein][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0, 0.0});
    const Matrix y = random_matrix(700, 4, 3, 1.2);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("sliced_wasserstein", y, m, R"({"directions": 300, "reference_size": 900})");
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("sliced_wasserstein", y, m, R"({"directions": 300, "reference_size": 900})");
    }
    CHECK(one == two);
    CHECK_THROWS_AS(evaluate("sliced_wasserstein", random_matrix(5, 3, 1), m), mdlab::InputError);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("sliced_wasserstein", R"({"p": 3})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("sliced_wasserstein", R"({"directions": 0})"));
}

// ---------------------------------------------------------------------------------------------
// mmd

namespace {

double direct_mmd2(const Matrix& x, const Matrix& y, double h) {
    const auto k = [&](const Matrix& a, std::size_t i, const Matrix& b, std::size_t j) {
        return std::exp(-dist_pow(a, i, b, j, 2.0) / (2.0 * h * h));
    };
    const double m = double(mdlab::rows(x)), n = double(mdlab::rows(y));
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t j = 0; j < mdlab::rows(x); ++j)
            if (i != j) sxx += k(x, i, x, j);
    for (std::size_t i = 0; i < mdlab::rows(y); ++i)
        for (std::size_t j = 0; j < mdlab::rows(y); ++j)
            if (i != j) syy += k(y, i, y, j);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t j = 0; j < mdlab::rows(y); ++j) sxy += k(x, i, y, j);
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * sxy / (m * n);
}

// Median of the pairwise distances among the given rows of the pooled matrix [x; y].
double direct_median(const Matrix& x, const Matrix& y, const std::vector<std::size_t>& rows) {
    Matrix pooled = Matrix::from_shape({mdlab::rows(x) + mdlab::rows(y), mdlab::cols(x)});
    for (std::size_t i = 0; i < mdlab::rows(x); ++i)
        for (std::size_t c = 0; c < mdlab::cols(x); ++c) pooled(i, c) = x(i, c);
    for (std::size_t i = 0; i < mdlab::rows(y); ++i)
        for (std::size_t c = 0; c < mdlab::cols(x); ++c) pooled(mdlab::rows(x) + i, c) = y(i, c);
    std::vector<double> d;
    for (std::size_t a = 0; a < rows.size(); ++a)
        for (std::size_t b = a + 1; b < rows.size(); ++b) d.push_back(dist_pow(pooled, rows[a], pooled, rows[b], 1.0));
    std::sort(d.begin(), d.end());
    const std::size_t n = d.size();
    return n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
}

}  // namespace

TEST_CASE("mmd equals a direct double-loop computation, median heuristic included", "[mmd]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(150, 3, 41, 1.4);
    const auto v = evaluate("mmd", y, m, R"({"reference_size": 120})");
    CHECK(names(v) == std::vector<std::string>{"mmd2", "baseline_mmd2", "bandwidth", "n_samples", "n_reference"});
    const Matrix ref = drawn(*m, 120, "reference"), base = drawn(*m, 150, "baseline");
    std::vector<std::size_t> all(270);
    std::iota(all.begin(), all.end(), 0);
    const double h = direct_median(y, ref, all);
    CHECK(value(v, "bandwidth") == h);  // the same set of distances, the same median
    const double expected = direct_mmd2(y, ref, h);
    INFO("mmd2 " << value(v, "mmd2") << " direct " << expected);
    CHECK(expected > 0.01);  // scale 1.4 vs 1: clearly different laws
    CHECK(value(v, "mmd2") == Approx(expected).epsilon(1e-12));
    // The baseline uses the same kernel; it scatters around 0, so compare on the kernel's scale.
    CHECK(value(v, "baseline_mmd2") == Approx(direct_mmd2(base, ref, h)).margin(1e-13));
    // A fixed bandwidth.
    const auto f = evaluate("mmd", y, m, R"({"reference_size": 120, "bandwidth": 0.7})");
    CHECK(value(f, "bandwidth") == 0.7);
    CHECK(value(f, "mmd2") == Approx(direct_mmd2(y, ref, 0.7)).epsilon(1e-12));
    // The median over a fixed subset of the pooled rows: floor(s * 270 / 50), s = 0..49.
    std::vector<std::size_t> subset;
    for (std::size_t s = 0; s < 50; ++s) subset.push_back(s * 270 / 50);
    const auto sub = evaluate("mmd", y, m, R"({"reference_size": 120, "median_points": 50})");
    CHECK(value(sub, "bandwidth") == direct_median(y, ref, subset));
    CHECK(value(sub, "bandwidth") != h);
}

TEST_CASE("mmd is unbiased: zero on average for one law, positive for shifted laws", "[mmd]") {
    // R independent runs (another seed: another reference and baseline), samples of size 100.
    // Same law: the mean of the U-statistic is within 3 standard errors of 0 (as is the
    // baseline's). Shifted by 0.5 in one coordinate: the mean is many standard errors above 0.
    auto m = gaussian({0.0, 0.0});
    auto shifted = gaussian({0.5, 0.0});
    const int R = 120;
    std::vector<double> same, base, shift;
    for (int r = 0; r < R; ++r) {
        const Matrix y0 = m->sample(100, mdlab::RandomStream(1000 + r, "model"));
        const Matrix y1 = shifted->sample(100, mdlab::RandomStream(1000 + r, "model"));
        const auto v0 = evaluate("mmd", y0, m, "{}", 100 + r);
        same.push_back(value(v0, "mmd2"));
        base.push_back(value(v0, "baseline_mmd2"));
        shift.push_back(value(evaluate("mmd", y1, m, "{}", 100 + r), "mmd2"));
    }
    const auto mean_se = [](const std::vector<double>& v) {
        double s = 0.0, s2 = 0.0;
        for (double x : v) s += x;
        const double mean = s / double(v.size());
        for (double x : v) s2 += (x - mean) * (x - mean);
        return std::make_pair(mean, std::sqrt(s2 / double(v.size() - 1) / double(v.size())));
    };
    const auto [m0, se0] = mean_se(same);
    const auto [mb, seb] = mean_se(base);
    const auto [m1, se1] = mean_se(shift);
    INFO("same law " << m0 << " +- " << se0 << ", baseline " << mb << " +- " << seb << ", shifted " << m1 << " +- "
                     << se1);
    CHECK(std::abs(m0) < 3.0 * se0);
    CHECK(std::abs(mb) < 3.0 * seb);
    CHECK(m1 > 10.0 * se1);
    CHECK(m1 > 10.0 * se0);
    // Some same-law values are negative: the unbiased statistic is not clipped at 0.
    CHECK(*std::min_element(same.begin(), same.end()) < 0.0);
}

TEST_CASE("mmd is independent of the thread count and checks its input", "[mmd][threads]") {
    auto m = gaussian({0.0, 0.0, 0.0});
    const Matrix y = random_matrix(900, 3, 12, 1.1);
    mdlab::Values one, two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("mmd", y, m);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("mmd", y, m);
    }
    CHECK(one == two);
    CHECK_THROWS_AS(evaluate("mmd", random_matrix(1, 3, 1), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("mmd", random_matrix(4, 2, 1), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("mmd", y, m, R"({"reference_size": 1})"), mdlab::InputError);
    // All samples and reference points at one place: no median bandwidth.
    auto point = gaussian({1.0, 1.0, 1.0}, 0.0);
    CHECK_THROWS_WITH(evaluate("mmd", Matrix(mdlab::zeros(5, 3) + 1.0), point), Catch::Contains("bandwidth"));
}
