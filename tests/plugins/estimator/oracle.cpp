// The oracle score estimator against independent computations of the true noised score:
// Gaussian data (-(a^2 S + s^2 I)^{-1} (x - a m), solved here by elimination in long double),
// a Gaussian mixture (its softmax over the components in long double), the uniform and the
// von Mises circle (Bessel-function closed forms) and the uniform sphere S^2 (Langevin function);
// convergence of the quadrature under refinement; and its refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

namespace {

using mdlab::Matrix;
using LD = long double;

struct Setup {
    std::shared_ptr<mdlab::test::TestContext> ctx;  // the manifold's node: its embedding streams
    std::shared_ptr<mdlab::Manifold> manifold;
};

Setup setup(const std::string& name, const std::string& params, std::uint64_t seed = 11) {
    Setup s;
    s.ctx = std::make_shared<mdlab::test::TestContext>(seed, "manifold");
    s.manifold = mdlab::test::make<mdlab::Manifold>(name, params);
    s.manifold->prepare(*s.ctx);
    return s;
}

std::shared_ptr<const mdlab::ForwardProcess> vp() { return mdlab::test::make<mdlab::ForwardProcess>("vp"); }

// The VP time where sigma(t) / alpha(t) = ratio (increasing in t).
double time_for_ratio(const mdlab::ForwardProcess& p, double ratio) {
    double lo = 0.0, hi = p.t_end();
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        (p.sigma(mid) / p.alpha(mid) < ratio ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

std::shared_ptr<mdlab::ScoreEstimator> oracle(const std::shared_ptr<const mdlab::Manifold>& m,
                                              const std::string& params = "{}",
                                              std::shared_ptr<const mdlab::ForwardProcess> proc = nullptr) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("oracle", params);
    mdlab::Inputs in;
    in.set("manifold", m);
    in.set("process", proc ? proc : vp());
    mdlab::test::TestContext ctx(7, "oracle");
    est->prepare(in, ctx);
    return est;
}

// Query points: noised draws of the data law (where p_t has its mass) and, every fourth one,
// points at the data's scale anywhere.
Matrix queries(const mdlab::Manifold& m, std::size_t n, double a, double s, std::uint64_t seed) {
    mdlab::test::TestContext ctx(seed, "queries");
    const Matrix x0 = m.sample(n, ctx.stream("x0"));
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape(x0.shape());
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < mdlab::cols(x); ++j)
            x(i, j) = i % 4 == 3 ? rng.normal() : a * x0(i, j) + s * rng.normal();
    return x;
}

double rel_error(const double* got, const std::vector<LD>& want) {
    LD num = 0, den = 0;
    for (std::size_t j = 0; j < want.size(); ++j) {
        num += (got[j] - want[j]) * (got[j] - want[j]);
        den += want[j] * want[j];
    }
    return double(std::sqrt(num / den));
}

double norm_of(const std::vector<LD>& v) {
    LD s = 0;
    for (LD x : v) s += x * x;
    return double(std::sqrt(s));
}

// Largest relative row error of `got` against want(row) over all rows.
double worst_error(const Matrix& x, const Matrix& got, const std::function<std::vector<LD>(const double*)>& want) {
    double worst = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) worst = std::max(worst, rel_error(mdlab::row(got, i), want(mdlab::row(x, i))));
    return worst;
}

// r[j] = I_j(x) / I_{j-1}(x) for j = 1..n by Miller's backward recurrence
// r_j = 1 / (2 j / x + r_{j+1}), started far above max(x, n) with r = 0 (independent of
// std::cyl_bessel_i, and free of overflow at any x).
std::vector<LD> bessel_ratios(LD x, std::size_t n) {
    std::vector<LD> r(n + 1, 0);
    if (x == 0) return r;
    const long start = static_cast<long>(std::max<LD>(LD(n) + 20, x + 60.0L * std::sqrt(x + 1.0L) + 100.0L));
    LD q = 0;
    for (long j = start; j >= 1; --j) {
        q = 1.0L / (2.0L * j / x + q);
        if (j <= static_cast<long>(n)) r[j] = q;
    }
    return r;
}
LD bessel_ratio(LD x) { return bessel_ratios(x, 1)[1]; }

