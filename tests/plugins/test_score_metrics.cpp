// The score_error and gradient_error metric plugins against closed forms on Gaussian data
// N(0, v I_D) noised by the VP process: p_t = N(0, V(t) I) with V = alpha^2 v + sigma^2 and exact
// score s = -x / V. Error fields are built here: (1 + eps) s (a gradient field: eps s is the
// gradient of -eps |x|^2 / (2 V)) and s + eps J s with J antisymmetric, J^2 = -I (a solenoidal
// field: div(p J grad log p) = J : Hess p = 0). The estimators and the manifold are test-local
// so these tests depend on no other plugin than `vp`.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "csv.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using mdlab::Matrix;
using mdlab::test::GaussianScore;

namespace {

constexpr double pi = 3.14159265358979323846;

// N(0, v I_D) as a (full-dimensional) data manifold.
class GaussManifold : public mdlab::Manifold {
public:
    GaussManifold(std::size_t d, double v) : d_(d), s_(std::sqrt(v)) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return d_; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        for (std::size_t k = 0; k < count * d_; ++k) out[k] = s_ * rng.normal();
    }
    Matrix project(const Matrix& x) const override { return x; }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }

private:
    std::size_t d_;
    double s_;
};

// s_hat = (1 + eps) s_true: the error eps s_true is a gradient field.
class ScaledScore : public GaussianScore {
public:
    ScaledScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double s0, double eps)
        : GaussianScore(std::move(p), d, s0), eps_(eps) {}
    void score(const Matrix& x, double t, Matrix& out) const override {
        GaussianScore::score(x, t, out);
        out *= 1.0 + eps_;
    }

private:
    double eps_;
};

// s_hat = s_true + eps J s_true, J the 90-degree rotation in the planes (0,1), (2,3), ...
// (D even: J antisymmetric with J^2 = -I, so |J s| = |s|). Divergence-free w.r.t. p_t.
class RotatedScore : public GaussianScore {
public:
    RotatedScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double s0, double eps)
        : GaussianScore(std::move(p), d, s0), eps_(eps) {}
    void score(const Matrix& x, double t, Matrix& out) const override {
        GaussianScore::score(x, t, out);
        for (std::size_t i = 0; i < mdlab::rows(x); ++i)
            for (std::size_t a = 0; a + 1 < mdlab::cols(x); a += 2) {
                const double u = out(i, a), w = out(i, a + 1);
                out(i, a) = u - eps_ * w;
                out(i, a + 1) = w + eps_ * u;
            }
    }

private:
    double eps_;
};

struct Setup {
    std::size_t d = 4;
    double v = 0.25;  // data variance
    std::shared_ptr<const mdlab::ForwardProcess> proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    std::shared_ptr<const mdlab::Manifold> manifold = std::make_shared<GaussManifold>(d, v);
    std::shared_ptr<const GaussianScore> exact = std::make_shared<GaussianScore>(proc, d, std::sqrt(v));
    double V(double t) const {
        const double a = proc->alpha(t), s = proc->sigma(t);
        return a * a * v + s * s;
    }
};

struct Run {
    mdlab::Values values;
    std::vector<mdlab::test::CsvRow> curve;
    std::string curve_text;
};

Run run_metric(const std::string& name, const std::string& params, std::shared_ptr<const mdlab::ScoreEstimator> score,
               std::shared_ptr<const mdlab::ScoreEstimator> oracle, const Setup& s, std::uint64_t seed = 7) {
    auto metric = mdlab::test::make<mdlab::Metric>(name, params);
    mdlab::Inputs in;
    in.set("score", std::move(score));
    if (oracle) in.set("oracle", std::move(oracle));
    in.set("manifold", s.manifold);
    mdlab::test::TestContext ctx(seed, "node");
    Run r;
    r.values = metric->evaluate(in, ctx);
    std::ifstream f(ctx.output_dir() / ("node." + name + ".csv"));
    std::stringstream ss;
    ss << f.rdbuf();
    r.curve_text = ss.str();
    r.curve = mdlab::test::parse_csv(r.curve_text);
    return r;
}

double value(const mdlab::Values& v, const std::string& key) {
    for (const auto& [k, x] : v)
        if (k == key) return x;
    FAIL("no value '" << key << "'");
    return 0.0;
}
bool has_value(const mdlab::Values& v, const std::string& key) {
    for (const auto& kv : v)
        if (kv.first == key) return true;
    return false;
}
double num(const mdlab::test::CsvRow& r, const std::string& key) {
    auto it = r.find(key);
    REQUIRE(it != r.end());
    return std::stod(it->second);
}

