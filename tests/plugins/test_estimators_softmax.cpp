// The softmax-family score estimators (empirical, kernel_smoothed, tangent_smoothed) and the
// streaming softmax kernel's options (per-key log-weights, per-key tangent bases), checked
// against a plain two-pass softmax written out here in long double (first pass: the logits and
// their maximum; second pass: normalised weights and the weighted sum), with the textbook
// formulas of SCIENCE.md section 2; against an independent local PCA (block power iteration on
// the full covariance in long double); against the exact Gaussian mixture with full covariances
// on a linear subspace; and the plugin's local PCA and Jacobi eigen-solver directly. bandwidth
// "cv": the held-out loss against its closed form for Gaussian data, the estimators against their
// fixed-bandwidth selves at the recorded h, the chosen h against Silverman's rule.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/bandwidth_cv.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include "../../plugins/estimator/tangent_smoothed/local_pca.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

namespace {

using mdlab::Matrix;
using mdlab::TangentBases;
using mdlab::test::identical;
using mdlab::test::normal_matrix;
using LD = long double;
constexpr double eps = std::numeric_limits<double>::epsilon();
constexpr double inf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// The two-pass reference. Component i: N(a k_i, v I + tau U_i U_i^T) with prior weight e^{l_i}:
//   logit_i = l_i - (|r|^2 - c |U_i^T r|^2) / (2 v),  component score -(r - c U_i U_i^T r) / v,
//   r = x - a k_i, c = tau / (v + tau)  (tau = 0 or no bases: the plain isotropic mixture).
struct Reference {
    std::vector<LD> score;
    LD log_norm = 0;
    // Sensitivity of the answer to rounding, in units of eps: a double evaluation perturbs each
    // logit by a few ulps of the quantities it is made of (|r|^2 / (2 v) and |l_i|), moving the
    // answer by sum_i w_i |comp_i - score| * that; and each component by a few ulps of |r| / v.
    // Both are negligible unless keys nearly tie at large logits.
    LD logit_condition = 0, component_condition = 0;
};

Reference reference(const double* x, const Matrix& keys, double a, double v, const std::vector<double>* log_w = nullptr,
                    const TangentBases* bases = nullptr, double tau = 0.0) {
    const std::size_t n = mdlab::rows(keys), d = mdlab::cols(keys);
    const std::size_t k = bases && tau > 0 ? bases->shape()[2] : 0;
    const LD c = k > 0 ? LD(tau) / (LD(v) + LD(tau)) : 0;
    std::vector<LD> logit(n), comp(n * d), r2(n), r(d), p(k);
    for (std::size_t i = 0; i < n; ++i) {
        LD s = 0;
        for (std::size_t j = 0; j < d; ++j) {
            r[j] = x[j] - LD(a) * keys(i, j);
            s += r[j] * r[j];
        }
        LD q = 0;
        for (std::size_t t = 0; t < k; ++t) {
            p[t] = 0;
            for (std::size_t j = 0; j < d; ++j) p[t] += LD((*bases)(i, j, t)) * r[j];
            q += p[t] * p[t];
        }
        r2[i] = s;
        const LD lw = log_w ? LD((*log_w)[i]) : 0;
        logit[i] = lw - (s - c * q) / (2 * LD(v));
        for (std::size_t j = 0; j < d; ++j) {
            LD proj = 0;
            for (std::size_t t = 0; t < k; ++t) proj += LD((*bases)(i, j, t)) * p[t];
            comp[i * d + j] = -(r[j] - c * proj) / LD(v);
        }
    }
    // Pass 1: the largest logit.
    LD top = -std::numeric_limits<LD>::infinity();
    for (LD l : logit) top = std::max(top, l);
    // Pass 2: normalised weights and the weighted sum.
    Reference ref;
    ref.score.assign(d, 0);
    LD total = 0;
    for (std::size_t i = 0; i < n; ++i) total += std::exp(logit[i] - top);
    for (std::size_t i = 0; i < n; ++i) {
        const LD w = std::exp(logit[i] - top) / total;
        for (std::size_t j = 0; j < d; ++j) ref.score[j] += w * comp[i * d + j];
    }
    ref.log_norm = top + std::log(total);
    for (std::size_t i = 0; i < n; ++i) {
        const LD w = std::exp(logit[i] - top) / total;
        if (w == 0) continue;
        LD dev = 0;
        for (std::size_t j = 0; j < d; ++j) dev += (comp[i * d + j] - ref.score[j]) * (comp[i * d + j] - ref.score[j]);
        const LD lw = log_w ? std::abs(LD((*log_w)[i])) : 0;
        ref.logit_condition += w * std::sqrt(dev) * (r2[i] / (2 * LD(v)) + lw);
        ref.component_condition += w * std::sqrt(r2[i]) / LD(v);
    }
    return ref;
}

LD norm(const std::vector<LD>& v) {
    LD s = 0;
    for (LD x : v) s += x * x;
    return std::sqrt(s);
}

// 1e-12 relative, plus the problem's own rounding sensitivity at a generous number of ulps.
double tolerance(const Reference& ref, std::size_t k = 0) {
    const double d = static_cast<double>(ref.score.size());
    return double(1e-12L * norm(ref.score) + 16.0L * (d + k + 1) * eps * ref.logit_condition +
                  4.0L * (k + 1) * eps * ref.component_condition);
}

double abs_error(const double* got, const std::vector<LD>& want) {
    LD s = 0;
    for (std::size_t j = 0; j < want.size(); ++j) s += (got[j] - want[j]) * (got[j] - want[j]);
    return double(std::sqrt(s));
}

// Tracks how many rows pass 1e-12 relative outright (the rest must be within their condition).
struct Tally {
    std::size_t rows = 0, above = 0;
    double worst = 0.0;
    void add(double abs_err, const Reference& ref) {
        const double rel = abs_err / double(norm(ref.score));
        worst = std::max(worst, rel);
        ++rows;
        if (rel > 1e-12) ++above;
    }
};

// ---------------------------------------------------------------------------------------------
// Data, processes, plugins.

std::shared_ptr<const mdlab::ForwardProcess> vp() { return mdlab::test::make<mdlab::ForwardProcess>("vp"); }

// The VP time at which sigma(t)^2 = target (sigma increasing in t).
double time_for_variance(const mdlab::ForwardProcess& p, double target) {
    double lo = 0.0, hi = p.t_end();
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        (p.sigma(mid) * p.sigma(mid) < target ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

std::shared_ptr<mdlab::ScoreEstimator> estimator(const std::string& name, const std::string& params,
                                                 const std::shared_ptr<const Matrix>& data,
                                                 const std::shared_ptr<const mdlab::ForwardProcess>& proc,
                                                 const std::shared_ptr<const mdlab::Manifold>& manifold = nullptr) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>(name, params);
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    if (manifold) in.set("manifold", manifold);
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

std::shared_ptr<mdlab::Manifold> manifold(const std::string& name, const std::string& params, std::uint64_t seed = 3) {
    auto m = mdlab::test::make<mdlab::Manifold>(name, params);
    mdlab::test::TestContext ctx(seed, "manifold");
    m->prepare(ctx);
    return m;
}

std::shared_ptr<const Matrix> draw(const mdlab::Manifold& m, std::size_t n, std::uint64_t seed = 5) {
    mdlab::test::TestContext ctx(seed, "data");
    return std::make_shared<const Matrix>(m.sample(n, ctx.stream("data")));
}

// Queries near the noised data (a x_i + s eps) and, every third one, far from it.
Matrix queries(const Matrix& data, std::size_t m, double a, double s, std::uint64_t seed) {
    const std::size_t d = mdlab::cols(data);
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({m, d});
    for (std::size_t q = 0; q < m; ++q) {
        const std::size_t i = rng.below(mdlab::rows(data));
        const double spread = q % 3 == 2 ? 1.0 : s;
        for (std::size_t j = 0; j < d; ++j) x(q, j) = a * data(i, j) + spread * rng.normal();
    }
    return x;
}

// Orthonormalises the columns of the d x k block (Gram-Schmidt twice, long double).
void orthonormalise(std::vector<LD>& q, std::size_t d, std::size_t k) {
    for (std::size_t j = 0; j < k; ++j) {
        for (int pass = 0; pass < 2; ++pass)
            for (std::size_t i = 0; i < j; ++i) {
                LD dot = 0;
                for (std::size_t a = 0; a < d; ++a) dot += q[a * k + i] * q[a * k + j];
                for (std::size_t a = 0; a < d; ++a) q[a * k + j] -= dot * q[a * k + i];
            }
        LD s = 0;
        for (std::size_t a = 0; a < d; ++a) s += q[a * k + j] * q[a * k + j];
        s = std::sqrt(s);
        for (std::size_t a = 0; a < d; ++a) q[a * k + j] /= s;
    }
}

// Random orthonormal bases (n x d x k).
TangentBases random_bases(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    TangentBases b = TangentBases::from_shape({n, d, k});
    std::vector<LD> q(d * k);
    for (std::size_t i = 0; i < n; ++i) {
        for (LD& v : q) v = rng.normal();
        orthonormalise(q, d, k);
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t j = 0; j < k; ++j) b(i, a, j) = double(q[a * k + j]);
    }
    return b;
}

// Independent local PCA: the `nb` nearest other points by brute force (long double distances,
// ties by index), the centred D x D covariance in long double, and its top-k eigenvectors by
// block power iteration (converges at the rate lambda_{k+1} / lambda_k, tiny on a curved M).
TangentBases pca_reference(const Matrix& x, std::size_t nb, std::size_t k) {
    const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
    TangentBases out = TangentBases::from_shape({n, d, k});
    std::vector<std::size_t> order(n);
    std::vector<LD> dist(n), mean(d), cov(d * d), q(d * k), z(d * k);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            LD s = 0;
            for (std::size_t a = 0; a < d; ++a) s += (LD(x(j, a)) - x(i, a)) * (LD(x(j, a)) - x(i, a));
            dist[j] = s;
        }
        dist[i] = -1;  // the point itself first
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t p, std::size_t r) { return dist[p] < dist[r] || (dist[p] == dist[r] && p < r); });
        std::fill(mean.begin(), mean.end(), 0);
        for (std::size_t m = 0; m <= nb; ++m)
            for (std::size_t a = 0; a < d; ++a) mean[a] += x(order[m], a);
        for (LD& c : mean) c /= LD(nb + 1);
        std::fill(cov.begin(), cov.end(), 0);
        for (std::size_t m = 0; m <= nb; ++m)
            for (std::size_t a = 0; a < d; ++a)
                for (std::size_t b = 0; b < d; ++b) cov[a * d + b] += (x(order[m], a) - mean[a]) * (x(order[m], b) - mean[b]);
        mdlab::Rng rng(99 + i);
        for (LD& v : q) v = rng.normal();
        orthonormalise(q, d, k);
        for (int it = 0; it < 200; ++it) {
            for (std::size_t a = 0; a < d; ++a)
                for (std::size_t j = 0; j < k; ++j) {
                    LD s = 0;
                    for (std::size_t b = 0; b < d; ++b) s += cov[a * d + b] * q[b * k + j];
                    z[a * k + j] = s;
                }
            q = z;
            orthonormalise(q, d, k);
        }
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t j = 0; j < k; ++j) out(i, a, j) = double(q[a * k + j]);
    }
    return out;
}