// The noised uniform circle of radius R centred at 0, at a point x with in-plane radius rho
// and radial unit u = P x / rho: the density is proportional to exp(-|x|^2 / (2 s^2)) I0(kappa),
// kappa = a R rho / s^2, so s(x) = -x / s^2 + f A(kappa) u with f = a R / s^2, A = I1 / I0.
// project() puts x at R u, which gives u and rho without knowing the embedding.
struct CircleScore {
    std::vector<LD> score;
    LD kappa = 0, f = 0, x_term = 0;  // x_term = |x| / s^2
};
CircleScore circle_score(const double* x, const double* on_circle, std::size_t D, double R, double a, double s) {
    LD rho = 0, x2 = 0;
    for (std::size_t j = 0; j < D; ++j) rho += LD(on_circle[j]) / R * x[j], x2 += LD(x[j]) * x[j];
    CircleScore c;
    const LD s2 = LD(s) * s;
    c.kappa = LD(a) * R * rho / s2;
    c.f = LD(a) * R / s2;
    c.x_term = std::sqrt(x2) / s2;
    const LD fa = c.f * bessel_ratio(c.kappa);
    c.score.resize(D);
    for (std::size_t j = 0; j < D; ++j) c.score[j] = -LD(x[j]) / s2 + fa * LD(on_circle[j]) / R;
    return c;
}

// Bound on the error of the n-node periodic trapezoid rule for this score. With
// exp(kappa cos psi) = sum_m I_m(kappa) e^{i m psi}, the rule replaces the normaliser I_0 by
// I_0 + 2 sum_l I_{ln} cos(l n phi) and the first moment I_1 by I_1 + sum_l (I_{ln-1} + I_{ln+1})
// (times phases), so |error of M / Z| <= (I_{n-1} + I_{n+1} + A 2 I_n) / (I_0 - 2 I_n) up to the
// l >= 2 aliases (relatively smaller by I_{2n} / I_n); times f. Plus rounding: 1e-12 of the
// score (the accuracy asked of every softmax evaluation; its logits are as large as
// (|x|^2 + a^2 R^2) / (2 s^2)) and a few ulps of the closed form's two large terms |x| / s^2 and
// f (the reference's own u and x are doubles).
double norm_of(const std::vector<LD>& v);
double trapezoid_tolerance(const CircleScore& c, std::size_t n) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    const std::vector<LD> r = bessel_ratios(c.kappa, n + 1);
    LD in = 1;  // I_j / I_0, built up as j goes to n + 1
    LD i_nm1 = 0, i_n = 0, i_np1 = 0;
    for (std::size_t j = 1; j <= n + 1; ++j) {
        in *= r[j];
        if (j == n - 1) i_nm1 = in;
        if (j == n) i_n = in;
        if (j == n + 1) i_np1 = in;
    }
    const LD A = r[1];
    const LD denom = 1 - 2 * i_n;
    const LD bound = denom > 0 ? c.f * (i_nm1 + i_np1 + 2 * A * i_n) / denom : std::numeric_limits<LD>::infinity();
    return double(bound) + 1e-12 * norm_of(c.score) + 16 * eps * double(c.x_term + c.f);
}

}  // namespace

TEST_CASE("bessel_ratio of the test agrees with std::cyl_bessel_i", "[oracle][reference]") {
    for (double x : {1e-3, 0.5, 3.0, 40.0, 300.0}) {
        CHECK(double(bessel_ratio(x)) == Approx(std::cyl_bessel_i(1.0, x) / std::cyl_bessel_i(0.0, x)).epsilon(1e-14));
        const std::vector<LD> r = bessel_ratios(x, 12);
        CHECK(double(r[12]) == Approx(std::cyl_bessel_i(12.0, x) / std::cyl_bessel_i(11.0, x)).epsilon(1e-13));
    }
}

