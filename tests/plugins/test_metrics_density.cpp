// The density metrics on the manifold (knn_kl, tv_intrinsic) and the generalization metric,
// checked against closed forms: KL between Gaussians and between a von Mises law and the uniform
// law on the circle, the TV of binned laws integrated numerically, the expected TV of two samples
// of one law, and hand-made configurations for the near / novel tests; coverage against the
// resolution of equispaced points and of a two-level density ratio computed by hand. The metrics
// draw their own reference ("reference"), baseline ("baseline") and fresh ("fresh") samples from
// the context's streams; the tests reconstruct them from a TestContext with the same seed and
// node id.
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

using mdlab::Matrix;

namespace {

constexpr double pi = 3.14159265358979323846;

// N(0, I_D) on R^D (k = D, exact projection).
class TestGaussian : public mdlab::Manifold {
public:
    explicit TestGaussian(std::size_t d) : d_(d) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return d_; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        for (std::size_t k = 0; k < count * d_; ++k) out[k] = rng.normal();
    }
    Matrix project(const Matrix& x) const override { return x; }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }

private:
    std::size_t d_;
};

using mdlab::test::TestCircle;

// mu_data = the point mass at the origin of R^2; "projection" onto it maps everything there.
class TestAtom : public mdlab::Manifold {
public:
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return 2; }
    std::size_t intrinsic_dim() const override { return 2; }
    void sample_rows(mdlab::Rng&, double* out, std::size_t count) const override {
        for (std::size_t k = 0; k < 2 * count; ++k) out[k] = 0.0;
    }
    Matrix project(const Matrix& x) const override { return mdlab::zeros(mdlab::rows(x), 2); }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }
};

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
                       const std::string& params = "{}", std::uint64_t seed = 3, const Matrix* data = nullptr) {
    auto plugin = mdlab::test::make<mdlab::Metric>(metric, params);
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(samples));
    in.set("manifold", std::move(m));
    if (data) in.set("data", std::make_shared<const Matrix>(*data));
    mdlab::test::TestContext ctx(seed);
    return plugin->evaluate(in, ctx);
}

Matrix drawn(const mdlab::Manifold& m, std::size_t n, const std::string& purpose, std::uint64_t seed = 3) {
    mdlab::test::TestContext ctx(seed);
    return m.sample(n, ctx.stream(purpose));
}

// A manifold plugin, prepared with a fixed context: equal parameters give the same embedding.
std::shared_ptr<const mdlab::Manifold> plugin(const std::string& name, const std::string& params) {
    auto m = mdlab::test::make<mdlab::Manifold>(name, params);
    mdlab::test::TestContext ctx(9, "manifold");
    m->prepare(ctx);
    return m;
}

// psi'(k), the variance of log Gamma(k, 1): pi^2 / 6 - sum_{j < k} 1 / j^2.
double trigamma(std::size_t k) {
    double s = pi * pi / 6.0;
    for (std::size_t j = 1; j < k; ++j) s -= 1.0 / double(j * j);
    return s;
}

double variance(const std::vector<double>& v) {
    double s = 0.0, s2 = 0.0;
    for (double x : v) s += x;
    const double mean = s / double(v.size());
    for (double x : v) s2 += (x - mean) * (x - mean);
    return s2 / double(v.size() - 1);
}

// The standard deviation of the k-NN KL estimate with n points of P: d log rho_k and d log nu_k
// each add the variance psi'(k) of log Gamma(k, 1) (the Poisson limit of the k-th neighbour
// ball's mass), the sum over points adds Var_P log(p/q); the neighbour sets of near-by points
// overlap, which measured over 40 repetitions (n = 4000, k = 5) inflated the sd by up to 20%:
// hence the factor 1.25.
double knn_kl_sd(double var_log_ratio, std::size_t n, std::size_t k) {
    return 1.25 * std::sqrt((var_log_ratio + 2.0 * trigamma(k)) / double(n));
}

// Measured bias of the estimator at n = m = 4000, k = 5 (40 repetitions): +0.007 +- 0.002 in
// 1-D and -0.002 +- 0.003 in 2-D for the Gaussians below, -0.003 +- 0.002 for one law: we
// allow 0.01 beside the standard errors.
constexpr double knn_kl_bias = 0.01;

}  // namespace

// ---------------------------------------------------------------------------------------------
// knn_kl