// Runs a check on every query row and the tally.
template <class Check>
void for_rows(const Matrix& x, Check&& check) {
    for (std::size_t q = 0; q < mdlab::rows(x); ++q) check(q, mdlab::row(x, q));
}

}  // namespace

// =============================================================================================
// The plain kernel through the plugins.

TEST_CASE("empirical and kernel_smoothed equal a two-pass softmax", "[empirical][kernel_smoothed]") {
    auto proc = vp();
    const double t_tiny = time_for_variance(*proc, 1e-6);
    Tally emp, ks;
    for (std::size_t d : {2, 16}) {
        for (std::size_t n : {1, 130, 203}) {  // one partial 64-key block; several with a partial last one
            auto data = std::make_shared<const Matrix>(normal_matrix(n, d, 40 + d * 3 + n));
            auto empirical = estimator("empirical", "{}", data, proc);
            for (double h : {0.0, 0.05, 0.3}) {
                auto smooth = estimator("kernel_smoothed", "{\"bandwidth\": " + std::to_string(h) + "}", data, proc);
                for (double t : {1.0, 0.3, 0.05, t_tiny}) {
                    const double a = proc->alpha(t), s = proc->sigma(t);
                    const Matrix x = queries(*data, 31, a, s, 700 + d + n + static_cast<std::uint64_t>(1000 * h));
                    Matrix got_e, got_k;
                    empirical->score(x, t, got_e);
                    smooth->score(x, t, got_k);
                    if (h == 0.0) {
                        CHECK(identical(got_e, got_k));  // v = sigma^2 + 0 exactly
                        continue;
                    }
                    const double v = s * s + a * a * h * h;
                    for_rows(x, [&](std::size_t q, const double* xq) {
                        INFO("D = " << d << ", N = " << n << ", h = " << h << ", t = " << t << ", query " << q);
                        const Reference re = reference(xq, *data, a, s * s);
                        const double ee = abs_error(mdlab::row(got_e, q), re.score);
                        CHECK(ee <= tolerance(re));
                        const Reference rk = reference(xq, *data, a, v);
                        const double ek = abs_error(mdlab::row(got_k, q), rk.score);
                        CHECK(ek <= tolerance(rk));
                        if (h == 0.05) emp.add(ee, re);
                        ks.add(ek, rk);
                    });
                }
            }
        }
    }
    WARN("empirical: worst relative error " << emp.worst << ", " << emp.above << " of " << emp.rows
         << " rows above 1e-12 (within their condition); kernel_smoothed: worst " << ks.worst << ", "
         << ks.above << " of " << ks.rows);
    CHECK(emp.above <= emp.rows / 50);
    CHECK(ks.above <= ks.rows / 50);
}

