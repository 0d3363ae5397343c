// The mean-shift kernel (mdlab/kernels/mean_shift.hpp), the drift estimator and the
// drift_score_gap metric, against the empirical estimator plugin, direct long-double
// computations and the claims of SCIENCE.md section 5 (claim 4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/mean_shift.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using mdlab::Matrix;
using mdlab::kernels::MeanShiftKernel;
using mdlab::test::identical;
using mdlab::test::normal_matrix;

namespace {

constexpr double eps = std::numeric_limits<double>::epsilon();

// The key named by what f throws: a parameter rejected by the registry (BadInput) or an
// InputError of the plugin; "<none>" when nothing is thrown.
template <class F>
std::string error_key(F&& f) {
    try {
        f();
    } catch (const mdlab::runtime::BadInput& e) {
        return e.diagnostics().empty() ? "<no diagnostic>" : e.diagnostics()[0].key;
    } catch (const mdlab::InputError& e) {
        return e.key();
    } catch (...) {
        return "<another exception>";
    }
    return "<none>";
}

// alpha = 1, sigma = tau at every t: under it the empirical estimator's score is the score of
// the Gaussian-smoothed empirical measure, s_P,tau.
class ConstantNoise : public mdlab::ForwardProcess {
public:
    explicit ConstantNoise(double tau) : tau_(tau) {}
    double t_end() const override { return 1.0; }
    double alpha(double) const override { return 1.0; }
    double sigma(double) const override { return tau_; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 0.0; }

private:
    double tau_;
};

std::shared_ptr<mdlab::ScoreEstimator> make_empirical(std::shared_ptr<const Matrix> data, double tau) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::shared_ptr<const mdlab::ForwardProcess>(std::make_shared<ConstantNoise>(tau)));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

std::shared_ptr<mdlab::ScoreEstimator> make_drift(const std::string& params, std::shared_ptr<const Matrix> data,
                                                  std::shared_ptr<const Matrix> model = nullptr,
                                                  std::shared_ptr<const mdlab::ForwardProcess> process = nullptr) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("drift", params);
    mdlab::Inputs in;
    in.set("data", std::move(data));
    if (model) in.set("model", std::move(model));
    if (process) in.set("process", std::move(process));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// Direct mean shift in long double: logits l_j (-|x - p_j|^2 / (2 tau^2) or -|x - p_j| / tau),
// shifted by their maximum (a plain exp underflows at small tau), weights, weighted mean of
// p_j - x. `condition` = sum_j w_j |(p_j - x) - m| (|l_j| + |l_max|): how much m moves when
// every logit moves by its size times one unit of relative error (rounding the distances in
// double does that; no double computation can beat eps times it).
struct Shift {
    std::vector<long double> m;
    long double condition = 0;
    bool naive_underflow = false;  // the unshifted double weights all underflow: 0/0 naively
};

Shift direct_shift(const double* x, const Matrix& p, MeanShiftKernel kernel, double tau) {
    const std::size_t n = mdlab::rows(p), d = mdlab::cols(p);
    std::vector<long double> logit(n);
    long double mx = -std::numeric_limits<long double>::infinity();
    double naive = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        long double s = 0;
        for (std::size_t a = 0; a < d; ++a) s += ((long double)p(j, a) - x[a]) * ((long double)p(j, a) - x[a]);
        logit[j] = kernel == MeanShiftKernel::gaussian ? -s / (2.0L * tau * tau) : -std::sqrt(s) / tau;
        mx = std::max(mx, logit[j]);
        naive += std::exp(double(logit[j]));
    }
    Shift r;
    r.naive_underflow = naive == 0.0;
    r.m.assign(d, 0);
    std::vector<long double> w(n);
    long double total = 0;
    for (std::size_t j = 0; j < n; ++j) total += w[j] = std::exp(logit[j] - mx);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t a = 0; a < d; ++a) r.m[a] += w[j] * ((long double)p(j, a) - x[a]);
    for (auto& v : r.m) v /= total;
    for (std::size_t j = 0; j < n; ++j) {
        long double dev = 0;
        for (std::size_t a = 0; a < d; ++a) {
            const long double e = (long double)p(j, a) - x[a] - r.m[a];
            dev += e * e;
        }
        r.condition += w[j] / total * std::sqrt(dev) * (std::abs(logit[j]) + std::abs(mx));
    }
    return r;
}

