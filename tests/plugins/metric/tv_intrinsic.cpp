// The tv_intrinsic metric against binned laws integrated numerically and the two-sample baseline.
#include <algorithm>
#include <functional>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/knn_divergence.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "density_metric_checks.hpp"

// ---------------------------------------------------------------------------------------------
// tv_intrinsic

namespace {

// Expected TV between the histograms of two independent n-samples of one law spread over `cells`
// equally likely cells: each cell's difference is about N(0, 2 p (1 - p) / n), p = 1 / cells, so
// E TV = 1/2 cells sqrt(2/pi) sqrt(2 p (1 - p) / n) = sqrt((cells - 1) / (pi n)), with sd about
// sqrt((1 - 2/pi) / (2 n)) (independent cells; the reference is shared between tv and the
// baseline, which correlates them, not their means).
double null_tv(double cells, double n) { return std::sqrt((cells - 1.0) / (pi * n)); }
double null_tv_sd(double n) { return std::sqrt((1.0 - 2.0 / pi) / (2.0 * n)); }

}  // namespace

TEST_CASE("tv_intrinsic: two samples of one law sit at the baseline", "[tv_intrinsic]") {
    // Circle (k = 1, 32 bins) and flat torus (k = 2, 8 x 8 cells), uniform laws: both tv and
    // baseline_tv are near the expected null TV.
    struct Case {
        std::string manifold, params, metric;
        double cells;
    };
    const std::vector<Case> cases = {{"circle", R"({"ambient_dim": 3})", "{}", 32.0},
                                     {"torus", R"({"ambient_dim": 5, "variant": "flat"})", R"({"bins": 8})", 64.0}};
    for (const auto& c : cases) {
        auto m = plugin(c.manifold, c.params);
        const std::size_t n = 5000;
        const Matrix y = m->sample(n, mdlab::RandomStream(12, "model"));
        const auto v = evaluate("tv_intrinsic", y, m, c.metric);
        const double expect = null_tv(c.cells, double(n)), sd = null_tv_sd(double(n));
        INFO(c.manifold << ": tv " << value(v, "tv") << " baseline " << value(v, "baseline_tv") << " expected "
                        << expect << " sd " << sd);
        CHECK(std::abs(value(v, "tv") - expect) < 4.0 * sd);
        CHECK(std::abs(value(v, "baseline_tv") - expect) < 4.0 * sd);
        // Beyond the reference's extremes: per coordinate and end a geometric count of mean 1
        // (the samples falling in an Exp-distributed gap), so about 2 k / n in all.
        CHECK(value(v, "outside") < 0.01);
    }
}