// =============================================================================================
// Kernel options.

TEST_CASE("softmax kernel with per-key log-weights equals the weighted two-pass softmax", "[kernel][weights]") {
    Tally tally;
    for (std::size_t d : {2, 16}) {
        const std::size_t n = 203;
        const Matrix keys = normal_matrix(n, d, 60 + d);
        mdlab::Rng rng(61 + d);
        std::vector<double> lw(n);
        for (std::size_t i = 0; i < n; ++i) lw[i] = i % 17 == 3 ? -inf : 3.0 * rng.normal() - 5.0;
        mdlab::Vector lw_vec = mdlab::Vector::from_shape({n});
        std::copy(lw.begin(), lw.end(), lw_vec.begin());
        mdlab::kernels::SoftmaxKeys packed(keys);
        packed.set_log_weights(lw_vec);
        REQUIRE(packed.weighted());
        for (double v : {2.0, 0.05, 1e-6}) {
            const double a = 0.8;
            const Matrix x = queries(keys, 40, a, std::sqrt(v), 62 + d);
            Matrix out;
            mdlab::Vector log_norm;
            mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm);
            for_rows(x, [&](std::size_t q, const double* xq) {
                INFO("D = " << d << ", v = " << v << ", query " << q);
                const Reference ref = reference(xq, keys, a, v, &lw);
                const double e = abs_error(mdlab::row(out, q), ref.score);
                CHECK(e <= tolerance(ref));
                CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <= 1e-12 * std::max(1.0, std::abs(double(ref.log_norm))));
                tally.add(e, ref);
            });
        }
    }
    WARN("weighted kernel: worst relative error " << tally.worst << ", " << tally.above << " of " << tally.rows
         << " rows above 1e-12");
    CHECK(tally.above <= tally.rows / 50);

    // Equal log-weights are the plain kernel, bit for bit, with log_norm shifted by the constant.
    const Matrix keys = normal_matrix(100, 3, 70), x = normal_matrix(20, 3, 71);
    mdlab::kernels::SoftmaxKeys plain(keys), uniform(keys);
    mdlab::Vector c = mdlab::Vector::from_shape({100});
    std::fill(c.begin(), c.end(), std::log(0.01));
    uniform.set_log_weights(c);
    CHECK_FALSE(uniform.weighted());
    Matrix a, b;
    mdlab::Vector la, lb;
    mdlab::kernels::softmax_score(x, plain, 1.1, 0.3, a, &la);
    mdlab::kernels::softmax_score(x, uniform, 1.1, 0.3, b, &lb);
    CHECK(identical(a, b));
    for (std::size_t q = 0; q < 20; ++q) CHECK(lb(q) == Approx(la(q) + std::log(0.01)).epsilon(1e-14));

    // Invalid weights.
    mdlab::Vector bad = mdlab::Vector::from_shape({100});
    std::fill(bad.begin(), bad.end(), -inf);
    CHECK_THROWS_AS(plain.set_log_weights(bad), mdlab::Error);
    bad(5) = std::nan("");
    CHECK_THROWS_AS(plain.set_log_weights(bad), mdlab::Error);
    CHECK_THROWS_AS(plain.set_log_weights(mdlab::Vector::from_shape({99})), mdlab::Error);
}