// The key of the first diagnostic of a parameter the registry refused.
std::string bad_param_key(const std::string& name, const std::string& params) {
    try {
        mdlab::test::make<mdlab::Metric>(name, params);
    } catch (const mdlab::runtime::BadInput& e) {
        return e.diagnostics().at(0).key;
    } catch (const mdlab::InputError& e) {
        return e.key();
    }
    return "(accepted)";
}

// The key of the InputError an evaluation throws.
std::string eval_error_key(const std::string& name, const std::string& params, std::shared_ptr<const mdlab::ScoreEstimator> score,
                           std::shared_ptr<const mdlab::ScoreEstimator> oracle, const Setup& s, std::string* message = nullptr) {
    try {
        run_metric(name, params, std::move(score), std::move(oracle), s);
    } catch (const mdlab::InputError& e) {
        if (message) *message = e.what();
        return e.key();
    }
    return "(accepted)";
}

}  // namespace

TEST_CASE("score_error: exact score gives 0; (1 + eps) s gives eps^2 E lambda |s|^2 and relative eps^2", "[score_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    const std::size_t n = 3000, m = 6;
    const std::string params = R"({"n": 3000, "times": 6, "spacing": "uniform", "t_min": 0.05})";
    {
        const Run r = run_metric("score_error", params, s.exact, s.exact, s);
        CHECK(value(r.values, "l2") == 0.0);
        CHECK(value(r.values, "relative") == 0.0);
    }
    const double eps = 0.3;
    const Run r = run_metric("score_error", params, std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps), s.exact, s);
    REQUIRE(r.curve.size() == m);
    // The uniform grid from t_min to T, and the closed form E|s|^2 = D / V(t) per time.
    double closed = 0.0, var = 0.0, ref = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        const double t = 0.05 + (1.0 - 0.05) * double(i) / double(m - 1);
        CHECK(num(r.curve[i], "t") == Approx(t).epsilon(1e-12));
        const double sig = s.proc->sigma(t), lam = sig * sig, V = s.V(t);
        CHECK(num(r.curve[i], "lambda") == Approx(lam).epsilon(1e-12));
        closed += lam * eps * eps * double(s.d) / V;
        ref += lam * double(s.d) / V;
        // Per draw eps^2 |x|^2 / V^2 with |x|^2 ~ V chi^2_D: variance eps^4 2 D / V^2.
        var += lam * lam * std::pow(eps, 4) * 2.0 * double(s.d) / (V * V) / double(n);
        CHECK(num(r.curve[i], "relative") == Approx(eps * eps).epsilon(1e-12));
    }
    closed /= double(m);
    ref /= double(m);
    const double se = std::sqrt(var) / double(m);
    INFO("l2 " << value(r.values, "l2") << " closed form " << closed << " SE " << se << " reported SE "
               << value(r.values, "l2_stderr"));
    CHECK(std::abs(value(r.values, "l2") - closed) <= 4.5 * se);
    CHECK(value(r.values, "l2_stderr") == Approx(se).epsilon(0.15));
    CHECK(value(r.values, "relative") == Approx(eps * eps).epsilon(1e-12));
    CHECK(std::abs(value(r.values, "reference") - ref) <= 4.5 * se / (eps * eps));
    WARN("score_error closed form: l2 " << value(r.values, "l2") << " vs " << closed << " (SE " << se << "), "
                                        << mdlab::test::seconds_since(t0) << " s");
}

TEST_CASE("score_error: the log_snr grid is equispaced in log(alpha^2 / sigma^2)", "[score_error]") {
    Setup s;
    const Run r = run_metric("score_error", R"({"n": 10, "times": 5, "t_min": 0.02, "t_max": 0.8})", s.exact, s.exact, s);
    REQUIRE(r.curve.size() == 5);
    std::vector<double> snr;
    for (const auto& row : r.curve) {
        const double a = num(row, "alpha"), sg = num(row, "sigma");
        snr.push_back(std::log(a * a / (sg * sg)));
    }
    CHECK(num(r.curve.front(), "t") == 0.02);
    CHECK(num(r.curve.back(), "t") == 0.8);
    for (std::size_t i = 1; i < snr.size(); ++i)
        CHECK(snr[i] - snr[i - 1] == Approx((snr.back() - snr.front()) / 4.0).epsilon(1e-9));
}

