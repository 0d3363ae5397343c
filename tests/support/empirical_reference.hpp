// The empirical score as a direct two-pass softmax in long double, with its error bound; shared
// by the empirical estimator's tests and the softmax kernel's.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/kernels/softmax_score.hpp>

#include "mdlab_test.hpp"
#include "noise_level.hpp"

namespace {

using mdlab::Matrix;

Matrix normal_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix m = Matrix::from_shape({n, d});
    for (std::size_t k = 0; k < n * d; ++k) m.data()[k] = scale * rng.normal();
    return m;
}

// Straightforward two-pass softmax in long double: logits, their maximum, weights, weighted sum.
struct Reference {
    std::vector<long double> score;      // sum_i w_i (a k_i - x) / v
    std::vector<long double> denoised;   // sum_i w_i k_i (the Tweedie mean)
    long double log_norm = 0;            // log sum_i exp(logit_i)
    long double max_logit = 0;
    long double gap = 0;                 // logit gap between the nearest and second-nearest key
    // How much the exact answer moves when every logit moves by its own size times one unit of
    // relative error: sum_i w_i |(a k_i - x)/v - score| |logit_i|. Rounding the logits' inputs
    // to double already perturbs them by a few ulps, so no double computation can beat
    // eps times this. It is negligible unless two keys nearly tie at large |logit|.
    long double condition = 0;
    // The same for rounding a k_i to double, which the kernel avoids with a fused multiply-add
    // where the target has one: sum_i w_i eps |a k_i| / v (1 + |r_i| |r_i / v - score|).
    long double input_condition = 0;
};

Reference reference(const double* x, const Matrix& keys, double a, double v) {
    const std::size_t n = mdlab::rows(keys), d = mdlab::cols(keys);
    std::vector<long double> logit(n);
    for (std::size_t i = 0; i < n; ++i) {
        long double s = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const long double r = (long double)a * keys(i, j) - x[j];
            s += r * r;
        }
        logit[i] = -s / (2.0L * v);
    }
    Reference ref;
    ref.max_logit = -std::numeric_limits<long double>::infinity();
    long double second = ref.max_logit;
    for (long double l : logit) {
        if (l > ref.max_logit) second = ref.max_logit, ref.max_logit = l;
        else if (l > second) second = l;
    }
    ref.gap = ref.max_logit - second;
    long double total = 0;
    ref.score.assign(d, 0);
    ref.denoised.assign(d, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const long double w = std::exp(logit[i] - ref.max_logit);
        total += w;
        for (std::size_t j = 0; j < d; ++j) {
            ref.score[j] += w * ((long double)a * keys(i, j) - x[j]);
            ref.denoised[j] += w * keys(i, j);
        }
    }
    for (std::size_t j = 0; j < d; ++j) {
        ref.score[j] /= total * v;
        ref.denoised[j] /= total;
    }
    ref.log_norm = ref.max_logit + std::log(total);
    for (std::size_t i = 0; i < n; ++i) {
        long double dev = 0;
        for (std::size_t j = 0; j < d; ++j) {
            const long double e = ((long double)a * keys(i, j) - x[j]) / v - ref.score[j];
            dev += e * e;
        }
        long double ak = 0, r2 = 0;
        for (std::size_t j = 0; j < d; ++j) {
            ak += (long double)a * keys(i, j) * a * keys(i, j);
            r2 += ((long double)a * keys(i, j) - x[j]) * ((long double)a * keys(i, j) - x[j]);
        }
        const long double w = std::exp(logit[i] - ref.max_logit) / total;
        ref.condition += w * std::sqrt(dev) * std::abs(logit[i]);
        ref.input_condition += w * std::numeric_limits<double>::epsilon() * std::sqrt(ak) / v *
                               (1 + std::sqrt(r2) * std::sqrt(dev));
    }
    return ref;
}

// The test's accuracy demand: 1e-12 relative, plus the problem's own conditioning (see
// Reference::condition) at a generous 16 (D + 1) ulps of the logits.
double tolerance(const Reference& ref) {
    long double norm = 0;
    for (long double v : ref.score) norm += v * v;
    long double input = 0;
#if !defined(__FMA__)
    input = 4 * ref.input_condition;  // without FMA, a k_i - x carries the rounding of a k_i
#endif
    return double(1e-12L * std::sqrt(norm) +
                  16.0L * (ref.score.size() + 1) * std::numeric_limits<double>::epsilon() * ref.condition + input);
}

double abs_error(const double* got, const std::vector<long double>& want) {
    long double num = 0;
    for (std::size_t j = 0; j < want.size(); ++j) num += (got[j] - want[j]) * (got[j] - want[j]);
    return double(std::sqrt(num));
}

// |got - want| / |want| over one row.
double rel_error(const double* got, const std::vector<long double>& want) {
    long double num = 0, den = 0;
    for (std::size_t j = 0; j < want.size(); ++j) {
        num += (got[j] - want[j]) * (got[j] - want[j]);
        den += want[j] * want[j];
    }
    return double(std::sqrt(num / den));
}

using mdlab::test::time_for_variance;

std::shared_ptr<mdlab::ScoreEstimator> make_empirical(const std::shared_ptr<const Matrix>& data,
                                                      const std::shared_ptr<const mdlab::ForwardProcess>& proc) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// Queries near the noised data (a x_i + sigma eps) and some far from it.
Matrix queries(const Matrix& data, std::size_t m, double a, double s, std::uint64_t seed) {
    const std::size_t d = mdlab::cols(data);
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({m, d});
    for (std::size_t q = 0; q < m; ++q) {
        const std::size_t i = rng.below(mdlab::rows(data));
        const double spread = q % 3 == 2 ? 1.0 : s;  // every third query is far from the data
        for (std::size_t j = 0; j < d; ++j) x(q, j) = a * data(i, j) + spread * rng.normal();
    }
    return x;
}

}  // namespace