TEST_CASE("softmax kernel with tangent bases equals the tangent two-pass softmax", "[kernel][tangent]") {
    Tally tally;
    for (auto [d, k] : {std::pair<std::size_t, std::size_t>{2, 1}, {16, 1}, {16, 3}}) {
        const std::size_t n = 150;
        const Matrix keys = normal_matrix(n, d, 80 + d + k, 0.5);
        const TangentBases bases = random_bases(n, d, k, 81 + d + k);
        mdlab::Vector lw_vec = mdlab::Vector::from_shape({n});
        std::vector<double> lw(n);
        mdlab::Rng rng(82);
        for (std::size_t i = 0; i < n; ++i) lw_vec(i) = lw[i] = rng.normal();
        for (bool weighted : {false, true}) {
            mdlab::kernels::SoftmaxKeys packed(keys);
            packed.set_tangents(bases);
            if (weighted) packed.set_log_weights(lw_vec);
            for (double v : {1.0, 1e-2, 1e-6}) {
                for (double ratio : {0.5, 100.0, 1e4}) {  // tau / v: c = 1/3, 0.99, 0.9999
                    const double a = 0.9, tau = ratio * v;
                    // Queries spread along a key's tangent space (where the components are wide)
                    // and across it.
                    const Matrix x = queries(keys, 30, a, std::sqrt(v + tau), 83 + d + k);
                    Matrix out;
                    mdlab::Vector log_norm;
                    mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm, tau);
                    for_rows(x, [&](std::size_t q, const double* xq) {
                        INFO("D = " << d << ", k = " << k << ", weighted " << weighted << ", v = " << v
                                    << ", tau/v = " << ratio << ", query " << q);
                        const Reference ref = reference(xq, keys, a, v, weighted ? &lw : nullptr, &bases, tau);
                        const double e = abs_error(mdlab::row(out, q), ref.score);
                        CHECK(e <= tolerance(ref, k));
                        CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <=
                              1e-12 * std::max(1.0, std::abs(double(ref.log_norm))) + 64 * eps * double(ref.logit_condition));
                        tally.add(e, ref);
                    });
                }
            }
            // tau = 0 ignores the bases: the plain (or weighted) kernel bit for bit.
            mdlab::kernels::SoftmaxKeys without(keys);
            if (weighted) without.set_log_weights(lw_vec);
            const Matrix x = normal_matrix(25, d, 84);
            Matrix with_b, without_b;
            mdlab::kernels::softmax_score(x, packed, 1.0, 0.1, with_b, nullptr, 0.0);
            mdlab::kernels::softmax_score(x, without, 1.0, 0.1, without_b);
            CHECK(identical(with_b, without_b));
        }
    }
    WARN("tangent kernel: worst relative error " << tally.worst << ", " << tally.above << " of " << tally.rows
         << " rows above 1e-12 (within their condition)");
    CHECK(tally.above <= tally.rows / 20);

    // Misuse.
    const Matrix keys = normal_matrix(10, 3, 85), x = normal_matrix(2, 3, 86);
    mdlab::kernels::SoftmaxKeys plain(keys);
    Matrix out;
    CHECK_THROWS_AS(mdlab::kernels::softmax_score(x, plain, 1.0, 0.1, out, nullptr, 0.5), mdlab::Error);
    CHECK_THROWS_AS(plain.set_tangents(random_bases(9, 3, 1, 1)), mdlab::Error);
    CHECK_THROWS_AS(plain.set_tangents(TangentBases::from_shape({10, 3, 0})), mdlab::Error);
}

TEST_CASE("tangent kernel is identical with 1 and 2 threads", "[kernel][tangent][threads]") {
    const Matrix keys = normal_matrix(300, 5, 90);
    mdlab::kernels::SoftmaxKeys packed(keys);
    packed.set_tangents(random_bases(300, 5, 2, 91));
    const Matrix x = normal_matrix(500, 5, 92);
    Matrix one, two;
    tbb::task_arena(1).execute([&] { mdlab::kernels::softmax_score(x, packed, 0.7, 0.01, one, nullptr, 0.2); });
    tbb::task_arena(2).execute([&] { mdlab::kernels::softmax_score(x, packed, 0.7, 0.01, two, nullptr, 0.2); });
    CHECK(identical(one, two));
}

// =============================================================================================
// tangent_smoothed.

TEST_CASE("tangent_smoothed with h = 0 is the empirical score, bit for bit", "[tangent_smoothed]") {
    auto proc = vp();
    auto circle = manifold("circle", R"({"ambient_dim": 4})");
    auto data = draw(*circle, 211);
    auto empirical = estimator("empirical", "{}", data, proc);
    auto tangent = estimator("tangent_smoothed", R"({"bandwidth": 0, "neighbours": 6})", data, proc, circle);
    for (double t : {0.8, 0.1, time_for_variance(*proc, 1e-6)}) {
        const Matrix x = queries(*data, 50, proc->alpha(t), proc->sigma(t), 95);
        Matrix a, b;
        empirical->score(x, t, a);
        tangent->score(x, t, b);
        CHECK(identical(a, b));
    }
}

TEST_CASE("tangent_smoothed equals the tangent two-pass softmax with independently computed local PCA bases",
          "[tangent_smoothed]") {
    auto proc = vp();
    struct Case {
        std::string manifold, params, estimator;
        std::size_t k, n, neighbours;
    };
    const std::vector<Case> cases = {
        {"circle", R"({"ambient_dim": 5, "radius": 1.5})", R"({"bandwidth": 0.1, "neighbours": 8})", 1, 300, 8},
        {"sphere", R"({"k": 2, "ambient_dim": 6})", R"({"bandwidth": 0.2, "neighbours": 12, "intrinsic_dim": 2})", 2, 400, 12},
    };
    Tally tally;
    double worst_basis = 0.0;
    for (const Case& c : cases) {
        auto m = manifold(c.manifold, c.params);
        auto data = draw(*m, c.n);
        auto est = estimator("tangent_smoothed", c.estimator, data, proc, m);
        const TangentBases bases = pca_reference(*data, c.neighbours, c.k);
        // The reference bases against the plugin's own local PCA (same header the plugin runs).
        const auto own = mdlab_local_pca::tangent_bases(*data, c.neighbours, c.k);
        CHECK(own.undetermined == 0);
        for (std::size_t i = 0; i < c.n; ++i)
            for (std::size_t a = 0; a < mdlab::cols(*data); ++a)
                for (std::size_t b = 0; b < mdlab::cols(*data); ++b) {
                    double p = 0, q = 0;  // projector entries U U^T
                    for (std::size_t j = 0; j < c.k; ++j) {
                        p += own.bases(i, a, j) * own.bases(i, b, j);
                        q += bases(i, a, j) * bases(i, b, j);
                    }
                    worst_basis = std::max(worst_basis, std::abs(p - q));
                }
        const double h = c.manifold == "circle" ? 0.1 : 0.2;
        for (double t : {0.5, 0.1, 0.02, time_for_variance(*proc, 1e-5)}) {
            const double a = proc->alpha(t), s = proc->sigma(t), tau = a * a * h * h;
            const Matrix x = queries(*data, 30, a, std::sqrt(s * s + tau), 96);
            Matrix got;
            est->score(x, t, got);
            for_rows(x, [&](std::size_t q, const double* xq) {
                INFO(c.manifold << ", t = " << t << " (tau / sigma^2 = " << tau / (s * s) << "), query " << q);
                const Reference ref = reference(xq, *data, a, s * s, nullptr, &bases, tau);
                const double e = abs_error(mdlab::row(got, q), ref.score);
                // The two local PCAs agree to worst_basis in U U^T; a change dP of the projector
                // moves each logit by about c |r|^2 |dP| / (2 v) and each component by c |r| |dP| / v.
                const double basis_tol = 4.0 * worst_basis * double(ref.logit_condition + ref.component_condition);
                CHECK(e <= tolerance(ref, c.k) + basis_tol);
                tally.add(e, ref);
            });
        }
    }
    WARN("tangent_smoothed vs independent PCA: projectors agree to " << worst_basis << "; worst relative error "
         << tally.worst << ", " << tally.above << " of " << tally.rows << " rows above 1e-12");
    CHECK(worst_basis < 1e-12);
}