TEST_CASE("tv_intrinsic: von Mises samples against the uniform circle", "[tv_intrinsic]") {
    // Samples from the von Mises density (kappa = 2, mode at theta = pi), mu_data uniform. The
    // exact TV of the binned laws, over the box [lo, hi] spanned by the reconstructed reference's
    // angles (edge bins extended to 0 and 2 pi), is integrated numerically; the histogram estimate
    // lies within 4 sd below it and at most the null TV + 4 sd above it (sampling noise only adds
    // in cells where the two laws are close). The binned TV is itself close to the continuous
    // TV = 1/2 int |p - 1/(2 pi)| (binning only loses mass in cells where p - q changes sign).
    const double kappa = 2.0, mode = pi;
    auto uniform = plugin("circle", R"({"ambient_dim": 2})");
    auto vm = plugin("circle", R"({"ambient_dim": 2, "density": "von_mises", "kappa": 2.0})");
    const std::size_t n = 20000, bins = 32;
    const Matrix y = vm->sample(n, mdlab::RandomStream(13, "model"));
    const auto v = evaluate("tv_intrinsic", y, uniform);

    const Matrix angles = uniform->intrinsic_coords(drawn(*uniform, n, "reference"));
    double lo = angles(0, 0), hi = angles(0, 0);
    for (std::size_t i = 0; i < n; ++i) lo = std::min(lo, angles(i, 0)), hi = std::max(hi, angles(i, 0));
    const double norm = 2.0 * pi * std::cyl_bessel_i(0.0, kappa);
    const auto p = [&](double t) { return std::exp(kappa * std::cos(t - mode)) / norm; };
    const auto integral = [&](auto f, double a, double b) {  // composite Simpson, 2000 panels
        const int m = 2000;
        const double h = (b - a) / m;
        double s = f(a) + f(b);
        for (int i = 1; i < m; ++i) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
        return s * h / 3.0;
    };
    double binned = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
        const double a = b == 0 ? 0.0 : lo + (hi - lo) * double(b) / bins;
        const double e = b + 1 == bins ? 2.0 * pi : lo + (hi - lo) * double(b + 1) / bins;
        binned += std::abs(integral(p, a, e) - (e - a) / (2.0 * pi));
    }
    binned *= 0.5;
    const double continuous = 0.5 * integral([&](double t) { return std::abs(p(t) - 1.0 / (2.0 * pi)); }, 0.0, 2.0 * pi);
    const double sd = std::sqrt(0.5 / double(n)), floor = null_tv(double(bins), double(n));
    INFO("tv " << value(v, "tv") << " binned exact " << binned << " continuous " << continuous << " sd " << sd
               << " null " << floor << " baseline " << value(v, "baseline_tv"));
    CHECK(binned <= continuous + 1e-9);
    CHECK(binned > continuous - 0.01);
    CHECK(value(v, "tv") > binned - 4.0 * sd);
    CHECK(value(v, "tv") < binned + floor + 4.0 * sd);
    CHECK(value(v, "baseline_tv") < floor + 4.0 * null_tv_sd(double(n)));
}

TEST_CASE("tv_intrinsic: outliers go to the edge bins; dimensions and bins are checked", "[tv_intrinsic]") {
    // On R^1 (TestGaussian), samples far beyond the reference's range all land in the last bin:
    // TV = 1 - q_last, q_last the reference's share of the last bin, and outside = 1.
    std::shared_ptr<const mdlab::Manifold> g1 = std::make_shared<TestGaussian>(1);
    const Matrix far = Matrix(mdlab::zeros(200, 1) + 100.0);
    const auto v = evaluate("tv_intrinsic", far, g1, R"({"bins": 10})");
    const Matrix ref = drawn(*g1, 200, "reference");
    double lo = ref(0, 0), hi = ref(0, 0);
    for (std::size_t i = 0; i < 200; ++i) lo = std::min(lo, ref(i, 0)), hi = std::max(hi, ref(i, 0));
    std::size_t last = 0;
    for (std::size_t i = 0; i < 200; ++i) last += ref(i, 0) >= lo + (hi - lo) * 0.9;
    CHECK(value(v, "outside") == 1.0);
    CHECK(value(v, "tv") == Approx(1.0 - double(last) / 200.0).epsilon(1e-12));
    CHECK(value(v, "baseline_outside") < 0.05);
    // k = 4 is refused (bins^k cells), as are too many cells and bad samples.
    std::shared_ptr<const mdlab::Manifold> g4 = std::make_shared<TestGaussian>(4);
    try {
        evaluate("tv_intrinsic", drawn(*g4, 50, "x"), g4);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("intrinsic dimension 4") && Catch::Contains("bins^k"));
        CHECK(e.key() == "manifold");
    }
    std::shared_ptr<const mdlab::Manifold> g3 = std::make_shared<TestGaussian>(3);
    CHECK_NOTHROW(evaluate("tv_intrinsic", drawn(*g3, 50, "x"), g3, R"({"bins": 4})"));
    CHECK_THROWS_AS(evaluate("tv_intrinsic", drawn(*g3, 50, "x"), g3, R"({"bins": 1000})"), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("tv_intrinsic", Matrix(mdlab::zeros(5, 2)), g1), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("tv_intrinsic", Matrix(mdlab::zeros(0, 1)), g1), mdlab::InputError);
}

