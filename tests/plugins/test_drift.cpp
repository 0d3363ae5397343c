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
#include <mdlab/kernels/mean_shift_decomposition.hpp>

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

// ------------------------------------------------------------- the exact decomposition (claim 4)

namespace {

// Direct decomposition in long double, by the other route: the score s = grad log sum_j K(|x - p_j|)
// by central differences of the log kernel sum, lambda = 1 / E_w[g], and R = m - lambda s.
struct Parts {
    std::vector<long double> m, s, r;
    long double lambda = 0;
};

long double log_kernel_sum(const std::vector<long double>& x, const Matrix& p, MeanShiftKernel kernel, double tau,
                           std::size_t skip) {
    std::vector<long double> l;
    for (std::size_t j = 0; j < mdlab::rows(p); ++j) {
        if (j == skip) continue;
        long double q = 0;
        for (std::size_t a = 0; a < x.size(); ++a) q += (p(j, a) - x[a]) * (p(j, a) - x[a]);
        l.push_back(kernel == MeanShiftKernel::gaussian ? -q / (2.0L * tau * tau) : -std::sqrt(q) / tau);
    }
    const long double top = *std::max_element(l.begin(), l.end());
    long double z = 0;
    for (auto v : l) z += std::exp(v - top);
    return top + std::log(z);
}

Parts direct_parts(const double* x, const Matrix& p, MeanShiftKernel kernel, double tau, std::size_t skip) {
    const std::size_t n = mdlab::rows(p), d = mdlab::cols(p);
    Matrix kept = Matrix::from_shape({n - (skip < n ? 1 : 0), d});
    for (std::size_t j = 0, k = 0; j < n; ++j)
        if (j != skip) std::copy(mdlab::row(p, j), mdlab::row(p, j) + d, mdlab::row(kept, k++));
    Parts r;
    r.m = direct_shift(x, kept, kernel, tau).m;
    // E_w[g] with w the kernel weights, g = 1/tau^2 or 1/(tau r).
    long double top = -std::numeric_limits<long double>::infinity(), z = 0, gz = 0;
    std::vector<long double> l(mdlab::rows(kept)), g(l.size());
    for (std::size_t j = 0; j < l.size(); ++j) {
        long double q = 0;
        for (std::size_t a = 0; a < d; ++a) q += (kept(j, a) - x[a]) * (kept(j, a) - x[a]);
        l[j] = kernel == MeanShiftKernel::gaussian ? -q / (2.0L * tau * tau) : -std::sqrt(q) / tau;
        g[j] = kernel == MeanShiftKernel::gaussian ? 1.0L / ((long double)tau * tau) : 1.0L / (tau * std::sqrt(q));
        top = std::max(top, l[j]);
    }
    for (std::size_t j = 0; j < l.size(); ++j) z += std::exp(l[j] - top), gz += std::exp(l[j] - top) * g[j];
    r.lambda = z / gz;
    std::vector<long double> xv(x, x + d);
    const long double h = 1e-4L * tau;
    r.s.assign(d, 0);
    r.r.assign(d, 0);
    for (std::size_t a = 0; a < d; ++a) {  // fourth-order central difference
        auto at = [&](long double t) {
            auto y = xv;
            y[a] += t;
            return log_kernel_sum(y, p, kernel, tau, skip);
        };
        r.s[a] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        r.r[a] = r.m[a] - r.lambda * r.s[a];
    }
    return r;
}

double distance(const double* got, const std::vector<long double>& want, long double scale = 1) {
    long double e = 0;
    for (std::size_t a = 0; a < want.size(); ++a) e += (got[a] - scale * want[a]) * (got[a] - scale * want[a]);
    return double(std::sqrt(e));
}

}  // namespace