TEST_CASE("Stein's identity holds for the random Fourier features (closed form on a Gaussian)", "[gradient_error]") {
    // x ~ N(0, V I): E[cos(w.x + c)] = cos(c) exp(-|w|^2 V / 2), and
    // E[s . grad phi + laplacian phi] = E[sin(w.x + c) (w.x) / V - |w|^2 cos(w.x + c)] = 0.
    const std::size_t d = 3, n = 200000;
    const double V = 0.7;
    mdlab::Rng rng(11);
    for (int f = 0; f < 4; ++f) {
        std::vector<double> w(d);
        double w2 = 0.0;
        for (auto& c : w) c = rng.normal() / 0.8, w2 += c * c;
        const double c = 2.0 * pi * rng.uniform();
        double sum = 0.0, sum2 = 0.0, lap = 0.0, lap2 = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            double wx = 0.0, sw = 0.0;
            for (std::size_t a = 0; a < d; ++a) {
                const double x = std::sqrt(V) * rng.normal();
                wx += w[a] * x;
                sw += w[a] * (-x / V);  // s . w
            }
            const double l = -w2 * std::cos(wx + c);             // laplacian phi
            const double term = -std::sin(wx + c) * sw + l;      // s . grad phi + laplacian phi
            sum += term, sum2 += term * term, lap += l, lap2 += l * l;
        }
        const double mean = sum / n, se = std::sqrt((sum2 / n - mean * mean) / n);
        const double lmean = lap / n, lse = std::sqrt((lap2 / n - lmean * lmean) / n);
        const double lclosed = -w2 * std::cos(c) * std::exp(-w2 * V / 2.0);
        INFO("feature " << f << ": Stein mean " << mean << " (SE " << se << "), laplacian mean " << lmean << " vs "
                        << lclosed << " (SE " << lse << ")");
        CHECK(std::abs(mean) <= 4.5 * se);
        CHECK(std::abs(lmean - lclosed) <= 4.5 * lse);
        CHECK(std::abs(lclosed) > 10.0 * se);  // the identity is not trivially 0 = 0
    }
}

TEST_CASE("gradient_error: a solenoidal error has a large L2 norm and no gradient part", "[gradient_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    // eps = 1: the Stein form's noise floor (of order L / (n D) E lambda |s|^2, see the plugin)
    // must sit well below 1e-2 l2 at this n.
    const double eps = 1.0;
    const std::size_t n = 20000;
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), eps);
    for (const char* family : {"fourier", "polynomial"}) {
        INFO("family " << family);
        const std::string params =
            std::string(R"({"n": 20000, "times": 4, "spacing": "uniform", "t_min": 0.05, "form": "both", "family": ")") +
            family + "\"}";
        const Run r = run_metric("gradient_error", params, rotated, s.exact, s);
        // |e|^2 = eps^2 |J s|^2 = eps^2 |x|^2 / V^2 with |x|^2 ~ V chi^2_D.
        double closed = 0.0, var = 0.0;
        for (const auto& row : r.curve) {
            const double t = num(row, "t"), lam = num(row, "lambda"), V = s.V(t);
            closed += lam * eps * eps * double(s.d) / V;
            var += lam * lam * std::pow(eps, 4) * 2.0 * double(s.d) / (V * V) / double(n);
            CHECK(num(row, "gradient") <= num(row, "l2"));
        }
        closed /= double(r.curve.size());
        const double se = std::sqrt(var) / double(r.curve.size());
        const double l2 = value(r.values, "l2"), g = value(r.values, "gradient"), f = value(r.values, "noise_floor");
        const double gs = value(r.values, "gradient_stein"), fs = value(r.values, "noise_floor_stein");
        WARN(family << " solenoidal: l2 " << l2 << " (closed " << closed << ", SE " << se << "), gradient " << g << " floor " << f
                    << ", stein " << gs << " floor " << fs);
        CHECK(std::abs(l2 - closed) <= 4.5 * se);
        CHECK(g <= 3.0 * f);
        CHECK(g < 1e-2 * l2);
        CHECK(gs <= 3.0 * fs);
        CHECK(gs < 1e-2 * l2);
        CHECK(value(r.values, "gradient_fraction") < 1e-2);
    }
    WARN("solenoidal test: " << mdlab::test::seconds_since(t0) << " s");
}