TEST_CASE("knn_kl_divergence recovers KL between Gaussians", "[knn_kl]") {
    // KL(N(m1, S1) || N(m2, S2)) = 1/2 [tr(S2^-1 S1) + (m2 - m1)^T S2^-1 (m2 - m1) - d + ln(det S2 / det S1)].
    // 1-D: P = N(0.5, 0.8^2), Q = N(0, 1). 2-D: P = N((0.5, -0.3), S1), x = (0.5 + 0.7 a,
    // -0.3 + 0.6 a + 0.9 b) with a, b ~ N(0, 1): S1 = [[0.49, 0.42], [0.42, 1.17]]; Q = N(0, I).
    // R = 6 repetitions of n = m = 4000, k = 5; the mean must be within 4 standard errors
    // (knn_kl_sd / sqrt(R)) plus the bias allowance of the closed form.
    const std::size_t n = 4000, k = 5;
    const int R = 6;
    for (std::size_t dim : {1, 2}) {
        const double exact =
            dim == 1 ? 0.5 * (0.64 + 0.25 - 1.0 + std::log(1.0 / 0.64))
                     : 0.5 * (0.49 + 1.17 + 0.25 + 0.09 - 2.0 - std::log(0.49 * 1.17 - 0.42 * 0.42));
        double sum = 0.0, var_lr = 0.0;
        for (int r = 0; r < R; ++r) {
            mdlab::Rng rng(100 + r);
            Matrix x = Matrix::from_shape({n, dim}), y = Matrix::from_shape({n, dim});
            std::vector<double> log_ratio(n);
            for (std::size_t i = 0; i < n; ++i) {
                if (dim == 1) {
                    const double a = rng.normal();
                    x(i, 0) = 0.5 + 0.8 * a;
                    y(i, 0) = rng.normal();
                    // log p(x) - log q(x) = -ln 0.8 - a^2 / 2 + x^2 / 2
                    log_ratio[i] = -std::log(0.8) - 0.5 * a * a + 0.5 * x(i, 0) * x(i, 0);
                } else {
                    const double a = rng.normal(), b = rng.normal();
                    x(i, 0) = 0.5 + 0.7 * a;
                    x(i, 1) = -0.3 + 0.6 * a + 0.9 * b;
                    y(i, 0) = rng.normal();
                    y(i, 1) = rng.normal();
                    // p is the push-forward of N(0, I_2) by a map of determinant 0.63.
                    log_ratio[i] = -std::log(0.63) - 0.5 * (a * a + b * b) +
                                   0.5 * (x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1));
                }
            }
            sum += mdlab::kernels::knn_kl_divergence(x, y, k, dim);
            var_lr += variance(log_ratio) / R;
        }
        const double mean = sum / R, se = knn_kl_sd(var_lr, n, k) / std::sqrt(double(R));
        INFO("d = " << dim << ": mean " << mean << " exact " << exact << " se " << se);
        CHECK(std::abs(mean - exact) < 4.0 * se + knn_kl_bias);
    }
}