long double norm(const std::vector<long double>& v) {
    long double s = 0;
    for (auto x : v) s += x * x;
    return std::sqrt(s);
}

double abs_error(const double* got, const std::vector<long double>& want) {
    long double s = 0;
    for (std::size_t a = 0; a < want.size(); ++a) s += (got[a] - want[a]) * (got[a] - want[a]);
    return double(std::sqrt(s));
}

// 1e-12 relative, plus the problem's own conditioning at a generous 16 (D + 1) ulps of the logits.
double tolerance(const Shift& s) {
    return double(1e-12L * norm(s.m) + 16.0L * (s.m.size() + 1) * eps * s.condition);
}

// N points of the unit circle (uniform angles) embedded in R^D by a random isometry, plus
// isotropic noise of standard deviation `noise` in R^D.
Matrix circle(std::size_t n, std::size_t d, double noise, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    mdlab::Rng emb(12345);  // the same plane for every call with this D
    const mdlab::Isometry iso = mdlab::Isometry::random(d, 2, emb);
    Matrix x = Matrix::from_shape({n, d});
    for (std::size_t i = 0; i < n; ++i) {
        const double th = 6.283185307179586 * rng.uniform();
        const double z[2] = {std::cos(th), std::sin(th)};
        iso.embed_row(z, mdlab::row(x, i));
        for (std::size_t a = 0; a < d; ++a) x(i, a) += noise * rng.normal();
    }
    return x;
}

double value(const mdlab::Values& v, const std::string& name) {
    for (const auto& [k, x] : v)
        if (k == name) return x;
    FAIL("no value '" << name << "'");
    return 0.0;
}

mdlab::Values gap(const std::string& params, std::shared_ptr<const Matrix> samples, std::shared_ptr<const Matrix> data,
                  std::uint64_t seed = 5) {
    auto metric = mdlab::test::make<mdlab::Metric>("drift_score_gap", params);
    mdlab::Inputs in;
    in.set("samples", std::move(samples));
    in.set("data", std::move(data));
    mdlab::test::TestContext ctx(seed, "gap");
    return metric->evaluate(in, ctx);
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

}  // namespace

// ------------------------------------------------------------------------------- the kernel

TEST_CASE("mean shift kernel equals the direct long-double formula, including tiny tau", "[kernel]") {
    std::size_t checked = 0, underflowing = 0;
    double worst = 0.0;
    for (auto kernel : {MeanShiftKernel::laplace, MeanShiftKernel::gaussian}) {
        for (std::size_t d : {1, 2, 7}) {
            for (std::size_t n : {1, 5, 203}) {  // 5 and 203 are not multiples of the packed block
                const Matrix p = normal_matrix(n, d, 10 + d + n);
                Matrix x = normal_matrix(40, d, 20 + d + n, 1.5);
                for (std::size_t a = 0; a < d; ++a) x(0, a) = p(0, a);  // a query sitting on a point
                for (std::size_t a = 0; a < d; ++a) x(1, a) = 30.0 + a;  // a query far from every point
                for (double tau : {2.0, 0.3, 1e-3, 1e-5}) {
                    Matrix out;
                    mdlab::kernels::mean_shift(x, p, kernel, tau, out);
                    REQUIRE(mdlab::rows(out) == 40);
                    REQUIRE(mdlab::cols(out) == d);
                    for (std::size_t q = 0; q < 40; ++q) {
                        const Shift s = direct_shift(mdlab::row(x, q), p, kernel, tau);
                        const double err = abs_error(mdlab::row(out, q), s.m);
                        INFO(mdlab::kernels::to_string(kernel) << ", D = " << d << ", N = " << n << ", tau = " << tau
                                                               << ", query " << q << ": error " << err << " |m| "
                                                               << double(norm(s.m)));
                        CHECK(err <= tolerance(s));
                        if (norm(s.m) > 0) worst = std::max(worst, err / double(norm(s.m)));
                        underflowing += s.naive_underflow;
                        ++checked;
                    }
                }
            }
        }
    }
    WARN("mean shift vs long double: worst relative error " << worst << " over " << checked << " queries, "
         << underflowing << " of them where a plain exp underflows (0/0)");
    CHECK(underflowing >= checked / 8);  // the tiny-tau regime is really exercised
}