TEST_CASE("oracle on Gaussian data: the closed form -(a^2 S + s^2 I)^-1 x, and quadrature converging to it",
          "[oracle][gaussian]") {
    const std::size_t D = 5, k = 2;
    const double scale = 0.8;
    auto s = setup("linear_subspace", R"({"k": 2, "ambient_dim": 5, "scale": 0.8})");
    auto proc = vp();
    auto closed = oracle(s.manifold);
    REQUIRE(closed->dim() == D);
    // Q from the manifold's own tangent bases (the columns of its embedding).
    mdlab::TangentBases qb;
    Matrix origin = Matrix::from_shape({1, D});
    std::fill(origin.begin(), origin.end(), 0.0);
    s.manifold->tangent_bases(origin, qb);
    std::vector<std::shared_ptr<mdlab::ScoreEstimator>> quad;
    const std::vector<int> res = {8, 16, 32, 64};
    for (int r : res) quad.push_back(oracle(s.manifold, R"({"method": "quadrature", "resolution": )" + std::to_string(r) + "}"));
    for (double t : {0.9, 0.3, 0.15}) {
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const Matrix x = queries(*s.manifold, 40, a, sg, 21);
        // Sigma = a^2 scale^2 Q Q^T + s^2 I; solve Sigma y = x by Gaussian elimination (pivoting).
        auto want = [&](const double* xq) {
            std::vector<LD> m(D * (D + 1));
            for (std::size_t i = 0; i < D; ++i) {
                for (std::size_t j = 0; j < D; ++j) {
                    LD qq = 0;
                    for (std::size_t c = 0; c < k; ++c) qq += LD(qb(0, i, c)) * qb(0, j, c);
                    m[i * (D + 1) + j] = LD(a) * a * scale * scale * qq + (i == j ? LD(sg) * sg : 0);
                }
                m[i * (D + 1) + D] = xq[i];  // data mean 0
            }
            for (std::size_t c = 0; c < D; ++c) {
                std::size_t piv = c;
                for (std::size_t r = c + 1; r < D; ++r)
                    if (std::abs(m[r * (D + 1) + c]) > std::abs(m[piv * (D + 1) + c])) piv = r;
                for (std::size_t j = 0; j <= D; ++j) std::swap(m[c * (D + 1) + j], m[piv * (D + 1) + j]);
                for (std::size_t r = c + 1; r < D; ++r) {
                    const LD f = m[r * (D + 1) + c] / m[c * (D + 1) + c];
                    for (std::size_t j = c; j <= D; ++j) m[r * (D + 1) + j] -= f * m[c * (D + 1) + j];
                }
            }
            std::vector<LD> y(D);
            for (std::size_t i = D; i-- > 0;) {
                LD v = m[i * (D + 1) + D];
                for (std::size_t j = i + 1; j < D; ++j) v -= m[i * (D + 1) + j] * y[j];
                y[i] = v / m[i * (D + 1) + i];
            }
            for (LD& c : y) c = -c;  // the score is -Sigma^-1 x
            return y;
        };
        Matrix got;
        closed->score(x, t, got);
        const double e_closed = worst_error(x, got, want);
        INFO("t = " << t << " (alpha " << a << ", sigma " << sg << ")");
        CHECK(e_closed <= 1e-13);
        // Gauss-Hermite tensor quadrature (weighted kernel): the integrand exp(-|x - a Q z|^2 / (2 s^2))
        // is entire in z, so the error falls faster than geometrically in the resolution.
        std::vector<double> err;
        for (auto& q : quad) {
            q->score(x, t, got);
            err.push_back(worst_error(x, got, want));
        }
        WARN("Gaussian plane, t = " << t << ": closed form error " << e_closed << "; Gauss-Hermite errors at 8/16/32/64 "
             "nodes per dimension " << err[0] << " " << err[1] << " " << err[2] << " " << err[3]);
        for (std::size_t i = 1; i < err.size(); ++i)
            CHECK((err[i] <= err[i - 1] / 8.0 || err[i] <= 1e-12));  // at least 3 bits per doubling
        CHECK(err.back() <= 1e-12);
    }
}