TEST_CASE("knn_kl_divergence: scale invariance, sample-size term and refusals", "[knn_kl]") {
    // The estimate depends on distances only through ratios (and on m, n through log(m / (n-1))).
    mdlab::Rng rng(3);
    Matrix x = Matrix::from_shape({300, 2}), y = Matrix::from_shape({500, 2});
    for (auto& v : x) v = rng.normal();
    for (auto& v : y) v = 1.3 * rng.normal();
    const double a = mdlab::kernels::knn_kl_divergence(x, y, 3, 2);
    CHECK(mdlab::kernels::knn_kl_divergence(Matrix(x * 7.0), Matrix(y * 7.0), 3, 2) == Approx(a).epsilon(1e-12));
    // A direct computation from brute-force neighbour distances.
    double s = 0.0;
    for (std::size_t i = 0; i < 300; ++i) {
        std::vector<double> own, other;
        for (std::size_t j = 0; j < 300; ++j)
            if (j != i) own.push_back(std::hypot(x(i, 0) - x(j, 0), x(i, 1) - x(j, 1)));
        for (std::size_t j = 0; j < 500; ++j) other.push_back(std::hypot(x(i, 0) - y(j, 0), x(i, 1) - y(j, 1)));
        std::nth_element(own.begin(), own.begin() + 2, own.end());
        std::nth_element(other.begin(), other.begin() + 2, other.end());
        s += std::log(other[2] / own[2]);
    }
    CHECK(a == Approx(2.0 * s / 300.0 + std::log(500.0 / 299.0)).epsilon(1e-12));
    // Six copies of one point of P (an atom): rho_3 = 0 there and KL(P || Q) = +inf; with
    // k = 6 the k-th neighbour of the copies is another point and the estimate is finite.
    Matrix dup = x;
    for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t c = 0; c < 2; ++c) dup(i, c) = x(0, c);
    CHECK(std::isinf(mdlab::kernels::knn_kl_divergence(dup, y, 3, 2)));
    CHECK(mdlab::kernels::knn_kl_divergence(dup, y, 3, 2) > 0.0);
    CHECK(std::isfinite(mdlab::kernels::knn_kl_divergence(dup, y, 6, 2)));
    // A point of P on k copies in Q: Q has atoms, no density: refused.
    Matrix qdup = y;
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t c = 0; c < 2; ++c) qdup(i, c) = x(5, c);
    CHECK_THROWS_WITH(mdlab::kernels::knn_kl_divergence(x, qdup, 3, 2), Catch::Contains("nu_k = 0"));
    CHECK_THROWS(mdlab::kernels::knn_kl_divergence(x, y, 0, 2));
    CHECK_THROWS(mdlab::kernels::knn_kl_divergence(Matrix(mdlab::zeros(3, 2)), y, 3, 2));
}

TEST_CASE("knn_kl end to end on a linear subspace: shifted and scaled Gaussian", "[knn_kl]") {
    // mu_data = N(0, I_2) on a random 2-plane of R^5. Samples s x + c u, x ~ mu_data, u a unit
    // vector of the plane: N(c e, s^2 I_2) in the plane's coordinates, so
    //   KL = 1/2 [2 s^2 + c^2 - 2 - 4 ln s] = s^2 + c^2 / 2 - 1 - 2 ln s.
    // Samples pushed off the plane are projected back first: adding normal noise changes nothing.
    auto m = plugin("linear_subspace", R"({"k": 2, "ambient_dim": 5})");
    const std::size_t n = 4000;
    const double s = 0.8, c = 1.0;
    Matrix y = m->sample(n, mdlab::RandomStream(4, "model"));
    const Matrix e = m->sample(1, mdlab::RandomStream(4, "direction"));
    double norm = 0.0;
    for (std::size_t a = 0; a < 5; ++a) norm += e(0, a) * e(0, a);
    norm = std::sqrt(norm);
    std::vector<double> log_ratio(n);
    for (std::size_t i = 0; i < n; ++i) {
        double r2 = 0.0;
        for (std::size_t a = 0; a < 5; ++a) r2 += y(i, a) * y(i, a);  // |x|^2 before the change
        for (std::size_t a = 0; a < 5; ++a) y(i, a) = s * y(i, a) + c * e(0, a) / norm;
        double z2 = 0.0;
        for (std::size_t a = 0; a < 5; ++a) z2 += y(i, a) * y(i, a);
        log_ratio[i] = -2.0 * std::log(s) - 0.5 * r2 + 0.5 * z2;  // log p(z) - log q(z)
    }
    const double exact = s * s + c * c / 2.0 - 1.0 - 2.0 * std::log(s);
    const auto v = evaluate("knn_kl", y, m);
    CHECK(names(v) == std::vector<std::string>{"kl", "baseline_kl", "n_samples", "n_reference"});
    const double sd = knn_kl_sd(variance(log_ratio), n, 5), sd0 = knn_kl_sd(0.0, n, 5);
    INFO("kl " << value(v, "kl") << " exact " << exact << " sd " << sd << "; baseline " << value(v, "baseline_kl")
               << " sd " << sd0);
    CHECK(std::abs(value(v, "kl") - exact) < 4.0 * sd + knn_kl_bias);
    CHECK(std::abs(value(v, "baseline_kl")) < 4.0 * sd0 + knn_kl_bias);
    // Noise normal to the plane is removed by the projection.
    mdlab::Rng rng(6);
    Matrix noisy = y;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < 5; ++a) noisy(i, a) += 0.1 * rng.normal();
    const Matrix back = m->project(noisy);
    const auto vn = evaluate("knn_kl", m->project(y), m);
    CHECK(value(vn, "kl") == Approx(value(v, "kl")).epsilon(1e-9));
    CHECK(std::abs(value(evaluate("knn_kl", noisy, m), "kl") - value(evaluate("knn_kl", back, m), "kl")) < 1e-9);
    // Matching the reference and the baseline against a direct call of the kernel.
    const Matrix ref = m->project(drawn(*m, n, "reference")), base = m->project(drawn(*m, n, "baseline"));
    CHECK(value(v, "kl") == Approx(mdlab::kernels::knn_kl_divergence(m->project(y), ref, 5, 2)).epsilon(1e-12));
    CHECK(value(v, "baseline_kl") == Approx(mdlab::kernels::knn_kl_divergence(base, ref, 5, 2)).epsilon(1e-12));
}