TEST_CASE("tangent_smoothed on a linear subspace is the exact Gaussian mixture with covariance "
          "sigma^2 I + alpha^2 h^2 Q Q^T", "[tangent_smoothed]") {
    auto proc = vp();
    const std::size_t D = 4, k = 2, n = 150;
    auto m = manifold("linear_subspace", R"({"k": 2, "ambient_dim": 4, "scale": 1.0})");
    auto data = draw(*m, n);
    const double h = 0.3;
    auto est = estimator("tangent_smoothed", R"({"bandwidth": 0.3, "neighbours": 5})", data, proc, m);
    // Q from the manifold itself (its embedding), not from any PCA.
    TangentBases qb;
    m->tangent_bases(*data, qb);
    double worst = 0.0;
    for (double t : {0.6, 0.1, 0.01}) {
        const double a = proc->alpha(t), s = proc->sigma(t);
        // Sigma = s^2 I + a^2 h^2 Q Q^T and its inverse by Gauss-Jordan elimination in long double.
        std::vector<LD> cov(D * D), inv(D * D, 0);
        for (std::size_t i = 0; i < D; ++i) {
            inv[i * D + i] = 1;
            for (std::size_t j = 0; j < D; ++j) {
                LD qq = 0;
                for (std::size_t c = 0; c < k; ++c) qq += LD(qb(0, i, c)) * qb(0, j, c);
                cov[i * D + j] = (i == j ? LD(s) * s : 0) + LD(a) * a * h * h * qq;
            }
        }
        for (std::size_t c = 0; c < D; ++c) {
            std::size_t piv = c;
            for (std::size_t r = c + 1; r < D; ++r)
                if (std::abs(cov[r * D + c]) > std::abs(cov[piv * D + c])) piv = r;
            for (std::size_t j = 0; j < D; ++j) std::swap(cov[c * D + j], cov[piv * D + j]), std::swap(inv[c * D + j], inv[piv * D + j]);
            const LD p = cov[c * D + c];
            for (std::size_t j = 0; j < D; ++j) cov[c * D + j] /= p, inv[c * D + j] /= p;
            for (std::size_t r = 0; r < D; ++r) {
                if (r == c) continue;
                const LD f = cov[r * D + c];
                for (std::size_t j = 0; j < D; ++j) cov[r * D + j] -= f * cov[c * D + j], inv[r * D + j] -= f * inv[c * D + j];
            }
        }
        const Matrix x = queries(*data, 40, a, std::sqrt(s * s + a * a * h * h), 97);
        Matrix got;
        est->score(x, t, got);
        for (std::size_t q = 0; q < mdlab::rows(x); ++q) {
            // Mixture of equal-weight N(a x_i, Sigma): logit_i = -r^T Sigma^-1 r / 2, score -Sigma^-1 r.
            std::vector<LD> logit(n), comp(n * D);
            LD top = -std::numeric_limits<LD>::infinity();
            for (std::size_t i = 0; i < n; ++i) {
                std::vector<LD> r(D);
                for (std::size_t j = 0; j < D; ++j) r[j] = x(q, j) - LD(a) * (*data)(i, j);
                LD quad = 0;
                for (std::size_t j = 0; j < D; ++j) {
                    LD sr = 0;
                    for (std::size_t l = 0; l < D; ++l) sr += inv[j * D + l] * r[l];
                    comp[i * D + j] = -sr;
                    quad += r[j] * sr;
                }
                logit[i] = -quad / 2;
                top = std::max(top, logit[i]);
            }
            std::vector<LD> want(D, 0);
            LD total = 0;
            for (std::size_t i = 0; i < n; ++i) total += std::exp(logit[i] - top);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < D; ++j) want[j] += std::exp(logit[i] - top) / total * comp[i * D + j];
            const double rel = abs_error(mdlab::row(got, q), want) / double(norm(want));
            worst = std::max(worst, rel);
            INFO("t = " << t << ", query " << q);
            // Local PCA of points lying in the plane recovers Q Q^T to rounding (~1e-16), which the
            // score amplifies by about (tau / sigma^2) |logit| (<= 1e3 here): 1e-12 relative holds.
            CHECK(rel <= 1e-12);
        }
    }
    WARN("tangent_smoothed on a plane vs the exact full-covariance mixture: worst relative error " << worst);
}

TEST_CASE("tangent_smoothed is identical with 1 and 2 threads", "[tangent_smoothed][threads]") {
    auto proc = vp();
    auto m = manifold("sphere", R"({"k": 2, "ambient_dim": 5})");
    auto data = draw(*m, 500);
    const Matrix x = normal_matrix(400, 5, 98);
    Matrix one, two;
    tbb::task_arena(1).execute([&] {
        estimator("tangent_smoothed", R"({"neighbours": 9})", data, proc, m)->score(x, 0.1, one);
    });
    tbb::task_arena(2).execute([&] {
        estimator("tangent_smoothed", R"({"neighbours": 9})", data, proc, m)->score(x, 0.1, two);
    });
    CHECK(identical(one, two));
}

// =============================================================================================
// The local PCA and the Jacobi eigen-solver of the plugin (its header, called directly).

