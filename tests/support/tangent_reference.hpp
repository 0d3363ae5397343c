// The softmax-family references in long double (plain, weighted and tangent two-pass softmax),
// an independent local PCA, and helpers to create the estimators; shared by the estimator tests
// and the softmax kernel's weights and tangent tests.
#pragma once
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
#include "noise_level.hpp"

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

using mdlab::test::time_for_variance;

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