TEST_CASE("knn_kl on the circle: von Mises against uniform in both directions, across the angle seam", "[knn_kl]") {
    // KL(vM(kappa) || uniform) = E[kappa cos(theta - theta0)] - ln I0(kappa) = kappa I1/I0 - ln I0;
    // direction data_samples: KL(uniform || vM) = E_unif[-kappa cos] + ln I0 = ln I0(kappa), whose
    // log-ratio has variance kappa^2 / 2 under the uniform law.
    // The mode is put at theta = 0 (mode 0), on the seam of the angle coordinate [0, 2 pi): the
    // ambient (chord) distances between projected points do not see the seam.
    const double kappa = 2.0;
    auto uniform = plugin("circle", R"({"ambient_dim": 3})");
    auto vm = plugin("circle", R"({"ambient_dim": 3, "density": "von_mises", "kappa": 2.0, "mode": 0.0})");
    const std::size_t n = 4000;
    const Matrix y = vm->sample(n, mdlab::RandomStream(8, "model"));
    const Matrix theta = uniform->intrinsic_coords(y);
    std::vector<double> log_ratio(n);
    for (std::size_t i = 0; i < n; ++i) log_ratio[i] = kappa * std::cos(theta(i, 0));
    const double i0 = std::cyl_bessel_i(0.0, kappa), i1 = std::cyl_bessel_i(1.0, kappa);
    const double exact = kappa * i1 / i0 - std::log(i0), exact_reverse = std::log(i0);
    const auto v = evaluate("knn_kl", y, uniform);
    const auto r = evaluate("knn_kl", y, uniform, R"({"direction": "data_samples"})");
    const double sd = knn_kl_sd(variance(log_ratio), n, 5), sd_reverse = knn_kl_sd(kappa * kappa / 2, n, 5);
    INFO("kl " << value(v, "kl") << " exact " << exact << " sd " << sd << " baseline " << value(v, "baseline_kl")
               << "; reverse " << value(r, "kl") << " exact " << exact_reverse << " sd " << sd_reverse);
    CHECK(std::abs(value(v, "kl") - exact) < 4.0 * sd + knn_kl_bias);
    CHECK(std::abs(value(r, "kl") - exact_reverse) < 4.0 * sd_reverse + knn_kl_bias);
    for (const auto* w : {&v, &r}) CHECK(std::abs(value(*w, "baseline_kl")) < 4.0 * knn_kl_sd(0.0, n, 5) + knn_kl_bias);
    // The two directions differ here (0.82 against 0.57).
    CHECK(value(r, "kl") - value(v, "kl") > 0.1);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("knn_kl", R"({"direction": "both"})"));
}

TEST_CASE("knn_kl checks its inputs", "[knn_kl]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestGaussian>(2);
    CHECK_THROWS_AS(evaluate("knn_kl", Matrix(mdlab::zeros(10, 3)), m), mdlab::InputError);
    CHECK_THROWS_AS(evaluate("knn_kl", Matrix(mdlab::zeros(5, 2)), m), mdlab::InputError);  // n = 5 = k
    Matrix bad = drawn(*m, 20, "x");
    bad(3, 0) = INFINITY;
    CHECK_THROWS_WITH(evaluate("knn_kl", bad, m), Catch::Contains("row 3") && Catch::Contains("samples"));
    CHECK_THROWS_AS(evaluate("knn_kl", drawn(*m, 20, "x"), m, R"({"reference_size": 3})"), mdlab::InputError);
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("knn_kl", R"({"k": 33})"));
    // Eight copies of one point: the samples' law has an atom, KL = +inf; the baseline is finite.
    Matrix copies = drawn(*m, 20, "x");
    for (std::size_t i = 0; i < 8; ++i) copies(i, 0) = copies(0, 0), copies(i, 1) = copies(0, 1);
    const auto v = evaluate("knn_kl", copies, m);
    CHECK(std::isinf(value(v, "kl")));
    CHECK(std::isfinite(value(v, "baseline_kl")));
    // An atomic mu_data (here: every reference point at the origin) has no density: refused,
    // with the metric's context in the message.
    std::shared_ptr<const mdlab::Manifold> atom = std::make_shared<TestAtom>();
    CHECK_THROWS_WITH(evaluate("knn_kl", drawn(*m, 20, "x"), atom),
                      Catch::Contains("knn_kl (samples") && Catch::Contains("nu_k = 0"));
}

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