TEST_CASE("Jacobi eigen-solver recovers a known spectrum", "[tangent_smoothed][pca]") {
    for (std::size_t n : {1, 2, 7, 33}) {
        // A = Q diag(lambda) Q^T with a random orthogonal Q and a repeated eigenvalue.
        std::vector<LD> q(n * n);
        mdlab::Rng rng(200 + n);
        for (LD& v : q) v = rng.normal();
        orthonormalise(q, n, n);
        std::vector<double> lambda(n);
        for (std::size_t i = 0; i < n; ++i) lambda[i] = i == 1 ? lambda[0] : 10.0 * rng.normal();
        std::vector<double> a(n * n);
        double scale = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                LD s = 0;
                for (std::size_t l = 0; l < n; ++l) s += q[i * n + l] * lambda[l] * q[j * n + l];
                a[i * n + j] = double(s);
            }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];  // exactly symmetric
        for (double l : lambda) scale = std::max(scale, std::abs(l));
        const std::vector<double> original = a;
        std::vector<double> w, v;
        mdlab_local_pca::symmetric_eigen(a, n, w, v);
        std::vector<double> sorted = lambda;
        std::sort(sorted.rbegin(), sorted.rend());
        for (std::size_t i = 0; i < n; ++i) {
            INFO("n = " << n << ", eigenvalue " << i);
            CHECK(std::abs(w[i] - sorted[i]) <= 64 * n * eps * scale);
            if (i > 0) CHECK(w[i] <= w[i - 1]);
            // Residual |A v - w v| and orthonormality.
            double res = 0.0;
            for (std::size_t r = 0; r < n; ++r) {
                LD s = 0;
                for (std::size_t c = 0; c < n; ++c) s += LD(original[r * n + c]) * v[c * n + i];
                res = std::max(res, double(std::abs(s - LD(w[i]) * v[r * n + i])));
            }
            CHECK(res <= 64 * n * eps * scale);
            for (std::size_t j = 0; j <= i; ++j) {
                LD dot = 0;
                for (std::size_t r = 0; r < n; ++r) dot += LD(v[r * n + i]) * v[r * n + j];
                CHECK(std::abs(double(dot) - (i == j ? 1.0 : 0.0)) <= 64 * n * eps);
            }
        }
    }
}

TEST_CASE("local PCA on a circle recovers the tangent direction", "[tangent_smoothed][pca]") {
    // sin of the angle between the estimated direction u and the true tangent at the point.
    auto angle_error = [](const Matrix& x, const TangentBases& b, std::size_t i) {
        const double th = std::atan2(x(i, 1), x(i, 0));
        const double t0 = -std::sin(th), t1 = std::cos(th);
        const double dot = b(i, 0, 0) * t0 + b(i, 1, 0) * t1;
        double perp = 0.0;
        for (std::size_t a = 0; a < mdlab::cols(x); ++a) {
            const double e = b(i, a, 0) - dot * (a == 0 ? t0 : a == 1 ? t1 : 0.0);
            perp += e * e;
        }
        return std::sqrt(perp);
    };
    // Equispaced points and an even number of neighbours: every neighbourhood is symmetric about
    // its point, so the principal direction is the tangent exactly (up to rounding).
    {
        const std::size_t n = 500;
        Matrix x = Matrix::from_shape({n, 3});
        for (std::size_t i = 0; i < n; ++i) {
            const double th = 2.0 * 3.14159265358979323846 * (static_cast<double>(i) + 0.3) / static_cast<double>(n);
            x(i, 0) = std::cos(th), x(i, 1) = std::sin(th), x(i, 2) = 0.0;
        }
        const auto est = mdlab_local_pca::tangent_bases(x, 6, 1);
        double worst = 0.0;
        for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, angle_error(x, est.bases, i));
        INFO("symmetric neighbourhoods: worst angle " << worst);
        CHECK(worst < 1e-10);
    }
    // Uniform random points: the principal direction is the chord of the neighbourhood's arc,
    // i.e. the tangent at the neighbourhood's centre of mass, off by O(spacing) (the first-order
    // term -mean(phi) - mu_3 / (2 var(phi)) in the offsets phi). Mean angle error against N:
    // order 1 in the spacing 2 pi / N.
    std::vector<double> mean_err;
    const std::vector<std::size_t> sizes = {500, 1000, 2000, 4000};
    for (std::size_t n : sizes) {
        mdlab::Rng rng(300);
        Matrix x = Matrix::from_shape({n, 3});
        for (std::size_t i = 0; i < n; ++i) {
            const double th = 2.0 * 3.14159265358979323846 * rng.uniform();
            x(i, 0) = std::cos(th), x(i, 1) = std::sin(th), x(i, 2) = 0.0;
        }
        const auto est = mdlab_local_pca::tangent_bases(x, 6, 1);
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += angle_error(x, est.bases, i);
        mean_err.push_back(s / static_cast<double>(n));
    }
    const double order = std::log(mean_err.front() / mean_err.back()) / std::log(static_cast<double>(sizes.back()) / sizes.front());
    WARN("local PCA on random circle points, 6 neighbours: mean angle error " << mean_err[0] << " .. " << mean_err[3]
         << " for N = 500 .. 4000, fitted order " << order << " in the spacing");
    // Each N's mean is over N points (relative standard error ~ 1/sqrt(N) <= 5%), so the fitted
    // order over a factor 8 in N is within +-0.1 of the true order 1.
    CHECK(order == Approx(1.0).margin(0.1));
    for (double e : mean_err) CHECK(e < 6.0 * 2.0 * 3.14159265358979323846 / 500);
}

TEST_CASE("local PCA of coincident points completes the basis", "[tangent_smoothed][pca]") {
    // Three copies of one point and two of another: the neighbourhood of a copy spans 1 direction.
    Matrix x = Matrix::from_shape({5, 3});
    std::fill(x.begin(), x.end(), 0.0);
    x(3, 0) = x(4, 0) = 1.0;
    const auto est = mdlab_local_pca::tangent_bases(x, 2, 2);
    CHECK(est.undetermined >= 3);
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t j = 0; j < 2; ++j)
            for (std::size_t l = 0; l <= j; ++l) {
                double dot = 0.0;
                for (std::size_t a = 0; a < 3; ++a) dot += est.bases(i, a, j) * est.bases(i, a, l);
                CHECK(dot == Approx(j == l ? 1.0 : 0.0).margin(1e-14));
            }
}

// =============================================================================================
// Parameter validation.