TEST_CASE("oracle on Gaussian data with normal noise: Sigma_t s = -x with the noise in Sigma_t", "[oracle][gaussian]") {
    // x0 = Q z + n, z ~ N(0, scale^2 I_k), n ~ N(0, s_n^2 (I - Q Q^T)):
    // Sigma_t = a^2 (scale^2 Q Q^T + s_n^2 (I - Q Q^T)) + s^2 I, and the score is -Sigma_t^-1 x.
    const std::size_t D = 5, k = 2;
    const double scale = 0.8, s_n = 0.3;
    auto s = setup("linear_subspace", R"({"k": 2, "ambient_dim": 5, "scale": 0.8, "noise": 0.3})");
    auto proc = vp();
    auto est = oracle(s.manifold);
    mdlab::TangentBases qb;
    Matrix origin = Matrix::from_shape({1, D});
    std::fill(origin.begin(), origin.end(), 0.0);
    s.manifold->tangent_bases(origin, qb);
    for (double t : {0.9, 0.3, 0.05}) {
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const Matrix x = mdlab::test::normal_matrix(30, D, 17);
        Matrix out;
        est->score(x, t, out);
        for (std::size_t q = 0; q < 30; ++q) {
            double worst = 0.0, size = 0.0;
            for (std::size_t i = 0; i < D; ++i) {
                LD sum = 0;
                for (std::size_t j = 0; j < D; ++j) {
                    LD qq = 0;
                    for (std::size_t c = 0; c < k; ++c) qq += LD(qb(0, i, c)) * qb(0, j, c);
                    const LD cov = LD(a) * a * (LD(scale) * scale * qq + LD(s_n) * s_n * ((i == j ? 1 : 0) - qq)) +
                                   (i == j ? LD(sg) * sg : 0);
                    sum += cov * out(q, j);
                }
                worst = std::max(worst, std::abs(double(sum + x(q, i))));
                size = std::max(size, std::abs(x(q, i)));
            }
            CHECK(worst <= 1e-13 * size);
        }
    }
}

TEST_CASE("oracle on a Gaussian mixture equals the mixture's softmax in long double", "[oracle][mixture]") {
    const std::size_t D = 3, K = 4;
    const double spread = 1.5, sd = 0.3;
    const std::vector<double> w = {0.1, 0.2, 0.3, 0.4};
    auto s = setup("gaussian_mixture", R"({"ambient_dim": 3, "components": 4, "spread": 1.5, "std": 0.3,
                                           "weights": [1, 2, 3, 4]})");
    // The means as the plugin documents them: spread * Q g_j, Q from "embedding" chunk 0, g (K x D)
    // row-major from "means" chunk 0.
    const mdlab::Isometry q = mdlab::test::embedding_of(*s.ctx, D, D);
    mdlab::Rng rng = s.ctx->stream("means").chunk(0);
    std::vector<std::vector<double>> mu(K, std::vector<double>(D));
    for (auto& m : mu) {
        std::vector<double> g(D);
        for (double& v : g) v = rng.normal();
        q.embed_row(g.data(), m.data());
        for (double& v : m) v *= spread;
    }
    auto proc = vp();
    auto est = oracle(s.manifold, R"({"method": "closed_form"})");
    for (double t : {0.9, 0.2, 0.02, 1e-3}) {
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const LD v = LD(a) * a * sd * sd + LD(sg) * sg;
        const Matrix x = queries(*s.manifold, 40, a, sg, 22);
        auto want = [&](const double* xq) {
            std::vector<LD> logit(K);
            LD top = -std::numeric_limits<LD>::infinity();
            for (std::size_t j = 0; j < K; ++j) {
                LD r2 = 0;
                for (std::size_t c = 0; c < D; ++c) r2 += (xq[c] - LD(a) * mu[j][c]) * (xq[c] - LD(a) * mu[j][c]);
                logit[j] = std::log(LD(w[j])) - r2 / (2 * v);
                top = std::max(top, logit[j]);
            }
            LD total = 0;
            for (LD l : logit) total += std::exp(l - top);
            std::vector<LD> out(D, 0);
            for (std::size_t j = 0; j < K; ++j)
                for (std::size_t c = 0; c < D; ++c)
                    out[c] += std::exp(logit[j] - top) / total * (LD(a) * mu[j][c] - xq[c]) / v;
            return out;
        };
        Matrix got;
        est->score(x, t, got);
        const double e = worst_error(x, got, want);
        INFO("t = " << t << ": relative error " << e);
        CHECK(e <= 1e-12);
    }
}