TEST_CASE("gradient_error: a gradient error is all gradient; Stein agrees with the oracle form", "[gradient_error]") {
    const auto t0 = std::chrono::steady_clock::now();
    Setup s;
    const double eps = 0.5;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps);
    for (const char* family : {"polynomial", "fourier"}) {
        INFO("family " << family);
        const std::string params =
            std::string(R"({"n": 20000, "times": 4, "spacing": "uniform", "t_min": 0.05, "family": ")") + family + "\"";
        const Run both = run_metric("gradient_error", params + R"(, "form": "both"})", scaled, s.exact, s);
        const Run stein = run_metric("gradient_error", params + "}", scaled, nullptr, s);
        const double l2 = value(both.values, "l2"), g = value(both.values, "gradient"),
                     gs = value(both.values, "gradient_stein"), fs = value(both.values, "noise_floor_stein");
        WARN(family << " gradient error: l2 " << l2 << ", gradient " << g << " (fraction "
                    << value(both.values, "gradient_fraction") << "), stein " << gs << " floor " << fs);
        CHECK(g <= l2);
        if (std::string(family) == "polynomial")
            CHECK(value(both.values, "gradient_fraction") > 0.999);  // degree 2 spans the quadratic potential
        else
            CHECK(value(both.values, "gradient_fraction") > 0.9);
        // Without the oracle the Stein form is what runs, on the same draws.
        CHECK(!has_value(stein.values, "l2"));
        CHECK(value(stein.values, "gradient") == gs);
        CHECK(value(stein.values, "noise_floor") == fs);
        // form stein with the oracle connected: the Stein figure beside the full L2 error.
        const Run stein_l2 = run_metric("gradient_error", params + R"(, "form": "stein"})", scaled, s.exact, s);
        CHECK(value(stein_l2.values, "gradient") == gs);
        CHECK(value(stein_l2.values, "l2") == l2);
        CHECK(value(stein_l2.values, "gradient_fraction") == gs / l2);
    }
    WARN("gradient test: " << mdlab::test::seconds_since(t0) << " s");
}

// (1/2) int_a^b g(t)^2 eps^2 D / V(t) dt by the midpoint rule in log t on 20000 cells: the
// Girsanov bound of the error eps s (|eps s|^2 = eps^2 |x|^2 / V^2, E|x|^2 = D V).
double half_integral_closed(const Setup& s, double eps, double a, double b) {
    const std::size_t m = 20000;
    double sum = 0.0;
    const double h = std::log(b / a) / double(m);
    for (std::size_t i = 0; i < m; ++i) {
        const double t = a * std::exp((double(i) + 0.5) * h);
        sum += s.proc->g2(t) * eps * eps * double(s.d) / s.V(t) * t * h;
    }
    return 0.5 * sum;
}

TEST_CASE("gradient_error: KL bounds (1/2) int g^2 |grad phi|^2 dt and Girsanov's against closed forms", "[gradient_error]") {
    Setup s;
    const double eps = 0.5, t_min = 1e-3;
    const double closed = half_integral_closed(s, eps, t_min, 1.0);
    const std::string params = R"({"n": 5000, "times": 40, "t_min": 0.001, "family": "polynomial", "form": "both"})";
    // A gradient error: all of it is in the gradient part, so both bounds are the closed form.
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), eps);
    const Run g = run_metric("gradient_error", params, scaled, s.exact, s);
    const double kb = value(g.values, "kl_bound"), gb = value(g.values, "girsanov_bound");
    WARN("gradient error eps = 0.5: kl_bound " << kb << ", stein " << value(g.values, "kl_bound_stein")
                                               << ", girsanov_bound " << gb << ", closed form " << closed);
    CHECK(gb == Approx(closed).epsilon(0.03));  // Monte Carlo (1% SE) and the 40-point rule
    CHECK(kb <= gb);
    CHECK(kb >= 0.999 * gb);  // degree 2 spans the quadratic potential
    CHECK(value(g.values, "kl_bound_stein") == Approx(kb).epsilon(0.05));
    // A solenoidal error of the same size: Girsanov's bound is unchanged, the gradient-only bound
    // is at its noise floor.
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), eps);
    const Run r = run_metric("gradient_error", params, rotated, s.exact, s);
    const double kr = value(r.values, "kl_bound"), fr = value(r.values, "kl_bound_floor");
    WARN("solenoidal error eps = 0.5: kl_bound " << kr << " (floor " << fr << "), girsanov_bound "
                                                 << value(r.values, "girsanov_bound"));
    CHECK(value(r.values, "girsanov_bound") == Approx(closed).epsilon(0.03));
    CHECK(kr <= 3.0 * fr);
    CHECK(kr < 1e-2 * closed);
    // One time: no integral.
    const Run one = run_metric("gradient_error", R"({"n": 500, "times": 1})", scaled, s.exact, s);
    CHECK(std::isnan(value(one.values, "kl_bound")));
}