TEST_CASE("mean shift = lambda x smoothed score + residual, exactly; each part against a direct computation",
          "[kernel][claim4]") {
    double worst_identity = 0.0, worst_gaussian_residual = 0.0;
    for (auto kernel : {MeanShiftKernel::gaussian, MeanShiftKernel::laplace})
        for (std::size_t d : {2, 7, 40})
            for (double tau : {1.5, 0.3, 0.05}) {
                const Matrix p = normal_matrix(120, d, 200 + d);
                const Matrix x = normal_matrix(12, d, 300 + d, 1.2);
                mdlab::kernels::MeanShiftParts parts;
                mdlab::kernels::mean_shift_parts(x, p, kernel, tau, {}, parts);
                Matrix streamed;
                mdlab::kernels::mean_shift(x, p, kernel, tau, streamed);
                for (std::size_t q = 0; q < 12; ++q) {
                    INFO(mdlab::kernels::to_string(kernel) << ", D = " << d << ", tau = " << tau << ", query " << q);
                    const Parts want = direct_parts(mdlab::row(x, q), p, kernel, tau, mdlab::kernels::keep_all);
                    const double m = double(norm(want.m));
                    // The shift equals the streaming kernel's; m = lambda s + R holds to rounding.
                    CHECK(distance(mdlab::row(parts.shift, q), want.m) <= 1e-12 * m);
                    CHECK(distance(mdlab::row(streamed, q), want.m) <= 1e-12 * m);
                    double id = 0.0;
                    for (std::size_t a = 0; a < d; ++a) {
                        const double e = parts.shift(q, a) - parts.scale[q] * parts.score(q, a) - parts.residual(q, a);
                        id += e * e;
                    }
                    CHECK(std::sqrt(id) <= 1e-14 * m);
                    worst_identity = std::max(worst_identity, std::sqrt(id) / m);
                    // The score is the gradient of the log kernel sum (finite differences, 1e-7).
                    CHECK(distance(mdlab::row(parts.score, q), want.s) <= 1e-7 * double(norm(want.s)));
                    CHECK(parts.scale[q] == Approx(double(want.lambda)).epsilon(1e-12));
                    CHECK(distance(mdlab::row(parts.residual, q), want.r) <= 1e-7 * m);
                    if (kernel == MeanShiftKernel::gaussian) {
                        // Tweedie: lambda = tau^2 and no residual (the Gaussian identity).
                        CHECK(parts.scale[q] == Approx(tau * tau).epsilon(1e-14));
                        CHECK(parts.spread[q] == 0.0);
                        double res = 0.0;
                        for (std::size_t a = 0; a < d; ++a) res += parts.residual(q, a) * parts.residual(q, a);
                        res = std::sqrt(res);
                        CHECK(res <= 1e-14 * m);
                        worst_gaussian_residual = std::max(worst_gaussian_residual, res / m);
                    } else {
                        // a real residual (at tau = 0.05 the nearest point carries the weight: R -> 0)
                        if (tau >= 0.3) CHECK(double(norm(want.r)) >= 1e-3 * m);
                        CHECK(parts.spread[q] > 0.0);
                    }
                }
            }
    WARN("m - lambda s - R: worst " << worst_identity << " of |m|; Gaussian |R|: worst " << worst_gaussian_residual
                                    << " of |m|");
}

TEST_CASE("mean shift decomposition: self-exclusion, thread count, coincident points", "[kernel][claim4]") {
    const Matrix p = normal_matrix(300, 5, 401);
    std::vector<std::size_t> skip(300);
    for (std::size_t i = 0; i < 300; ++i) skip[i] = i;
    mdlab::kernels::MeanShiftParts one, many;
    tbb::task_arena(1).execute(
        [&] { mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, skip, one); });
    mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, skip, many);
    CHECK(identical(one.shift, many.shift));
    CHECK(identical(one.residual, many.residual));
    CHECK(one.scale == many.scale);
    for (std::size_t q : {0, 17, 299}) {  // leaving point q out = the decomposition against the others
        const Parts want = direct_parts(mdlab::row(p, q), p, MeanShiftKernel::laplace, 0.4, q);
        CHECK(distance(mdlab::row(one.shift, q), want.m) <= 1e-12 * double(norm(want.m)));
        CHECK(distance(mdlab::row(one.residual, q), want.r) <= 1e-7 * double(norm(want.m)));
    }
    mdlab::kernels::MeanShiftParts out;
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, {}, out), mdlab::Error);
    CHECK_NOTHROW(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::gaussian, 0.4, {}, out));
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, {1, 2}, out), mdlab::Error);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.0, skip, out), mdlab::Error);
}