TEST_CASE("mean shift kernel: bit-identical for any thread count, Gaussian = tau^2 x softmax score", "[kernel]") {
    const Matrix p = normal_matrix(500, 3, 31);
    const Matrix x = normal_matrix(300, 3, 32, 1.4);
    for (auto kernel : {MeanShiftKernel::laplace, MeanShiftKernel::gaussian}) {
        Matrix one, two, many;
        tbb::task_arena(1).execute([&] { mdlab::kernels::mean_shift(x, p, kernel, 0.4, one); });
        tbb::task_arena(2).execute([&] { mdlab::kernels::mean_shift(x, p, kernel, 0.4, two); });
        mdlab::kernels::mean_shift(x, p, kernel, 0.4, many);
        CHECK(identical(one, two));
        CHECK(identical(one, many));
    }
    Matrix g, s;
    mdlab::kernels::mean_shift(x, p, MeanShiftKernel::gaussian, 0.4, g);
    const double v = 0.4 * 0.4;
    mdlab::kernels::softmax_score(x, p, 1.0, v, s);
    for (std::size_t k = 0; k < g.size(); ++k) CHECK(g.data()[k] == v * s.data()[k]);
    CHECK(mdlab::kernels::mean_shift_kernel("laplace") == MeanShiftKernel::laplace);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_kernel("cauchy"), mdlab::Error);
    Matrix out;
    CHECK_THROWS_AS(mdlab::kernels::mean_shift(x, p, MeanShiftKernel::laplace, 0.0, out), mdlab::Error);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift(x, normal_matrix(5, 2, 1), MeanShiftKernel::laplace, 1.0, out),
                    mdlab::Error);
}

// --------------------------------------------------------------------------- the estimator

TEST_CASE("drift (Gaussian kernel) is tau^2 times the difference of the empirical plugin's smoothed scores",
          "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(200, 3, 41));
    Matrix y = normal_matrix(150, 3, 42, 1.3);
    for (std::size_t i = 0; i < 150; ++i) y(i, 0) += 0.5;
    auto model = std::make_shared<const Matrix>(y);
    const Matrix x = normal_matrix(100, 3, 43, 1.5);
    double worst = 0.0;
    for (double tau : {1.0, 0.3, 0.05}) {
        INFO("tau = " << tau);
        auto drift = make_drift(R"({"kernel": "gaussian", "tau": )" + num(tau) + "}", data, model);
        auto attraction = make_drift(R"({"kernel": "gaussian", "tau": )" + num(tau) + "}", data);
        Matrix v, va, sx, sy;
        drift->score(x, 0.5, v);
        attraction->score(x, 0.5, va);
        make_empirical(data, tau)->score(x, 0.5, sx);
        make_empirical(model, tau)->score(x, 0.5, sy);
        const double t2 = tau * tau;
        for (std::size_t q = 0; q < 100; ++q) {
            double diff = 0, scale = 0, diff_a = 0, scale_a = 0;
            for (std::size_t a = 0; a < 3; ++a) {
                const double want = t2 * sx(q, a) - t2 * sy(q, a);
                diff += (v(q, a) - want) * (v(q, a) - want);
                // relative to the two terms (their difference may cancel)
                scale += t2 * t2 * (sx(q, a) * sx(q, a) + sy(q, a) * sy(q, a));
                diff_a += (va(q, a) - t2 * sx(q, a)) * (va(q, a) - t2 * sx(q, a));
                scale_a += t2 * t2 * sx(q, a) * sx(q, a);
            }
            worst = std::max({worst, std::sqrt(diff / scale), std::sqrt(diff_a / scale_a)});
            CHECK(std::sqrt(diff) <= 1e-12 * std::sqrt(scale));
            CHECK(std::sqrt(diff_a) <= 1e-12 * std::sqrt(scale_a));  // without a model: tau^2 s_X,tau
        }
    }
    WARN("Gaussian drift vs tau^2 (s_X - s_Y) from the empirical plugin: worst relative deviation " << worst);
}