TEST_CASE("kernel_smoothed and tangent_smoothed validate their parameters and inputs", "[validation]") {
    using Catch::Matchers::Contains;
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
    auto proc = vp();
    auto data = std::make_shared<const Matrix>(normal_matrix(12, 3, 400));
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("kernel_smoothed", R"({"bandwidth": -0.1})"); }) ==
          "bandwidth");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"bandwidth": -1})"); }) ==
          "bandwidth");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"neighbours": 0})"); }) ==
          "neighbours");
    CHECK(key_of([&] { mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed", R"({"neighbours": 33})"); }) ==
          "neighbours");
    // intrinsic_dim = 0 and no manifold.
    CHECK(key_of([&] { estimator("tangent_smoothed", "{}", data, proc); }) == "intrinsic_dim");
    // intrinsic_dim >= D.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 3})", data, proc); }) == "intrinsic_dim");
    auto mixture = manifold("gaussian_mixture", R"({"ambient_dim": 3})");  // intrinsic dimension D
    CHECK(key_of([&] { estimator("tangent_smoothed", "{}", data, proc, mixture); }) == "intrinsic_dim");
    // neighbours < intrinsic_dim, neighbours >= N.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 2, "neighbours": 1})", data, proc); }) ==
          "neighbours");
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 1, "neighbours": 12})", data, proc); }) ==
          "neighbours");
    // Valid: 11 neighbours of 12 points.
    CHECK(key_of([&] { estimator("tangent_smoothed", R"({"intrinsic_dim": 1, "neighbours": 11})", data, proc); }) ==
          "(no error)");
    // Empty training set; wrong query dimension.
    auto empty = std::make_shared<const Matrix>(Matrix::from_shape({0, 3}));
    CHECK(key_of([&] { estimator("kernel_smoothed", "{}", empty, proc); }) == "data");
    auto ks = estimator("kernel_smoothed", "{}", data, proc);
    Matrix out;
    CHECK_THROWS_WITH(ks->score(normal_matrix(2, 4, 1), 0.5, out), Contains("4 columns") && Contains("dimension 3"));
    CHECK(ks->dim() == 3);
    CHECK(&ks->process() == proc.get());
}

// =============================================================================================
// bandwidth "cv" (mdlab/bandwidth_cv.hpp): held-out denoising score matching.

namespace {

// The rows of <node>.bandwidth_cv.csv: (h, loss, chosen).
std::vector<std::array<double, 3>> read_cv_table(const std::filesystem::path& file) {
    std::ifstream in(file);
    REQUIRE(in.good());
    std::string line;
    std::getline(in, line);
    CHECK(line == "h,loss,chosen");
    std::vector<std::array<double, 3>> rows;
    while (std::getline(in, line)) {
        std::array<double, 3> r{};
        REQUIRE(std::sscanf(line.c_str(), "%lf,%lf,%lf", &r[0], &r[1], &r[2]) == 3);
        rows.push_back(r);
    }
    return rows;
}

// Prepares `name` with bandwidth "cv" on data; returns the estimator and the recorded table.
struct CvRun {
    std::shared_ptr<mdlab::ScoreEstimator> est;
    std::vector<std::array<double, 3>> table;
    double h = -1;
};
CvRun prepare_cv(const std::string& name, const std::string& extra, const std::shared_ptr<const Matrix>& data,
                 const std::shared_ptr<const mdlab::ForwardProcess>& proc) {
    CvRun r;
    r.est = mdlab::test::make<mdlab::ScoreEstimator>(name, "{\"bandwidth\": \"cv\"" + extra + "}");
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    mdlab::test::TestContext ctx(7, "score");
    r.est->prepare(in, ctx);
    r.table = read_cv_table(ctx.output_dir() / "score.bandwidth_cv.csv");
    for (const auto& row : r.table)
        if (row[2] == 1.0) r.h = row[0];
    return r;
}

}  // namespace

TEST_CASE("bandwidth cv: the held-out loss has its closed-form expectation and minimiser", "[bandwidth_cv]") {
    // Held-out points x0 ~ N(0, c^2 I_D) and the candidate scores s_h(x; sigma) = -x / (h^2 + sigma^2)
    // (the noised score of N(0, h^2 I)): sigma s_h(x0 + sigma eps) + eps = (h^2 eps - sigma x0) / (h^2 + sigma^2),
    // so E L(h) = sum_sigma D (h^4 + sigma^2 c^2) / (h^2 + sigma^2)^2, minimised at h = c for every sigma.
    const std::size_t m = 20000, d = 2;
    const double c = 0.3;
    Matrix held = normal_matrix(m, d, 77);
    held *= c;
    mdlab::bandwidth_cv::Grid g{mdlab::bandwidth_cv::geometric(0.05, 1.5, 20), {0.1, 0.3, 1.0}};
    auto gaussian = [](const Matrix& x, double h, double sigma, Matrix& out) { out = x * (-1.0 / (h * h + sigma * sigma)); };
    const mdlab::RandomStream noise(5, "noise");
    const auto r = mdlab::bandwidth_cv::choose(held, g, gaussian, noise);
    REQUIRE(r.loss.size() == g.h.size());
    CHECK(r.held_out == m);
    std::size_t want = 0;
    std::vector<double> expected(g.h.size(), 0.0);
    for (std::size_t j = 0; j < g.h.size(); ++j) {
        const double h2 = g.h[j] * g.h[j];
        for (double s : g.sigma) expected[j] += d * (h2 * h2 + s * s * c * c) / ((h2 + s * s) * (h2 + s * s));
        if (expected[j] < expected[want]) want = j;
        INFO("h = " << g.h[j] << ": loss " << r.loss[j] << ", expected " << expected[j]);
        CHECK(std::abs(r.loss[j] / expected[j] - 1) < 0.03);  // 40000 draws per level: about 1% standard error
    }
    CHECK(r.best == want);
    CHECK(std::abs(std::log(r.h() / c)) < std::log(1.5 / 0.05) / 19);  // within one grid step of c
    // The same streams give the same losses, with 1 or 2 threads.
    mdlab::bandwidth_cv::Result one, two;
    tbb::task_arena(1).execute([&] { one = mdlab::bandwidth_cv::choose(held, g, gaussian, noise); });
    tbb::task_arena(2).execute([&] { two = mdlab::bandwidth_cv::choose(held, g, gaussian, noise); });
    CHECK(one.loss == two.loss);
}