// ---------------------------------------------------------------------------------------------
// generalization

namespace {

mdlab::Values generalization(const Matrix& samples, const Matrix& data, std::shared_ptr<const mdlab::Manifold> m,
                             const std::string& params = "{}", std::uint64_t seed = 3) {
    return evaluate("generalization", samples, std::move(m), params, seed, &data);
}

}  // namespace

TEST_CASE("generalization: copies, fresh samples and samples off the manifold", "[generalization]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(3);
    const Matrix x = m->sample(300, mdlab::RandomStream(17, "train"));
    // Copies of training points: on M but all memorised.
    Matrix copies = Matrix::from_shape({1000, 3});
    for (std::size_t i = 0; i < 1000; ++i)
        for (std::size_t c = 0; c < 3; ++c) copies(i, c) = x(i % 300, c);
    const auto v = generalization(copies, x, m);
    CHECK(names(v) == std::vector<std::string>{"fraction", "near_fraction", "novel_fraction", "baseline_fraction",
                                              "baseline_near_fraction", "baseline_novel_fraction", "n_samples"});
    CHECK(value(v, "fraction") == 0.0);
    CHECK(value(v, "novel_fraction") == 0.0);
    CHECK(value(v, "near_fraction") == 1.0);
    // The baseline: a fresh sample on M (near = 1) passes the 1/3 ratio test about 2/3 of the
    // time on a circle (memorisation's baseline is 1/3; Poisson limit, see test_metrics.cpp).
    CHECK(value(v, "baseline_near_fraction") == 1.0);
    CHECK(value(v, "baseline_fraction") == value(v, "baseline_novel_fraction"));
    const double se13 = std::sqrt(2.0 / 9.0 / 1000.0);
    CHECK(std::abs(value(v, "baseline_novel_fraction") - 2.0 / 3.0) < 4.0 * se13 + 0.02);

    // Fresh samples of mu_data: at the baseline within binomial error (two independent samples).
    const Matrix fresh = m->sample(1000, mdlab::RandomStream(17, "model"));
    const auto f = generalization(fresh, x, m);
    CHECK(std::abs(value(f, "fraction") - value(f, "baseline_fraction")) < 4.0 * std::sqrt(2.0) * se13);
    CHECK(value(f, "near_fraction") == 1.0);

    // Pushed off M radially by 0.06 > delta = 0.05: never near, so fraction 0; novelty is
    // unchanged in kind (d1 and d2 both grow). At 0.04 < delta: all near again.
    const Matrix out = Matrix(fresh * 1.06), in = Matrix(fresh * 1.04);
    const auto o = generalization(out, x, m);
    CHECK(value(o, "near_fraction") == 0.0);
    CHECK(value(o, "fraction") == 0.0);
    CHECK(value(o, "novel_fraction") > 0.5);
    const auto i = generalization(in, x, m);
    CHECK(value(i, "near_fraction") == 1.0);
    CHECK(value(i, "fraction") == value(i, "novel_fraction"));
    // A larger delta counts the pushed samples as near.
    CHECK(value(generalization(out, x, m, R"({"delta": 0.1})"), "near_fraction") == 1.0);
}