TEST_CASE("tv_intrinsic: a quadrature reference gives the exact bin masses", "[tv_intrinsic]") {
    // linear_subspace's fourier law on [-1/2, 1/2] (k = 1, 8 modes: smooth at the scale of a
    // quadrature cell), whose distribution function is closed form:
    // F(u) = u + a sum_m c_m (sin(2 pi m u + phi_m) - sin phi_m) / (2 pi m), u = z + 1/2.
    const double a = 0.7, s = 2.0;
    const int modes = 8;
    const auto cdf = [&](double u) {
        double total = 0.0, v = u;
        for (int m = 1; m <= modes; ++m) total += std::pow(m, -(s + 0.5));
        for (int m = 1; m <= modes; ++m) {
            const double g = double(m) * m * (std::sqrt(5.0) - 1.0) / 2.0, phase = 2.0 * pi * (g - std::floor(g));
            v += a * std::pow(m, -(s + 0.5)) / total * (std::sin(2.0 * pi * m * u + phase) - std::sin(phase)) / (2.0 * pi * m);
        }
        return v;
    };
    auto law = plugin("linear_subspace",
                      R"({"k": 1, "ambient_dim": 3, "law": "fourier", "scale": 0.5, "smoothness": 2, "modes": 8, "amplitude": 0.7})");
    const std::size_t bins = 16;
    const std::string quad = R"("bins": 16, "reference": "quadrature", "quadrature_resolution": 1024)";
    // Every sample at z = 0.1 (bin 9 of 16 over [-1/2, 1/2]): TV = 1 - P(bin 9), exactly.
    Matrix one = drawn(*law, 1, "any");
    const Matrix point = law->project(Matrix(mdlab::zeros(1, 3)));  // the origin, z = 0
    const Matrix dir = law->project(one);
    const double z1 = law->intrinsic_coords(dir)(0, 0);
    Matrix at = Matrix::from_shape({200, 3});
    for (std::size_t i = 0; i < 200; ++i)
        for (std::size_t c = 0; c < 3; ++c) at(i, c) = point(0, c) + (dir(0, c) - point(0, c)) * 0.1 / z1;
    const double p9 = cdf(10.0 / 16.0) - cdf(9.0 / 16.0);
    for (const std::string& range : {std::string(R"(, "range": [-0.5, 0.5])"), std::string()}) {
        const auto v = evaluate("tv_intrinsic", at, law, "{" + quad + range + "}");
        INFO("range '" << range << "': tv " << value(v, "tv") << ", expected " << 1.0 - p9);
        CHECK(std::abs(value(v, "tv") - (1.0 - p9)) < 1e-6);
        CHECK(value(v, "outside") == 0.0);
        CHECK(value(v, "n_reference") == 0.0);
    }
    // Samples of the law itself: the TV is the multinomial floor of the samples alone,
    // E TV = 1/2 sum_b E|p_b_hat - p_b| ~ 1/2 sum_b sqrt(2 p_b (1 - p_b) / (pi n)).
    const std::size_t n = 20000;
    const Matrix y = law->sample(n, mdlab::RandomStream(21, "model"));
    const auto v = evaluate("tv_intrinsic", y, law, "{" + quad + R"(, "range": [-0.5, 0.5]})");
    double expect = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
        const double p = cdf(double(b + 1) / bins) - cdf(double(b) / bins);
        expect += 0.5 * std::sqrt(2.0 * p * (1.0 - p) / (pi * double(n)));
    }
    INFO("tv " << value(v, "tv") << " baseline " << value(v, "baseline_tv") << " expected " << expect);
    CHECK(std::abs(value(v, "tv") - expect) < 4.0 * null_tv_sd(double(n)));
    CHECK(std::abs(value(v, "baseline_tv") - expect) < 4.0 * null_tv_sd(double(n)));
    // A bad range names the key.
    CHECK_THROWS_WITH(evaluate("tv_intrinsic", y, law, R"({"range": [0.5, -0.5]})"), Catch::Contains("range"));
    CHECK_THROWS_WITH(evaluate("tv_intrinsic", y, law, R"({"range": [0.5]})"), Catch::Contains("lo < hi"));
}