TEST_CASE("gradient_error: the Stein and oracle forms agree within Monte Carlo error", "[gradient_error]") {
    // Over K independent seeds, d = gradient_stein - gradient (same draws) has a mean that differs
    // from 0 only by the forms' different noise biases, each between 0 and its noise floor:
    // -floor_oracle - 4.5 SE <= mean(d) <= floor_stein + 4.5 SE, SE = sd(d) / sqrt(K).
    Setup s;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), 0.5);
    const int K = 8;
    for (const char* family : {"polynomial", "fourier"}) {
        const std::string params =
            std::string(R"({"n": 10000, "times": 2, "form": "both", "family": ")") + family + "\"}";
        double sum = 0.0, sum2 = 0.0, fo = 0.0, fs = 0.0, g = 0.0;
        for (int k = 0; k < K; ++k) {
            const Run r = run_metric("gradient_error", params, scaled, s.exact, s, 100 + k);
            const double d = value(r.values, "gradient_stein") - value(r.values, "gradient");
            sum += d, sum2 += d * d;
            fo += value(r.values, "noise_floor") / K;
            fs += value(r.values, "noise_floor_stein") / K;
            g += value(r.values, "gradient") / K;
        }
        const double mean = sum / K, se = std::sqrt((sum2 / K - mean * mean) * K / (K - 1.0) / K);
        WARN(family << ": mean(stein - oracle) " << mean << " (SE " << se << "), floors " << fo << " / " << fs
                    << ", gradient " << g);
        CHECK(mean >= -fo - 4.5 * se);
        CHECK(mean <= fs + 4.5 * se);
        CHECK(fs + 4.5 * se < 0.2 * g);  // the check is much tighter than the value itself
    }
}

TEST_CASE("gradient_error: with random projections the polynomial family sees the share P / D of an isotropic field", "[gradient_error]") {
    // D = 12, degree 2: the 90 coordinate monomials exceed 64 features, so the family uses P = 9
    // projections (54 monomials). e = eps s = -eps x / V is isotropic: the gradients of
    // polynomials in R^T x capture exactly its component in span(R), E|R^T e|^2 / E|e|^2 = P / D.
    Setup s;
    s.d = 12;
    s.manifold = std::make_shared<GaussManifold>(s.d, s.v);
    s.exact = std::make_shared<GaussianScore>(s.proc, s.d, std::sqrt(s.v));
    const std::size_t n = 5000, P = 9;
    auto scaled = std::make_shared<ScaledScore>(s.proc, s.d, std::sqrt(s.v), 0.5);
    const Run r = run_metric("gradient_error", R"({"n": 5000, "times": 3, "family": "polynomial"})", scaled, s.exact, s);
    CHECK(value(r.values, "features") == 54.0);
    const double share = double(P) / double(s.d);
    // Per time the captured share is A / (A + C), A ~ chi^2_{nP}, C ~ chi^2_{n(D-P)}: a Beta law
    // with variance share (1 - share) / (n D / 2 + 1). The part outside span(R) adds pure-noise
    // bias between 0 and the noise floor.
    const double se = std::sqrt(share * (1.0 - share) / (double(n * s.d) / 2.0 + 1.0));
    const double frac = value(r.values, "gradient_fraction");
    const double bias = value(r.values, "noise_floor") / value(r.values, "l2");
    INFO("fraction " << frac << ", P / D = " << share << ", SE " << se << ", floor / l2 " << bias);
    CHECK(frac >= share - 4.5 * se);
    CHECK(frac <= share + bias + 4.5 * se);
}

TEST_CASE("gradient_error: the exact score has no error in the oracle form", "[gradient_error]") {
    Setup s;
    const Run r = run_metric("gradient_error", R"({"n": 1000, "times": 2})", s.exact, s.exact, s);
    CHECK(value(r.values, "gradient") == 0.0);
    CHECK(value(r.values, "l2") == 0.0);
    CHECK(value(r.values, "noise_floor") == 0.0);
    CHECK(std::isnan(value(r.values, "gradient_fraction")));
}