TEST_CASE("generalization: hand-made configuration", "[generalization]") {
    // Training points on the unit circle at angles 0, 0.1, 1, 2, 3 (radians); samples:
    //   angle 0.01, radius 1      d1 = chord(0.01), d2 = chord(0.09): ratio 0.111 -> memorised, near
    //   angle 0.05, radius 1      d1 = d2 = chord(0.05)            -> novel, near
    //   angle 1.5, radius 1.2     off M by 0.2                     -> novel (ratio 1), not near
    //   angle 2.5, radius 1.01    off M by 0.01                    -> novel (equidistant), near
    const std::vector<double> ta = {0.0, 0.1, 1.0, 2.0, 3.0};
    Matrix x = mdlab::zeros(5, 2);
    for (std::size_t i = 0; i < 5; ++i) x(i, 0) = std::cos(ta[i]), x(i, 1) = std::sin(ta[i]);
    const std::vector<std::pair<double, double>> ys = {{0.01, 1.0}, {0.05, 1.0}, {1.5, 1.2}, {2.5, 1.01}};
    Matrix y = mdlab::zeros(4, 2);
    for (std::size_t i = 0; i < 4; ++i)
        y(i, 0) = ys[i].second * std::cos(ys[i].first), y(i, 1) = ys[i].second * std::sin(ys[i].first);
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(2);
    const auto v = generalization(y, x, m);
    CHECK(value(v, "near_fraction") == 0.75);
    CHECK(value(v, "novel_fraction") == 0.75);
    CHECK(value(v, "fraction") == 0.5);
    // ratio 0.1 < 0.111: the first sample is novel too.
    CHECK(value(generalization(y, x, m, R"({"ratio": 0.1})"), "fraction") == 0.75);
    // delta 0.005: only the two samples exactly on M are near.
    CHECK(value(generalization(y, x, m, R"({"delta": 0.005})"), "near_fraction") == 0.5);
}

TEST_CASE("generalization checks its inputs", "[generalization]") {
    std::shared_ptr<const mdlab::Manifold> m = std::make_shared<TestCircle>(2);
    const Matrix x = m->sample(10, mdlab::RandomStream(1, "train"));
    try {
        generalization(Matrix(mdlab::zeros(4, 3)), x, m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "samples");
        CHECK_THAT(std::string(e.what()), Catch::Contains("4 x 3"));
    }
    try {
        generalization(x, Matrix(mdlab::zeros(1, 2)), m);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "data");
    }
    Matrix bad = x;
    bad(2, 0) = NAN;
    CHECK_THROWS_WITH(generalization(x, bad, m), Catch::Contains("row 2") && Catch::Contains("data"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("generalization", R"({"delta": 0})"));
    CHECK_THROWS(mdlab::test::make<mdlab::Metric>("generalization", R"({"ratio": 1})"));
}

// ---------------------------------------------------------------------------------------------
// coverage

namespace {

// The rows i of a circle plugin's quadrature nodes (angles 2 pi i / resolution) kept by keep(i).
Matrix nodes_where(const mdlab::Manifold& m, std::size_t resolution, const std::function<bool(std::size_t)>& keep) {
    const mdlab::Quadrature q = m.quadrature(resolution);
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < resolution; ++i)
        if (keep(i)) rows.push_back(i);
    Matrix x = Matrix::from_shape({rows.size(), mdlab::cols(q.nodes)});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t a = 0; a < mdlab::cols(q.nodes); ++a) x(r, a) = q.nodes(rows[r], a);
    return x;
}

// The coverage radius grid of the default parameters: L / 1024 times 512^(l / 63).
constexpr double coverage_step = 1.1040;  // 512^(1/63)

// delta is the first grid radius at or above `exact`.
void check_first_radius_above(double delta, double exact) {
    INFO("delta " << delta << ", exact threshold " << exact);
    CHECK(delta >= exact);
    CHECK(delta < exact * coverage_step * 1.0001);
}

}  // namespace

TEST_CASE("coverage: equispaced points cover at half their spacing", "[coverage]") {
    // n points at spacing L / n: a ball of radius r holds floor(x) or floor(x) + 1 of them,
    // x = 2 r n / L its expected count; with C = 2 both pass iff x >= 1, so delta is the first grid
    // radius at or above L / (2 n) (below it some ball falls between two points).
    auto circle = plugin("circle", R"({"ambient_dim": 3})");
    for (std::size_t n : {100, 400}) {
        const auto v = evaluate("coverage", nodes_where(*circle, n, [](std::size_t) { return true; }), circle,
                                R"({"bootstrap": 0})");
        INFO("n = " << n);
        CHECK(std::abs(value(v, "length") - 2 * pi) < 1e-6);
        check_first_radius_above(value(v, "delta"), pi / static_cast<double>(n));
        CHECK(value(v, "far_fraction") == 0.0);
    }
}