TEST_CASE("drift (Laplace kernel, the default) equals the direct formula; time-independent", "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 2, 51));
    auto model = std::make_shared<const Matrix>(normal_matrix(120, 2, 52, 2.0));
    const Matrix x = normal_matrix(80, 2, 53, 1.2);
    std::size_t underflowing = 0;
    for (double tau : {0.5, 1e-4}) {
        INFO("tau = " << tau);
        auto drift = make_drift(R"({"tau": )" + num(tau) + "}", data, model);
        Matrix v, later;
        drift->score(x, 0.1, v);
        drift->score(x, 0.9, later);
        CHECK(identical(v, later));  // t is ignored
        for (std::size_t q = 0; q < 80; ++q) {
            const Shift a = direct_shift(mdlab::row(x, q), *data, MeanShiftKernel::laplace, tau);
            const Shift b = direct_shift(mdlab::row(x, q), *model, MeanShiftKernel::laplace, tau);
            std::vector<long double> want(2);
            for (std::size_t k = 0; k < 2; ++k) want[k] = a.m[k] - b.m[k];
            underflowing += a.naive_underflow;
            CHECK(abs_error(mdlab::row(v, q), want) <= tolerance(a) + tolerance(b));
        }
    }
    CHECK(underflowing > 40);
}

TEST_CASE("drift: process, dimension and parameter validation", "[drift]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(50, 2, 61));
    auto drift = make_drift("{}", data);
    CHECK(drift->dim() == 2);
    try {
        drift->process();
        FAIL("process() without a connected process must throw");
    } catch (const mdlab::Error& e) {
        const std::string what = e.what();
        CHECK(what.find("no forward process") != std::string::npos);
        CHECK(what.find("'process'") != std::string::npos);
    }
    std::shared_ptr<const mdlab::ForwardProcess> proc = std::make_shared<ConstantNoise>(0.3);
    auto with = make_drift("{}", data, nullptr, proc);
    CHECK(&with->process() == proc.get());

    auto wrong = std::make_shared<const Matrix>(normal_matrix(20, 3, 62));
    CHECK(error_key([&] { make_drift("{}", data, wrong); }) == "model");
    CHECK(error_key([&] { make_drift("{}", std::make_shared<const Matrix>(Matrix::from_shape({0, 2}))); }) == "data");
    Matrix nan = normal_matrix(10, 2, 63);
    nan(3, 1) = std::nan("");
    CHECK(error_key([&] { make_drift("{}", data, std::make_shared<const Matrix>(nan)); }) == "model");
    CHECK(error_key([&] { make_drift(R"({"kernel": "cauchy"})", data); }) == "kernel");
    CHECK(error_key([&] { make_drift(R"({"tau": 0})", data); }) == "tau");
    CHECK(error_key([&] { make_drift(R"({"tau": 1e-200})", data); }) == "tau");
    Matrix out;
    CHECK_THROWS_AS(drift->score(normal_matrix(4, 3, 64), 0.5, out), mdlab::Error);
}

// ------------------------------------------------------------------------------ the metric