TEST_CASE("oracle on the uniform circle: quadrature converges exponentially to the Bessel closed form",
          "[oracle][circle]") {
    const std::size_t D = 4;
    const double R = 1.3;
    auto s = setup("circle", R"({"ambient_dim": 4, "radius": 1.3})");
    auto proc = vp();
    const std::vector<std::size_t> res = {16, 32, 64, 128, 256, 2048};  // 2048: the default
    std::vector<std::shared_ptr<mdlab::ScoreEstimator>> est;
    for (std::size_t r : res)
        est.push_back(oracle(s.manifold, r == 2048 ? "{}" : R"({"resolution": )" + std::to_string(r) + "}"));
    // sigma / alpha = 0.3 R, 0.1 R, 0.05 R: kappa = a R rho / s^2 up to about 400 on M.
    for (double ratio : {0.3, 0.1, 0.05}) {
        const double t = time_for_ratio(*proc, ratio * R);
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const Matrix x = queries(*s.manifold, 60, a, sg, 23);
        const Matrix on = s.manifold->project(x);
        std::vector<double> err(res.size(), 0.0), use(res.size(), 0.0);
        for (std::size_t k = 0; k < res.size(); ++k) {
            Matrix got;
            est[k]->score(x, t, got);
            for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
                const CircleScore want = circle_score(mdlab::row(x, i), mdlab::row(on, i), D, R, a, sg);
                const double e = rel_error(mdlab::row(got, i), want.score);
                const double abs_e = e * norm_of(want.score);
                err[k] = std::max(err[k], e);
                // The trapezoid rule's own error bound (exponentially small once n^2 >> kappa).
                const double tol = trapezoid_tolerance(want, res[k]);
                use[k] = std::max(use[k], abs_e / tol);
                INFO("sigma/alpha = " << ratio << " R, n = " << res[k] << ", query " << i << ", kappa " << double(want.kappa));
                CHECK(abs_e <= tol);
            }
        }
        WARN("uniform circle, sigma/alpha = " << ratio << " R: worst relative errors at n = 16/32/64/128/256/2048: "
             << err[0] << " " << err[1] << " " << err[2] << " " << err[3] << " " << err[4] << " " << err[5]
             << "; worst error / trapezoid bound " << use[0] << " " << use[1] << " " << use[2] << " " << use[3] << " "
             << use[4] << " " << use[5]);
        // Exponential convergence down to rounding: the finest rules agree with the closed form to
        // ~1e-13 relative (the closed form's own rounding, kappa |x| / s^2 times eps, is the floor).
        CHECK(err[4] <= 1e-12);
        CHECK(err[5] <= 1e-12);
    }
}

TEST_CASE("oracle default resolution on the circle is exact to rounding down to sigma / alpha = 0.005 R",
          "[oracle][circle]") {
    const std::size_t D = 3;
    auto s = setup("circle", R"({"ambient_dim": 3})");
    auto est = oracle(s.manifold);
    auto proc = vp();
    const double t = time_for_ratio(*proc, 0.005), a = proc->alpha(t), sg = proc->sigma(t);
    const Matrix x = queries(*s.manifold, 60, a, sg, 24);
    const Matrix on = s.manifold->project(x);
    Matrix got;
    est->score(x, t, got);
    double worst = 0.0, use = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        const CircleScore want = circle_score(mdlab::row(x, i), mdlab::row(on, i), D, 1.0, a, sg);
        const double e = rel_error(mdlab::row(got, i), want.score);
        const double abs_e = e * norm_of(want.score), tol = trapezoid_tolerance(want, 2048);
        worst = std::max(worst, e);
        use = std::max(use, abs_e / tol);
        INFO("query " << i << ", kappa " << double(want.kappa));
        CHECK(abs_e <= tol);
    }
    WARN("uniform circle at sigma/alpha = 0.005 R (kappa ~ 4e4) with the default 2048 nodes: worst relative error "
         << worst << ", worst error / (trapezoid bound + 1e-12 relative + rounding) " << use);
}