TEST_CASE("coverage: a known density ratio fails below the radius computed by hand", "[coverage]") {
    // mu_data uniform on the unit circle; the samples put 80% of their mass on the half A = [0, pi)
    // (every quadrature node there) and 20% on the other half B (every 4th node): density ratio
    // 1.6 on A, 0.4 on B. The worst ball is centred mid-B (mid-A for the upper bound); once it
    // covers B (r >= pi / 2) its ratio is (0.4 pi + 1.6 (2 r - pi)) / (2 r).
    //   C = 2:   0.4 < 1/2 fails, 1.6 < 2 passes; ratio >= 1/2 iff r >= 6 pi / 11.
    //   C = 1.5: ratio >= 2/3 iff r >= 1.2 pi / (3.2 - 4/3) = 0.6429 pi (the A side needs only
    //            r >= 6 pi / 11, smaller).
    auto circle = plugin("circle", R"({"ambient_dim": 4})");
    const std::size_t r = 40000;
    const Matrix y = nodes_where(*circle, r, [&](std::size_t i) { return i < r / 2 || i % 4 == 0; });
    REQUIRE(mdlab::rows(y) == 25000);
    check_first_radius_above(value(evaluate("coverage", y, circle, R"({"bootstrap": 0})"), "delta"), 6 * pi / 11);
    check_first_radius_above(value(evaluate("coverage", y, circle, R"({"bootstrap": 0, "factor": 1.5})"), "delta"),
                             1.2 * pi / (3.2 - 4.0 / 3.0));
}

TEST_CASE("coverage: copies of the training set score the training set's delta; fresh draws shrink it", "[coverage]") {
    // The empirical measure of n draws covers at about (log n / n) L (the ball whose expected
    // count is a few units fails first): from n = 1000 to 16000 that is a factor 0.088.
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    const Matrix train = drawn(*circle, 1000, "train");
    const auto copies = evaluate("coverage", train, circle, R"({"bootstrap": 50})", 3, &train);
    CHECK(value(copies, "delta") == value(copies, "delta_train"));
    CHECK(value(copies, "delta_lo") <= value(copies, "delta_hi"));
    const auto big = evaluate("coverage", drawn(*circle, 16000, "more"), circle, R"({"bootstrap": 0})");
    const double ratio = value(big, "delta") / value(copies, "delta");
    INFO("delta(16000) / delta(1000) = " << ratio << " (log n / n: 0.088)");
    CHECK(ratio > 0.04);
    CHECK(ratio < 0.2);
    // delta_fresh is the same computation on a fresh sample of as many points.
    CHECK(value(big, "delta_fresh") / value(big, "delta") > 0.5);
    CHECK(value(big, "delta_fresh") / value(big, "delta") < 2.0);
}

TEST_CASE("coverage: samples off M are projected, and counted in far_fraction", "[coverage]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3})");
    const Matrix on = nodes_where(*circle, 300, [](std::size_t) { return true; });
    const Matrix off = on * 1.1;  // 0.1 outside the unit circle, same angles
    const auto a = evaluate("coverage", on, circle, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", off, circle, R"({"bootstrap": 0, "far": 0.05})");
    CHECK(value(b, "delta") == value(a, "delta"));
    CHECK(value(b, "far_fraction") == 1.0);
    CHECK(value(evaluate("coverage", off, circle, R"({"bootstrap": 0, "far": 0.2})"), "far_fraction") == 0.0);
    // The arc length of a circle of radius 2.
    auto big = plugin("circle", R"({"ambient_dim": 3, "radius": 2.0})");
    CHECK(std::abs(value(evaluate("coverage", on * 2.0, big, R"({"bootstrap": 0})"), "length") - 4 * pi) < 1e-6);
}