TEST_CASE("score metrics are bit-identical for 1 and 2 threads", "[score_error][gradient_error]") {
    Setup s;
    auto rotated = std::make_shared<RotatedScore>(s.proc, s.d, std::sqrt(s.v), 0.4);
    struct Case {
        const char* metric;
        const char* params;
    };
    const Case cases[] = {{"score_error", R"({"n": 3000, "times": 3})"},
                          {"gradient_error", R"({"n": 3000, "times": 3, "form": "both"})"},
                          {"gradient_error", R"({"n": 3000, "times": 3, "form": "both", "family": "polynomial"})"}};
    for (const auto& c : cases) {
        INFO(c.metric << " " << c.params);
        Run one, two;
        {
            tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
            one = run_metric(c.metric, c.params, rotated, s.exact, s);
        }
        {
            tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
            two = run_metric(c.metric, c.params, rotated, s.exact, s);
        }
        CHECK(one.values == two.values);
        CHECK(one.curve_text == two.curve_text);
        CHECK(one.curve.size() == 3);
        // Another seed gives other draws.
        CHECK(run_metric(c.metric, c.params, rotated, s.exact, s, 8).values != one.values);
    }
}

TEST_CASE("score metrics reject bad parameters and wiring, naming the key", "[score_error][gradient_error]") {
    for (const char* m : {"score_error", "gradient_error"}) {
        INFO(m);
        CHECK(bad_param_key(m, R"({"times": 0})") == "times");
        CHECK(bad_param_key(m, R"({"n": 1})") == "n");
        CHECK(bad_param_key(m, R"({"t_min": 0})") == "t_min");
        CHECK(bad_param_key(m, R"({"spacing": "karras"})") == "spacing");
        CHECK(bad_param_key(m, R"({"t_min": 0.5, "t_max": 0.2})") == "t_max");
        CHECK(bad_param_key(m, R"({"t_min": 0.5, "t_max": 0.2, "times": 1})") == "(accepted)");
    }
    CHECK(bad_param_key("gradient_error", R"({"features": 0})") == "features");
    CHECK(bad_param_key("gradient_error", R"({"family": "polynomial", "degree": 3, "features": 2})") == "features");
    CHECK(bad_param_key("gradient_error", R"({"bandwidth": 0})") == "bandwidth");
    CHECK(bad_param_key("gradient_error", R"({"ridge": -1})") == "ridge");
    CHECK(bad_param_key("gradient_error", R"({"form": "sometimes"})") == "form");
    CHECK(bad_param_key("gradient_error", R"({"family": "wavelet"})") == "family");

    Setup s;
    std::string msg;
    CHECK(eval_error_key("score_error", R"({"n": 10})", s.exact, nullptr, s, &msg) == "oracle");
    CHECK_THAT(msg, Catch::Contains("oracle") && Catch::Contains("true score"));
    CHECK(eval_error_key("gradient_error", R"({"n": 10, "form": "oracle"})", s.exact, nullptr, s, &msg) == "form");
    CHECK(eval_error_key("gradient_error", R"({"n": 10, "form": "both"})", s.exact, nullptr, s) == "form");
    for (const char* m : {"score_error", "gradient_error"}) {
        INFO(m);
        CHECK(eval_error_key(m, R"({"n": 10, "t_max": 2.0})", s.exact, s.exact, s, &msg) == "t_max");
        CHECK_THAT(msg, Catch::Contains("end time"));
        CHECK(eval_error_key(m, R"({"n": 10, "t_min": 1.5, "times": 1})", s.exact, s.exact, s) == "t_min");
        auto wrong_dim = std::make_shared<GaussianScore>(s.proc, 3, 0.5);
        CHECK(eval_error_key(m, R"({"n": 10})", wrong_dim, s.exact, s, &msg) == "score");
        CHECK_THAT(msg, Catch::Contains("R^3") && Catch::Contains("R^4"));
        CHECK(eval_error_key(m, R"({"n": 10})", s.exact, wrong_dim, s) == "oracle");
        auto other_process = std::make_shared<GaussianScore>(mdlab::test::make<mdlab::ForwardProcess>("ve"), s.d, 0.5);
        CHECK(eval_error_key(m, R"({"n": 10})", s.exact, other_process, s, &msg) == "oracle");
        CHECK_THAT(msg, Catch::Contains("another forward process"));
    }
}