TEST_CASE("oracle on a von Mises circle (weighted quadrature) equals the Bessel closed form", "[oracle][circle]") {
    const std::size_t D = 5;
    const double R = 0.9, kappa = 3.0, mode = 0.3;
    auto s = setup("circle", R"({"ambient_dim": 5, "radius": 0.9, "density": "von_mises", "kappa": 3.0, "mode": 0.3})");
    const mdlab::Isometry q = mdlab::test::embedding_of(*s.ctx, D, 2);
    auto proc = vp();
    auto est = oracle(s.manifold);
    const double th0 = 2.0 * 3.14159265358979323846 * mode;
    for (double t : {0.6, 0.2, 0.05}) {
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const Matrix x = queries(*s.manifold, 50, a, sg, 25);
        // p(x) ~ exp(-|x|^2 / (2 s^2)) I0(|m|),  m = kappa (cos th0, sin th0) + (a R / s^2) Q^T x,
        // so s(x) = -x / s^2 + (I1 / I0)(|m|) (a R / s^2) Q m / |m|.
        auto want = [&](const double* xq) {
            double z[2];
            q.coords_row(xq, z);
            const LD s2 = LD(sg) * sg, f = LD(a) * R / s2;
            const LD m0 = kappa * std::cos(LD(th0)) + f * z[0], m1 = kappa * std::sin(LD(th0)) + f * z[1];
            const LD mn = std::sqrt(m0 * m0 + m1 * m1), g = bessel_ratio(mn) * f / mn;
            const double dir[2] = {double(m0), double(m1)};
            std::vector<double> e(D);
            q.embed_row(dir, e.data());
            std::vector<LD> out(D);
            for (std::size_t j = 0; j < D; ++j) out[j] = -LD(xq[j]) / s2 + g * e[j];
            return out;
        };
        Matrix got;
        est->score(x, t, got);
        const double e = worst_error(x, got, want);
        INFO("t = " << t << ": relative error " << e);
        CHECK(e <= 1e-12);
    }
}

TEST_CASE("oracle on the uniform sphere S^2 converges to the Langevin-function closed form", "[oracle][sphere]") {
    auto s = setup("sphere", R"({"k": 2, "ambient_dim": 3})");
    auto proc = vp();
    // Uniform S^2 of radius 1 centred at 0: p(x) ~ exp(-|x|^2 / (2 s^2)) sinh(kappa) / kappa with
    // kappa = a |x| / s^2, so s(x) = -x / s^2 + (a / s^2) (coth kappa - 1 / kappa) x / |x|.
    const std::vector<std::size_t> res = {32, 64, 128, 256};  // 1024 .. 65536 Fibonacci nodes; 256 is the default
    std::vector<std::shared_ptr<mdlab::ScoreEstimator>> est;
    for (std::size_t r : res) est.push_back(oracle(s.manifold, R"({"resolution": )" + std::to_string(r) + "}"));
    for (double ratio : {1.0, 0.3, 0.1}) {
        const double t = time_for_ratio(*proc, ratio);
        const double a = proc->alpha(t), sg = proc->sigma(t);
        const Matrix x = queries(*s.manifold, 40, a, sg, 26);
        auto want = [&](const double* xq) {
            const LD r = std::sqrt(LD(xq[0]) * xq[0] + LD(xq[1]) * xq[1] + LD(xq[2]) * xq[2]);
            const LD s2 = LD(sg) * sg, k = LD(a) * r / s2;
            const LD langevin = 1.0L / std::tanh(k) - 1.0L / k;
            std::vector<LD> out(3);
            for (std::size_t j = 0; j < 3; ++j) out[j] = -LD(xq[j]) / s2 + LD(a) / s2 * langevin * xq[j] / r;
            return out;
        };
        std::vector<double> err;
        for (auto& e : est) {
            Matrix got;
            e->score(x, t, got);
            err.push_back(worst_error(x, got, want));
        }
        const double order = std::log(err[1] / err[3]) / std::log(16.0);  // in the node count, 4096 -> 65536
        WARN("uniform S^2 at sigma/alpha = " << ratio << ": worst relative errors at 1024/4096/16384/65536 Fibonacci "
             "nodes " << err[0] << " " << err[1] << " " << err[2] << " " << err[3] << " (order " << order
             << " in the node count)");
        // The Fibonacci rule's error falls at least like 1/n (n = nodes) for smooth integrands.
        for (std::size_t i = 1; i < err.size(); ++i) CHECK(err[i] < err[i - 1]);
        CHECK(order > 1.0);
    }
}