TEST_CASE("drift_score_gap equals a direct computation of its four figures", "[drift_score_gap]") {
    auto y = std::make_shared<const Matrix>(normal_matrix(40, 3, 71, 1.3));
    auto x = std::make_shared<const Matrix>(normal_matrix(60, 3, 72));
    const double tau = 0.7;
    for (const char* kernel : {"laplace", "gaussian"})
        for (double score_tau : {0.0, 1.1}) {  // 0: the score term at b = tau
            const auto k = mdlab::kernels::mean_shift_kernel(kernel);
            const double b = score_tau > 0 ? score_tau : tau;
            long double drift2 = 0, score2 = 0, gap2 = 0, cos = 0;
            for (std::size_t i = 0; i < 40; ++i) {
                const double* q = mdlab::row(*y, i);
                const Shift vx = direct_shift(q, *x, k, tau), vy = direct_shift(q, *y, k, tau);
                // b^2 s_P,b is the Gaussian mean shift at bandwidth b
                const Shift gx = direct_shift(q, *x, MeanShiftKernel::gaussian, b),
                            gy = direct_shift(q, *y, MeanShiftKernel::gaussian, b);
                long double vv = 0, gg = 0, vg = 0, dd = 0;
                for (std::size_t a = 0; a < 3; ++a) {
                    const long double v = vx.m[a] - vy.m[a], g = gx.m[a] - gy.m[a];
                    vv += v * v, gg += g * g, vg += v * g, dd += (v - g) * (v - g);
                }
                drift2 += vv, score2 += gg, gap2 += dd, cos += vg / std::sqrt(vv * gg);
            }
            const auto r = gap(std::string(R"({"tau": 0.7, "score_tau": )") + num(score_tau) + R"(, "kernel": ")" +
                                   kernel + "\"}",
                               y, x);
            INFO(kernel << ", score_tau " << score_tau);
            CHECK(value(r, "n_queries") == 40);
            CHECK(value(r, "drift_rms") == Approx(double(std::sqrt(drift2 / 40))).epsilon(1e-12));
            CHECK(value(r, "score_gap_rms") == Approx(double(std::sqrt(score2 / 40))).epsilon(1e-12));
            if (k == MeanShiftKernel::gaussian && score_tau == 0.0) {
                CHECK(double(std::sqrt(gap2 / drift2)) <= 1e-15);  // the identity, in long double
                CHECK(value(r, "relative_gap") <= 1e-13);
                CHECK(value(r, "cosine") == Approx(1.0).epsilon(1e-13));
            } else {
                CHECK(double(std::sqrt(gap2 / drift2)) >= 0.01);  // a real gap, measured to 1e-10
                CHECK(value(r, "relative_gap") == Approx(double(std::sqrt(gap2 / drift2))).epsilon(1e-10));
                CHECK(value(r, "cosine") == Approx(double(cos / 40)).epsilon(1e-12));
            }
        }
}

TEST_CASE("drift_score_gap: Gaussian kernel ~ 0; Laplace gap shrinks at low temperature (claim 4)",
          "[drift_score_gap][claim4]") {
    std::ostringstream report;
    for (std::size_t d : {2, 16}) {
        // Data on the unit circle (spacing 2 pi / 600 = 0.01), model samples near it.
        auto data = std::make_shared<const Matrix>(circle(600, d, 0.0, 80 + d));
        auto model = std::make_shared<const Matrix>(circle(300, d, 0.05, 90 + d));
        const std::vector<double> taus = {0.3, 0.1, 0.03, 0.01, 0.003};
        std::vector<double> gaps;
        report << "circle in R^" << d << ", Laplace relative gap (cosine):";
        for (double tau : taus) {
            const auto g = gap(R"({"kernel": "gaussian", "tau": )" + num(tau) + "}", model, data);
            const auto l = gap(R"({"kernel": "laplace", "tau": )" + num(tau) + "}", model, data);
            INFO("D = " << d << ", tau = " << tau);
            CHECK(value(g, "relative_gap") <= 1e-13);
            gaps.push_back(value(l, "relative_gap"));
            report << " tau " << tau << ": " << gaps.back() << " (" << value(l, "cosine") << ");";
        }
        INFO(report.str());
        // Direction only, with margin: at the lowest temperature the gap is well below its value at
        // the data scale (both weightings then pick the nearest data point).
        CHECK(gaps.back() < 0.5 * gaps.front());
        report << "\n";
    }
    WARN(report.str());
}