TEST_CASE("Laplace residual on the sphere S^k: the population value by quadrature, -> 2/(k+1) at low tau",
          "[kernel][claim4]") {
    // Uniform law on the unit sphere S^k, query x on it. A point at polar angle theta from x is at
    // distance r = 2 sin(theta/2), its displacement has the radial part -(1 - cos theta) x and a
    // tangential part that averages to 0. With w ~ sin^(k-1)(theta) exp(-r/tau) and w~ = w / r:
    // m = -E_w[1 - cos] x, lambda s = -E_w~[1 - cos] x, so |R| / |m| = 1 - E_w~[1 - cos] / E_w[1 - cos],
    // which tends to 2/(k+1) as tau -> 0 (r ~ Gamma(k, tau) under w, Gamma(k - 1, tau) under w~).
    auto population = [](int k, double tau) {
        const int n = 200000;  // Simpson on (0, pi]
        long double a = 0, b = 0, za = 0, zb = 0;
        for (int i = 1; i <= n; ++i) {
            const double th = 3.141592653589793 * i / n, r = 2 * std::sin(th / 2);
            const double c = i == n ? 1 : (i % 2 ? 4 : 2);
            const long double w = c * std::pow(std::sin(th), k - 1) * std::exp(-r / tau);
            a += w * (1 - std::cos(th)), za += w, b += w / r * (1 - std::cos(th)), zb += w / r;
        }
        return double(1 - (b / zb) / (a / za));
    };
    CHECK(population(2, 1e-3) == Approx(2.0 / 3).epsilon(5e-3));  // the limit is reached at rate O(tau)
    CHECK(population(8, 1e-3) == Approx(2.0 / 9).epsilon(5e-3));
    auto sphere = [](std::size_t n, int k, std::uint64_t seed) {
        mdlab::Rng rng(seed);
        Matrix x = Matrix::from_shape({n, std::size_t(k + 1)});
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (int a = 0; a <= k; ++a) s += (x(i, a) = rng.normal()) * x(i, a);
            for (int a = 0; a <= k; ++a) x(i, a) /= std::sqrt(s);
        }
        return x;
    };
    std::ostringstream report;
    for (int k : {2, 4})
        for (double tau : {1.0, 0.3}) {
            const Matrix p = sphere(20000, k, 500 + k), q = sphere(200, k, 600 + k);
            mdlab::kernels::MeanShiftParts parts;
            mdlab::kernels::mean_shift_parts(q, p, MeanShiftKernel::laplace, tau, {}, parts);
            long double r2 = 0, m2 = 0;
            for (std::size_t k2 = 0; k2 < parts.shift.size(); ++k2)
                r2 += parts.residual.data()[k2] * parts.residual.data()[k2],
                    m2 += parts.shift.data()[k2] * parts.shift.data()[k2];
            const double measured = double(std::sqrt(r2 / m2)), want = population(k, tau);
            report << "S^" << k << ", tau " << tau << ": " << measured << " (population " << want << "); ";
            INFO(report.str());
            CHECK(measured == Approx(want).epsilon(0.01));  // measured within 0.2% at N = 20000
        }
    WARN("Laplace |R|/|m| on S^k: " << report.str());
}

// ------------------------------------------------------------------------------ the metric

TEST_CASE("drift_score_gap equals a direct computation of its figures, self-interaction masked",
          "[drift_score_gap][claim4]") {
    auto y = std::make_shared<const Matrix>(normal_matrix(40, 3, 71, 1.3));
    auto x = std::make_shared<const Matrix>(normal_matrix(60, 3, 72));
    for (const char* kernel : {"laplace", "gaussian"}) {
        const auto k = mdlab::kernels::mean_shift_kernel(kernel);
        long double rx2 = 0, mx2 = 0, ry2 = 0, my2 = 0, rv2 = 0, v2 = 0;
        for (std::size_t i = 0; i < 40; ++i) {
            const double* q = mdlab::row(*y, i);
            const Parts px = direct_parts(q, *x, k, 0.7, mdlab::kernels::keep_all), py = direct_parts(q, *y, k, 0.7, i);
            for (std::size_t a = 0; a < 3; ++a) {
                rx2 += px.r[a] * px.r[a], mx2 += px.m[a] * px.m[a], ry2 += py.r[a] * py.r[a], my2 += py.m[a] * py.m[a];
                rv2 += (px.r[a] - py.r[a]) * (px.r[a] - py.r[a]), v2 += (px.m[a] - py.m[a]) * (px.m[a] - py.m[a]);
            }
        }
        const auto r = gap(std::string(R"({"tau": 0.7, "kernel": ")") + kernel + "\"}", y, x);
        INFO(kernel);
        CHECK(value(r, "n_queries") == 40);
        CHECK(value(r, "drift_rms") == Approx(double(std::sqrt(v2 / 40))).epsilon(1e-12));
        CHECK(value(r, "identity_error") <= 1e-14);
        if (k == MeanShiftKernel::gaussian) {
            CHECK(value(r, "residual_rel") <= 1e-14);
            CHECK(value(r, "drift_residual_rel") <= 1e-13);
            CHECK(value(r, "cosine") == Approx(1.0).epsilon(1e-13));
            CHECK(value(r, "spread") == 0.0);
        } else {
            CHECK(double(std::sqrt(rx2 / mx2)) >= 0.01);  // a real residual, measured to 1e-6
            CHECK(value(r, "residual_rel") == Approx(double(std::sqrt(rx2 / mx2))).epsilon(1e-6));
            CHECK(value(r, "model_residual_rel") == Approx(double(std::sqrt(ry2 / my2))).epsilon(1e-6));
            CHECK(value(r, "drift_residual_rel") == Approx(double(std::sqrt(rv2 / v2))).epsilon(1e-6));
            CHECK(value(r, "spread") > 0.0);
        }
    }
}