TEST_CASE("coverage on the curve: balls are arcs of arc length, masses those of the parameter density", "[coverage]") {
    // Points equispaced in the parameter theta are mu_data's quantiles (uniform density): every
    // arc of parameter measure m holds n m +- 1 of them, whatever the speed |gamma'|, so they cover
    // at about half the largest arc length between neighbours. Points equispaced in arc length
    // instead have density |gamma'| / mean |gamma'| relative to mu_data; on this curve the speed
    // varies by more than a factor 2, so they fail at small radii.
    auto curve = plugin("curve", R"({"ambient_dim": 5, "beta": 1.0, "modes": 8})");
    const std::size_t n = 500, fine = 200000;
    const Matrix by_theta = nodes_where(*curve, n, [](std::size_t) { return true; });
    const mdlab::Quadrature q = curve->quadrature(fine);
    std::vector<double> s(fine + 1, 0.0);
    double max_gap = 0.0;
    for (std::size_t i = 0; i < fine; ++i) {
        double c = 0.0;
        for (std::size_t a = 0; a < 5; ++a) c += std::pow(q.nodes((i + 1) % fine, a) - q.nodes(i, a), 2);
        s[i + 1] = s[i] + std::sqrt(c);
    }
    const double length = s[fine];
    double slow = 1e300, fast = 0.0;  // smallest and largest speed, per fine step
    for (std::size_t i = 0; i < fine; ++i) {
        slow = std::min(slow, s[i + 1] - s[i]);
        fast = std::max(fast, s[i + 1] - s[i]);
    }
    for (std::size_t k = 0; k < n; ++k) max_gap = std::max(max_gap, s[(k + 1) * fine / n] - s[k * fine / n]);
    REQUIRE(fast / slow > 2.5);
    std::vector<std::size_t> pick;
    for (std::size_t k = 0; k < n; ++k)
        pick.push_back(static_cast<std::size_t>(std::lower_bound(s.begin(), s.end(), length * k / n) - s.begin()) % fine);
    const Matrix by_arc = nodes_where(*curve, fine, [&](std::size_t i) { return std::binary_search(pick.begin(), pick.end(), i); });
    const auto a = evaluate("coverage", by_theta, curve, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", by_arc, curve, R"({"bootstrap": 0})");
    INFO("length " << length << ", largest gap " << max_gap << "; delta by theta " << value(a, "delta") << ", by arc "
                   << value(b, "delta"));
    CHECK(std::abs(value(a, "length") / length - 1) < 1e-4);
    CHECK(value(a, "delta") < 0.5 * max_gap * coverage_step * 1.0001);
    CHECK(value(b, "delta") > 10 * value(a, "delta"));
}

// A manifold that delegates to another but reports its angle shifted by -shift (mod 2 pi): with a
// tiny shift the quadrature's node 0 comes back as 2 pi - shift, on the far side of the seam.
class ShiftedAngle : public mdlab::Manifold {
public:
    ShiftedAngle(std::shared_ptr<const mdlab::Manifold> m, double shift) : m_(std::move(m)), shift_(shift) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return m_->ambient_dim(); }
    std::size_t intrinsic_dim() const override { return 1; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override { m_->sample_rows(rng, out, count); }
    Matrix project(const Matrix& x) const override { return m_->project(x); }
    Matrix intrinsic_coords(const Matrix& x) const override {
        Matrix t = m_->intrinsic_coords(x);
        for (auto& v : t) v = std::fmod(v - shift_ + 2 * pi, 2 * pi);
        return t;
    }
    mdlab::Quadrature quadrature(std::size_t r) const override { return m_->quadrature(r); }

private:
    std::shared_ptr<const mdlab::Manifold> m_;
    double shift_;
};

TEST_CASE("coverage: the chart unwraps the angle across its seam", "[coverage]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    auto shifted = std::make_shared<ShiftedAngle>(circle, 1e-9);
    REQUIRE(shifted->intrinsic_coords(circle->quadrature(8).nodes)(0, 0) > 6.28);
    const Matrix y = drawn(*circle, 3000, "y");
    const auto a = evaluate("coverage", y, circle, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", y, shifted, R"({"bootstrap": 0})");
    CHECK(value(b, "delta") == Approx(value(a, "delta")));
    CHECK(value(b, "length") == Approx(value(a, "length")).epsilon(1e-12));
}

TEST_CASE("coverage: bootstrap is independent of the thread count; inputs are checked", "[coverage][threads]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    const Matrix y = drawn(*circle, 2000, "y");
    mdlab::Values one, two;
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("coverage", y, circle, R"({"bootstrap": 40})");
    }
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("coverage", y, circle, R"({"bootstrap": 40})");
    }
    CHECK(one == two);
    auto sphere = plugin("sphere", R"({"ambient_dim": 3})");
    try {
        evaluate("coverage", drawn(*sphere, 10, "s"), sphere);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "manifold");
        CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("closed curves"));
    }
}