TEST_CASE("drift_score_gap: in high dimension the Laplace drift is a smoothed score difference at b = sqrt(R tau)",
          "[drift_score_gap][claim4]") {
    // X ~ N(0, I_D), Y ~ N(0.5 e_1, 1.5^2 I_D); R = median distance from the samples to the data.
    // Distances concentrate as D grows, so exp(-r / tau) ~ exp(-(r^2 - R^2) / (2 R tau)).
    const double tau = 0.3;
    std::ostringstream report;
    std::vector<double> matched;
    for (std::size_t d : {8, 128}) {
        Matrix y = normal_matrix(300, d, 110 + d, 1.5);
        for (std::size_t i = 0; i < 300; ++i) y(i, 0) += 0.5;
        auto model = std::make_shared<const Matrix>(y);
        auto data = std::make_shared<const Matrix>(normal_matrix(500, d, 120 + d));
        std::vector<double> dist;
        for (std::size_t i = 0; i < 300; ++i)
            for (std::size_t j = 0; j < 500; ++j) {
                double s = 0;
                for (std::size_t a = 0; a < d; ++a) s += (y(i, a) - (*data)(j, a)) * (y(i, a) - (*data)(j, a));
                dist.push_back(std::sqrt(s));
            }
        std::nth_element(dist.begin(), dist.begin() + dist.size() / 2, dist.end());
        const double r = dist[dist.size() / 2], b = std::sqrt(r * tau);
        const auto same = gap(R"({"tau": 0.3})", model, data);
        const auto at_b = gap(R"({"tau": 0.3, "score_tau": )" + num(b) + "}", model, data);
        matched.push_back(value(at_b, "relative_gap"));
        report << "D = " << d << " (R = " << r << "): Laplace relative gap " << value(same, "relative_gap")
               << " against b = tau, " << matched.back() << " against b = sqrt(R tau) = " << b << "; ";
    }
    INFO(report.str());
    CHECK(matched[1] < 0.5 * matched[0]);
    WARN(report.str());
}

TEST_CASE("drift_score_gap: query subsets, reproducibility, validation", "[drift_score_gap]") {
    auto data = std::make_shared<const Matrix>(circle(300, 3, 0.0, 101));
    auto model = std::make_shared<const Matrix>(circle(200, 3, 0.05, 102));
    const auto all = gap(R"({"tau": 0.2})", model, data);
    const auto big = gap(R"({"tau": 0.2, "queries": 500})", model, data);
    CHECK(value(all, "n_queries") == 200);
    CHECK(value(big, "relative_gap") == value(all, "relative_gap"));
    const auto sub = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto again = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto other = gap(R"({"tau": 0.2, "queries": 50})", model, data, 6);
    CHECK(value(sub, "n_queries") == 50);
    CHECK(value(sub, "relative_gap") == value(again, "relative_gap"));
    CHECK(value(sub, "drift_rms") != value(other, "drift_rms"));

    auto wrong = std::make_shared<const Matrix>(normal_matrix(10, 2, 103));
    CHECK(error_key([&] { gap("{}", model, wrong); }) == "data");
    Matrix nan = *model;
    nan(7, 2) = std::nan("");
    CHECK(error_key([&] { gap("{}", std::make_shared<const Matrix>(nan), data); }) == "samples");
    CHECK(error_key([&] { gap(R"({"kernel": "box"})", model, data); }) == "kernel");
    CHECK(error_key([&] { gap(R"({"tau": -1})", model, data); }) == "tau");
    CHECK(error_key([&] { gap(R"({"queries": -1})", model, data); }) == "queries");
    CHECK(error_key([&] { gap(R"({"score_tau": -1})", model, data); }) == "score_tau");
}