TEST_CASE("bandwidth cv: the 5 folds hold out every point once", "[bandwidth_cv]") {
    Matrix x = Matrix::from_shape({52, 1});
    for (std::size_t i = 0; i < 52; ++i) x(i, 0) = static_cast<double>(i);
    const auto parts = mdlab::bandwidth_cv::split(x, mdlab::RandomStream(3, "split"));
    REQUIRE(parts.size() == 5);
    std::vector<double> held;
    for (const auto& p : parts) {
        CHECK(mdlab::rows(p.held_out) + mdlab::rows(p.fit) == 52);
        CHECK(mdlab::rows(p.fit) >= mdlab::bandwidth_cv::fit_size(52));
        for (std::size_t i = 0; i < mdlab::rows(p.held_out); ++i) {
            held.push_back(p.held_out(i, 0));
            for (std::size_t j = 0; j < mdlab::rows(p.fit); ++j) CHECK(p.fit(j, 0) != p.held_out(i, 0));
        }
    }
    CHECK(mdlab::bandwidth_cv::fit_size(52) == 41);  // folds of 11, 11, 10, 10, 10
    CHECK_FALSE(std::is_sorted(held.begin(), held.end()));  // shuffled
    std::sort(held.begin(), held.end());
    REQUIRE(held.size() == 52);
    for (std::size_t i = 0; i < 52; ++i) CHECK(held[i] == static_cast<double>(i));
    CHECK_THROWS_WITH(mdlab::bandwidth_cv::split(Matrix::from_shape({4, 1}), mdlab::RandomStream(3, "split")),
                      Catch::Matchers::Contains("at least 5"));
}

TEST_CASE("kernel_smoothed and tangent_smoothed with bandwidth cv use the h they record", "[bandwidth_cv]") {
    auto proc = vp();
    auto circle = manifold("circle", R"({"ambient_dim": 3})");
    auto data = draw(*circle, 400);
    for (const std::string name : {"kernel_smoothed", "tangent_smoothed"}) {
        INFO(name);
        const std::string extra = name == "tangent_smoothed" ? R"(, "intrinsic_dim": 1)" : "";
        const CvRun cv = prepare_cv(name, extra, data, proc);
        REQUIRE(cv.table.size() == mdlab::bandwidth_cv::bandwidths);
        REQUIRE(cv.h > 0);
        // The chosen row has the smallest loss, strictly inside the grid (not a boundary artefact).
        std::size_t best = 0, chosen = 0;
        for (std::size_t j = 0; j < cv.table.size(); ++j) {
            if (cv.table[j][1] < cv.table[best][1]) best = j;
            if (cv.table[j][2] == 1.0) chosen = j;
        }
        CHECK(best == chosen);
        CHECK(chosen > 0);
        CHECK(chosen + 1 < cv.table.size());
        // The score is the fixed-bandwidth estimator's at that h, bit for bit.
        char h_text[40];
        std::snprintf(h_text, sizeof h_text, "%.17g", cv.h);
        auto fixed = estimator(name, std::string("{\"bandwidth\": ") + h_text + extra + "}", data, proc);
        for (double t : {0.8, 0.05, 1e-3}) {
            const Matrix x = queries(*data, 40, proc->alpha(t), proc->sigma(t), 11);
            Matrix a, b;
            cv.est->score(x, t, a);
            fixed->score(x, t, b);
            CHECK(identical(a, b));
        }
        // Same choice with 1 and 2 threads.
        double h1 = 0, h2 = 0;
        tbb::task_arena(1).execute([&] { h1 = prepare_cv(name, extra, data, proc).h; });
        tbb::task_arena(2).execute([&] { h2 = prepare_cv(name, extra, data, proc).h; });
        CHECK(h1 == h2);
        CHECK(h1 == cv.h);
    }
}

TEST_CASE("bandwidth cv shrinks with N like a density estimator's bandwidth", "[bandwidth_cv]") {
    // Gaussian data N(0, 1) in D = 1: the MISE-optimal KDE bandwidth is Silverman's
    // (4 / (3 N))^(1/5) ~ N^(-1/5). Held-out score matching is another criterion, but its choice
    // must fall with N at about that rate and sit within a small factor of it (measured: 1.03 and
    // 1.05 times Silverman's at N = 200 and 3200, slope -0.193).
    auto proc = vp();
    std::vector<double> chosen;
    for (std::size_t n : {200, 3200}) {
        auto data = std::make_shared<const Matrix>(normal_matrix(n, 1, 300 + n));
        const double h = prepare_cv("kernel_smoothed", "", data, proc).h;
        const double silverman = std::pow(4.0 / (3.0 * static_cast<double>(n)), 0.2);
        INFO("N = " << n << ": cv h = " << h << ", Silverman " << silverman);
        CHECK(h / silverman > 0.7);
        CHECK(h / silverman < 1.4);
        chosen.push_back(h);
    }
    const double slope = std::log(chosen[1] / chosen[0]) / std::log(16.0);
    INFO("slope of log h against log N: " << slope << " (Silverman -0.2)");
    CHECK(slope < -0.1);
    CHECK(slope > -0.3);
}

TEST_CASE("bandwidth takes a number >= 0 or \"cv\", with a clear error otherwise", "[bandwidth_cv][validation]") {
    auto message_of = [](const std::string& name, const std::string& params) -> std::string {
        try {
            mdlab::test::make<mdlab::ScoreEstimator>(name, params);
        } catch (const mdlab::runtime::BadInput& e) {
            const auto& d = e.diagnostics().at(0);
            return d.key + ": " + d.message;
        }
        return "(no error)";
    };
    using Catch::Matchers::Contains;
    for (const std::string name : {"kernel_smoothed", "tangent_smoothed"}) {
        INFO(name);
        CHECK(message_of(name, R"({"bandwidth": "cv"})") == "(no error)");
        CHECK(message_of(name, R"({"bandwidth": 0.2})") == "(no error)");
        CHECK(message_of(name, R"({"bandwidth": 0})") == "(no error)");
        CHECK_THAT(message_of(name, R"({"bandwidth": "cvv"})"),
                   Contains("bandwidth: ") && Contains("did you mean 'cv'") &&
                       Contains("expected a finite number >= 0 or one of: cv"));
        CHECK_THAT(message_of(name, R"({"bandwidth": true})"),
                   Contains("expected a finite number >= 0 or one of: cv, got a boolean"));
        CHECK_THAT(message_of(name, R"({"bandwidth": -0.5})"), Contains("out of range") && Contains(">= 0"));
    }
    // tangent_smoothed fits its local PCA on each fold's fit set: 12 points leave 9, too few for 10 neighbours.
    auto proc = vp();
    auto data = std::make_shared<const Matrix>(normal_matrix(12, 3, 400));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("tangent_smoothed",
                                                        R"({"bandwidth": "cv", "intrinsic_dim": 1, "neighbours": 10})");
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    mdlab::test::TestContext ctx;
    try {
        est->prepare(in, ctx);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "neighbours");
        CHECK_THAT(std::string(e.what()), Contains("fits on 9 of the N = 12"));
    }
}