TEST_CASE("drift_score_gap: on a manifold the Laplace residual depends on the intrinsic, not the ambient, dimension",
          "[drift_score_gap][claim4]") {
    // The same circle points in R^2 and embedded by a random isometry in R^40: every distance is
    // the same, so the decomposition is too (to rounding); the residual is O(1) at the data scale.
    auto embed = [](const Matrix& z) {
        mdlab::Rng rng(77);
        const mdlab::Isometry iso = mdlab::Isometry::random(40, 2, rng);
        Matrix x = Matrix::from_shape({mdlab::rows(z), 40});
        for (std::size_t i = 0; i < mdlab::rows(z); ++i) iso.embed_row(mdlab::row(z, i), mdlab::row(x, i));
        return std::make_shared<const Matrix>(x);
    };
    auto data2 = std::make_shared<const Matrix>(circle(400, 2, 0.0, 130));
    auto model2 = std::make_shared<const Matrix>(circle(100, 2, 0.0, 131));
    auto data40 = embed(*data2), model40 = embed(*model2);
    const auto low = gap(R"({"tau": 0.2})", model2, data2), high = gap(R"({"tau": 0.2})", model40, data40);
    for (const char* name : {"residual_rel", "model_residual_rel", "drift_residual_rel", "spread"})
        CHECK(value(low, name) == Approx(value(high, name)).epsilon(1e-9));
    CHECK(value(low, "residual_rel") > 0.3);
    WARN("circle, tau 0.2: Laplace residual_rel " << value(low, "residual_rel") << " in R^2, "
                                                  << value(high, "residual_rel") << " in R^40");
}

TEST_CASE("drift_score_gap: query subsets, reproducibility, validation", "[drift_score_gap]") {
    auto data = std::make_shared<const Matrix>(circle(300, 3, 0.0, 101));
    auto model = std::make_shared<const Matrix>(circle(200, 3, 0.05, 102));
    const auto all = gap(R"({"tau": 0.2})", model, data);
    const auto big = gap(R"({"tau": 0.2, "queries": 500})", model, data);
    CHECK(value(all, "n_queries") == 200);
    CHECK(value(big, "residual_rel") == value(all, "residual_rel"));
    const auto sub = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto again = gap(R"({"tau": 0.2, "queries": 50})", model, data, 5);
    const auto other = gap(R"({"tau": 0.2, "queries": 50})", model, data, 6);
    CHECK(value(sub, "n_queries") == 50);
    CHECK(value(sub, "model_residual_rel") == value(again, "model_residual_rel"));
    CHECK(value(sub, "drift_rms") != value(other, "drift_rms"));

    auto wrong = std::make_shared<const Matrix>(normal_matrix(10, 2, 103));
    CHECK(error_key([&] { gap("{}", model, wrong); }) == "data");
    Matrix nan = *model;
    nan(7, 2) = std::nan("");
    CHECK(error_key([&] { gap("{}", std::make_shared<const Matrix>(nan), data); }) == "samples");
    CHECK(error_key([&] { gap(R"({"kernel": "box"})", model, data); }) == "kernel");
    CHECK(error_key([&] { gap(R"({"tau": -1})", model, data); }) == "tau");
    CHECK(error_key([&] { gap(R"({"queries": -1})", model, data); }) == "queries");
    CHECK(error_key([&] { gap(R"({"mask_self": false})", model, data); }) == "mask_self");
    CHECK(error_key([&] { gap(R"({"kernel": "gaussian", "mask_self": false})", model, data); }) == "<none>");
}