TEST_CASE("oracle is identical with 1 and 2 threads", "[oracle][threads]") {
    auto s = setup("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    auto est = oracle(s.manifold);
    const Matrix x = mdlab::test::normal_matrix(300, 3, 27);
    Matrix one, two;
    tbb::task_arena(1).execute([&] { est->score(x, 0.05, one); });
    tbb::task_arena(2).execute([&] { est->score(x, 0.05, two); });
    CHECK(mdlab::test::identical(one, two));
}

TEST_CASE("oracle refuses what it cannot represent, naming the key", "[oracle][validation]") {
    auto key_of = [](const std::function<void()>& f) -> std::string {
        try {
            f();
        } catch (const mdlab::InputError& e) {
            return e.key();
        } catch (const mdlab::runtime::BadInput& e) {
            return e.diagnostics().at(0).key;
        }
        return "(no error)";
    };
    // Normal noise: not a mixture of isotropic Gaussians over M, so no quadrature; the Gaussian
    // plane's closed form includes the noise (tested above).
    auto noisy = setup("circle", R"({"ambient_dim": 3, "noise": 0.05})");
    CHECK(key_of([&] { oracle(noisy.manifold); }) == "manifold");
    auto noisy_plane = setup("linear_subspace", R"({"k": 1, "ambient_dim": 3, "noise": 0.1})");
    CHECK(key_of([&] { oracle(noisy_plane.manifold); }) == "(no error)");
    CHECK(key_of([&] { oracle(noisy_plane.manifold, R"({"method": "quadrature"})"); }) == "manifold");
    // closed_form where there is none.
    auto circle = setup("circle", R"({"ambient_dim": 3})");
    CHECK(key_of([&] { oracle(circle.manifold, R"({"method": "closed_form"})"); }) == "method");
    // quadrature where there is none (the mixture is full-dimensional).
    auto mixture = setup("gaussian_mixture", R"({"ambient_dim": 2})");
    CHECK(key_of([&] { oracle(mixture.manifold, R"({"method": "quadrature"})"); }) == "manifold");
    // A quadrature the manifold cannot build at this resolution (1000^3 tensor nodes).
    auto cube = setup("linear_subspace", R"({"k": 3, "ambient_dim": 4, "law": "cube"})");
    CHECK(key_of([&] { oracle(cube.manifold, R"({"resolution": 1000})"); }) == "resolution");
    CHECK(key_of([&] { oracle(cube.manifold, R"({"resolution": 10})"); }) == "(no error)");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("oracle", R"({"resolution": -1})"); }) == "resolution");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("oracle", R"({"method": "exact"})"); }) == "method");
    // Wrong query dimension; used before prepare.
    auto est = oracle(circle.manifold);
    Matrix out;
    CHECK_THROWS_AS(est->score(mdlab::test::normal_matrix(2, 4, 1), 0.5, out), mdlab::Error);
    auto fresh = mdlab::test::make<mdlab::ScoreEstimator>("oracle");
    CHECK_THROWS_AS(fresh->dim(), mdlab::Error);
}
