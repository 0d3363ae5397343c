// The fast paths of the softmax score kernel (mdlab/kernels/softmax_score.hpp with
// softmax_microkernel.hpp and vector_exp.hpp): the vector exp against std::exp in long double
// over its whole range; the f64 fast path against a plain two-pass softmax written out here in
// long double (first pass: logits and their maximum; second pass: normalised weights and the
// weighted sum), over dimensions, sizes that are not multiples of the block, the register tile
// or the query group, variances from 1e-6 to 100, queries on top of keys and far from them, with
// and without log-weights; the f32 fast path against the same reference within its stated
// tolerance; streaming over a subset of blocks (the spatial-index entry point); bit-identity
// across thread counts and across the other queries of a call; the inputs routed to the general
// path (NaN, overflow, a = 0); and the estimators' `precision` parameter. Every case runs on
// every instruction-set path the CPU supports (isa_paths.hpp). No timing is asserted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

#include "isa_paths.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"

namespace {

using mdlab::Matrix;
using mdlab::kernels::Precision;
using mdlab::test::identical;
using mdlab::test::normal_matrix;
using LD = long double;
constexpr double eps = std::numeric_limits<double>::epsilon();
constexpr double inf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// The two-pass reference: component i is N(a k_i, v I) with prior weight e^{l_i}.
struct Reference {
    std::vector<LD> score;
    LD log_norm = 0;
    // Sensitivity to rounding, in units of eps (as in test_estimators_softmax.cpp): rounding the
    // inputs of each logit (|r|^2 / (2v), |l|) moves the answer by sum_i w_i |comp_i - score|
    // times that; rounding each component, by about |r_i| / v.
    LD logit_condition = 0, component_condition = 0;
    LD comp_scale = 0;  // sum_i w_i |comp_i|
    LD comp_max = 0;    // max_i |comp_i| over all keys
};

Reference reference(const double* x, const Matrix& keys, double a, double v, const std::vector<double>* lw = nullptr,
                    const std::vector<std::size_t>* subset = nullptr) {
    const std::size_t d = mdlab::cols(keys);
    std::vector<std::size_t> all;
    if (!subset) {
        all.resize(mdlab::rows(keys));
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
        subset = &all;
    }
    const std::size_t n = subset->size();
    std::vector<LD> logit(n), comp(n * d), r2(n);
    Reference ref;
    for (std::size_t m = 0; m < n; ++m) {
        const std::size_t i = (*subset)[m];
        LD s = 0;
        for (std::size_t j = 0; j < d; ++j) {
            // x - a k to about 2^-63 relative even when x is a k rounded (a k is not exact in
            // long double: 106 bits): a k = p + e exactly (fma), and p - x is exact or small.
            const double p = a * keys(i, j), pe = std::fma(a, keys(i, j), -p);
            const LD r = (LD(x[j]) - LD(p)) - LD(pe);
            s += r * r;
            comp[m * d + j] = -r / LD(v);
        }
        r2[m] = s;
        logit[m] = (lw ? LD((*lw)[i]) : 0) - s / (2 * LD(v));
        if (!lw || (*lw)[i] > -inf) ref.comp_max = std::max(ref.comp_max, std::sqrt(s) / LD(v));
    }
    LD top = -std::numeric_limits<LD>::infinity();
    for (LD l : logit) top = std::max(top, l);
    ref.score.assign(d, 0);
    LD total = 0;
    for (std::size_t m = 0; m < n; ++m) total += std::exp(logit[m] - top);
    for (std::size_t m = 0; m < n; ++m) {
        const LD w = std::exp(logit[m] - top) / total;
        for (std::size_t j = 0; j < d; ++j) ref.score[j] += w * comp[m * d + j];
    }
    ref.log_norm = top + std::log(total);
    for (std::size_t m = 0; m < n; ++m) {
        const LD w = std::exp(logit[m] - top) / total;
        if (w == 0) continue;
        LD dev = 0, c = 0;
        for (std::size_t j = 0; j < d; ++j) {
            dev += (comp[m * d + j] - ref.score[j]) * (comp[m * d + j] - ref.score[j]);
            c += comp[m * d + j] * comp[m * d + j];
        }
        const LD l = lw ? std::abs(LD((*lw)[(*subset)[m]])) : 0;
        ref.logit_condition += w * std::sqrt(dev) * (r2[m] / (2 * LD(v)) + l);
        ref.component_condition += w * std::sqrt(r2[m]) / LD(v);
        ref.comp_scale += w * std::sqrt(c);
    }
    return ref;
}

LD norm(const std::vector<LD>& v) {
    LD s = 0;
    for (LD x : v) s += x * x;
    return std::sqrt(s);
}

// 1e-12 relative, plus the problem's own rounding sensitivity at a generous number of ulps (the
// tolerance of test_estimators_softmax.cpp), plus the double range: weights below DBL_MIN
// relative to the largest are dropped (the exp flushes them), which moves the answer by at most
// DBL_MIN times the largest component (a query exactly on a key: the answer itself is then
// below the double range, e.g. 1e-693).
double tolerance(const Reference& ref) {
    const double d = static_cast<double>(ref.score.size());
    return double(1e-12L * norm(ref.score) + 16.0L * (d + 1) * eps * ref.logit_condition +
                  4.0L * eps * ref.component_condition +
                  2.0L * std::numeric_limits<double>::min() * ref.comp_max);
}

double abs_error(const double* got, const std::vector<LD>& want) {
    LD s = 0;
    for (std::size_t j = 0; j < want.size(); ++j) s += (got[j] - want[j]) * (got[j] - want[j]);
    return double(std::sqrt(s));
}

// Queries around the noised keys: for each, a key i and an offset of `spread` standard
// deviations sqrt(v) (0: exactly on top, x = a k_i rounded), cycling through spreads
// {0, 0.1, 1, 3} and, every fifth query, far away (offset 10 in data units).
Matrix queries(const Matrix& keys, std::size_t m, double a, double v, std::uint64_t seed) {
    const std::size_t d = mdlab::cols(keys);
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({m, d});
    const double spreads[4] = {0.0, 0.1, 1.0, 3.0};
    for (std::size_t q = 0; q < m; ++q) {
        const std::size_t i = rng.below(mdlab::rows(keys));
        const double spread = q % 5 == 4 ? 10.0 : spreads[q % 4] * std::sqrt(v);
        for (std::size_t j = 0; j < d; ++j) x(q, j) = a * keys(i, j) + spread * rng.normal();
    }
    return x;
}

// Rows passing 1e-12 relative outright, and the worst relative error, over answers well inside
// the double range: a query exactly on a key at small v has an answer made of weights like
// e^-700 (or 1e-693, which double can only give as 0), where the exp's flush below DBL_MIN
// decides the relative error (the tolerance's DBL_MIN term covers them).
struct Tally {
    std::size_t rows = 0, above = 0;
    double worst = 0.0;
    void add(double abs_err, const Reference& ref) {
        if (!(norm(ref.score) > 1e-280L * (1 + ref.comp_max))) return;
        const double rel = abs_err / double(norm(ref.score));
        worst = std::max(worst, rel);
        ++rows;
        if (rel > 1e-12) ++above;
    }
};

// ulps of |got - exact| at the exact value's binade (double or float).
template <class T>
double ulps(T got, long double exact) {
    const int digits = std::numeric_limits<T>::digits;
    const long double ulp = std::ldexp(1.0L, std::ilogb(exact) - (digits - 1));
    return double(std::abs((long double)got - exact) / ulp);
}

template <class T>
double exp_max_ulps(T lowest) {
    double worst = 0.0;
    std::vector<T> args;
    // Every binade of |t| from the smallest normal up to |lowest|, 512 mantissas each, plus
    // dense samples of the range.
    mdlab::Rng rng(17);
    for (int e = std::numeric_limits<T>::min_exponent - 1; std::ldexp(1.0, e) <= -double(lowest); ++e)
        for (int k = 0; k < 512; ++k) {
            const T t = -T(std::ldexp(1.0 + rng.uniform(), e));
            if (t >= lowest) args.push_back(t);
        }
    for (int k = 0; k < 200000; ++k) args.push_back(T(double(lowest) * rng.uniform()));
    std::vector<T> e(args.size());
    mdlab::kernels::exp_nonpositive(args.data(), e.data(), args.size());
    for (std::size_t i = 0; i < args.size(); ++i) worst = std::max(worst, ulps<T>(e[i], std::exp((long double)args[i])));
    return worst;
}

std::shared_ptr<const mdlab::ForwardProcess> vp() { return mdlab::test::make<mdlab::ForwardProcess>("vp"); }

std::shared_ptr<mdlab::ScoreEstimator> estimator(const std::string& name, const std::string& params,
                                                 const std::shared_ptr<const Matrix>& data,
                                                 const std::shared_ptr<const mdlab::ForwardProcess>& proc) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>(name, params);
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", proc);
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

}  // namespace

// =============================================================================================
// The vector exp.

TEST_CASE("vector exp is within 1.5 ulp of exp over its range and flushes below it", "[kernel][exp]") {
    MDLAB_ON_EVERY_ISA_PATH();
    // Error budget: the table value 2^(j/16) rounded (0.5 ulp), e^r - 1 by a polynomial whose
    // truncation error is below 1e-17 (double) / 1e-8 (float) plus its rounding, and the final
    // fma (0.5 ulp). Measured: 1.02 ulp (double), 1.07 ulp (float) with FMA.
    const double worst64 = exp_max_ulps<double>(-708.3964185322641);
    const double worst32 = exp_max_ulps<float>(-87.33654f);
    WARN(mdlab::isa::name(mdlab_isa_path) << " vector exp: max error " << worst64 << " ulp (double), " << worst32
         << " ulp (float)");
    CHECK(worst64 <= 1.5);
    CHECK(worst32 <= 1.5);

    // Edges: exp(0) = 1 exactly, 0 for -inf, NaN and arguments whose exp is subnormal (an odd
    // count: the tail of a register too).
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double edge[9] = {0.0, -0.0, -inf, nan, -709.0, -745.5, -1e300, -708.39, -1.0};
    double e[9];
    mdlab::kernels::exp_nonpositive(edge, e, 9);
    CHECK(e[0] == 1.0);
    CHECK(e[1] == 1.0);
    for (int l = 2; l < 7; ++l) CHECK(e[l] == 0.0);
    CHECK(e[7] == Approx(std::exp(-708.39)).epsilon(1e-15));
    CHECK(e[8] == Approx(std::exp(-1.0)).epsilon(1e-15));
    float edgef[17], ef[17];
    for (int l = 0; l < 17; ++l) edgef[l] = l < 8 ? float(edge[l]) : -float(l);
    edgef[5] = -88.0f;
    mdlab::kernels::exp_nonpositive(edgef, ef, 17);
    CHECK(ef[0] == 1.0f);
    for (int l = 2; l < 7; ++l) CHECK(ef[l] == 0.0f);
    for (int l = 8; l < 17; ++l) CHECK(ef[l] == Approx(std::exp(-float(l))).epsilon(2e-7));
}

// =============================================================================================
// f64 fast path against the two-pass reference.

TEST_CASE("f64 fast path equals a two-pass softmax in long double to 1e-12", "[kernel][f64]") {
    MDLAB_ON_EVERY_ISA_PATH();
    Tally tally, far;  // queries within 3 sigma of a key / 10 data units away
    std::size_t checked = 0;
    for (std::size_t d : {1, 2, 3, 16, 17, 64}) {
        for (std::size_t n : {1, 63, 130, 200}) {  // 1 partial block; none a multiple of 64
            const Matrix keys = normal_matrix(n, d, 10 + 7 * d + n);
            const mdlab::kernels::SoftmaxKeys packed(keys);
            for (double a : {1.0, 0.83}) {  // a = 1: x / a exact; 0.83: the low part is used
                for (double v : {1e-6, 1e-2, 1.0, 100.0}) {
                    const std::size_t m = d == 64 ? 23 : 37;  // not multiples of the tile or group
                    const Matrix x = queries(keys, m, a, v, 20 + d + n + std::uint64_t(1e3 * v));
                    Matrix out;
                    mdlab::Vector log_norm;
                    mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm);
                    for (std::size_t q = 0; q < m; ++q) {
                        INFO("D = " << d << ", N = " << n << ", a = " << a << ", v = " << v << ", query " << q);
                        const Reference ref = reference(mdlab::row(x, q), keys, a, v);
                        const double e = abs_error(mdlab::row(out, q), ref.score);
                        CHECK(e <= tolerance(ref));
                        CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <=
                              1e-12 * std::max(1.0, std::abs(double(ref.log_norm))));
                        (q % 5 == 4 ? far : tally).add(e, ref);
                        ++checked;
                    }
                }
            }
        }
    }
    WARN("f64 fast path vs long double: worst relative error " << tally.worst << " for queries within 3 sigma of a "
         << "key (" << tally.above << " of " << tally.rows << " rows above 1e-12), " << far.worst << " for far queries "
         << "(logits up to 1e7: within their conditioning; " << far.above << " of " << far.rows << " above 1e-12)");
    CHECK(checked == 6 * 4 * 2 * 4 * 37 - 4 * 2 * 4 * 14);
    CHECK(tally.above == 0);
    CHECK(far.above <= far.rows / 20);
}

TEST_CASE("f64 fast path with log-weights equals the weighted two-pass softmax", "[kernel][f64][weights]") {
    MDLAB_ON_EVERY_ISA_PATH();
    Tally tally;
    for (std::size_t d : {2, 3, 17}) {
        const std::size_t n = 150;
        const Matrix keys = normal_matrix(n, d, 30 + d);
        mdlab::Rng rng(31 + d);
        std::vector<double> lw(n);
        mdlab::Vector lw_vec = mdlab::Vector::from_shape({n});
        for (std::size_t i = 0; i < n; ++i) lw_vec(i) = lw[i] = i % 13 == 5 ? -inf : 2.0 * rng.normal() - 3.0;
        mdlab::kernels::SoftmaxKeys packed(keys);
        packed.set_log_weights(lw_vec);
        REQUIRE(packed.weighted());
        for (double a : {1.0, 0.9}) {
            for (double v : {1e-6, 0.05, 3.0}) {
                const Matrix x = queries(keys, 41, a, v, 32 + d);
                Matrix out;
                mdlab::Vector log_norm;
                mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm);
                for (std::size_t q = 0; q < 41; ++q) {
                    INFO("D = " << d << ", a = " << a << ", v = " << v << ", query " << q);
                    const Reference ref = reference(mdlab::row(x, q), keys, a, v, &lw);
                    const double e = abs_error(mdlab::row(out, q), ref.score);
                    CHECK(e <= tolerance(ref));
                    CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <=
                          1e-12 * std::max(1.0, std::abs(double(ref.log_norm))));
                    tally.add(e, ref);
                }
            }
        }
    }
    WARN("f64 fast path with log-weights: worst relative error " << tally.worst << ", " << tally.above << " of "
         << tally.rows << " rows above 1e-12");
    CHECK(tally.above <= tally.rows / 100);
}

TEST_CASE("checked fast distances: queries between close keys at small v are recomputed exactly",
          "[kernel][f64][check]") {
    MDLAB_ON_EVERY_ISA_PATH();
    // 300 keys within 3e-4 of (1.1, -0.7, 0.9), v = 1e-8 (sigma = 1e-4), a = 0.83: every query
    // has many keys within a few sigma. Distances from x / a rounded (xh, without xl) are the
    // distances of a query 1 ulp away, which moves these scores by about eps |x| / sigma ~ 1e-12
    // relative: the kernel's check must flag them and recompute with exact distances.
    const std::size_t d = 3, n = 300, m = 40;
    Matrix keys = normal_matrix(n, d, 90, 3e-4);
    const double centre[3] = {1.1, -0.7, 0.9};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) keys(i, j) += centre[j];
    const double a = 0.83, v = 1e-8;
    const Matrix x = queries(keys, m, a, v, 91);
    const mdlab::kernels::SoftmaxKeys packed(keys);
    Matrix out;
    mdlab::kernels::softmax_score(x, packed, a, v, out);

    // What the unchecked fast distances would give: weights of x~ = a xh, components of x.
    double worst_unchecked = 0.0, worst = 0.0;
    for (std::size_t q = 0; q < m; ++q) {
        const Reference ref = reference(mdlab::row(x, q), keys, a, v);
        std::vector<LD> logit(n), score(d, 0);
        LD top = -inf, total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            LD s = 0;
            for (std::size_t j = 0; j < d; ++j) {
                const LD r = LD(a) * LD(x(q, j) / a) - LD(a) * keys(i, j);  // x~ - a k, exactly
                s += r * r;
            }
            logit[i] = -s / (2 * LD(v));
            top = std::max(top, logit[i]);
        }
        for (std::size_t i = 0; i < n; ++i) total += std::exp(logit[i] - top);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < d; ++j) {
                const double p = a * keys(i, j), pe = std::fma(a, keys(i, j), -p);
                score[j] += std::exp(logit[i] - top) / total * ((LD(p) - LD(x(q, j))) + LD(pe)) / LD(v);
            }
        std::vector<double> unchecked(score.begin(), score.end());
        worst_unchecked = std::max(worst_unchecked, abs_error(unchecked.data(), ref.score) / double(norm(ref.score)));
        const double e = abs_error(mdlab::row(out, q), ref.score);
        INFO("query " << q);
        CHECK(e <= tolerance(ref));
        worst = std::max(worst, e / double(norm(ref.score)));
    }
    // The group reports the recomputation.
    std::vector<const double*> rows(32);
    std::vector<double*> outs(32);
    Matrix o2 = Matrix::from_shape({32, d});
    for (std::size_t q = 0; q < 32; ++q) rows[q] = mdlab::row(x, q), outs[q] = mdlab::row(o2, q);
    const std::size_t recomputed = mdlab::kernels::stream_blocks(packed, a, v, rows.data(), 32, nullptr, 0, outs.data());
    for (std::size_t q = 0; q < 32; ++q)
        for (std::size_t j = 0; j < d; ++j) CHECK(o2(q, j) == out(q, j));
    WARN(mdlab::isa::name(mdlab_isa_path) << ": close keys at v = 1e-8: unchecked fast distances would be off by "
         << worst_unchecked << " relative; the kernel recomputed " << recomputed << " of 32 queries and is off by "
         << worst);
    CHECK(recomputed > 16);
    CHECK(worst_unchecked > 1e-12);  // the check is needed here
}

// =============================================================================================
// f32.

TEST_CASE("f32 fast path is within 2e-5 of the softmax at moderate sigma", "[kernel][f32]") {
    MDLAB_ON_EVERY_ISA_PATH();
    // Float rounds the keys and x / a (relative 6e-8 each), so every logit |x - a k|^2 / (2v)
    // moves by about 2 FLT_EPSILON |s| |k| c per coordinate, and the weights by that; the sums
    // carry about 64 float roundings per lane before each flush into double. For queries within
    // a few sigma of the data (logits of the weighted keys O(D)) the score moves by about
    // 1e-6 of the typical component |comp_i| (sum_i w_i |comp_i|); the tolerance 2e-5 of that
    // is a margin of 10 over the measured worst case. Queries closer to a key than a fraction
    // of sigma (their score is about the float rounding of x / v) and tiny sigma are not f32's
    // domain (see softmax_score.hpp); far queries and v = 1e-6 are only reported.
    double worst = 0.0, worst_far = 0.0, worst_tiny = 0.0;
    for (std::size_t d : {2, 16, 17}) {
        const Matrix keys = normal_matrix(200, d, 40 + d);
        const mdlab::kernels::SoftmaxKeys packed(keys);
        for (double a : {1.0, 0.9}) {
            for (double v : {1e-6, 1e-2, 1.0}) {
                const Matrix x = queries(keys, 45, a, v, 41 + d);
                Matrix out;
                mdlab::Vector log_norm;
                mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm, 0.0, Precision::f32);
                for (std::size_t q = 0; q < 45; ++q) {
                    const Reference ref = reference(mdlab::row(x, q), keys, a, v);
                    const double rel = abs_error(mdlab::row(out, q), ref.score) / double(ref.comp_scale);
                    const bool far = q % 5 == 4;
                    const bool within = !far && q % 4 >= 2;  // 1 or 3 standard deviations from a key
                    if (v == 1e-6) {
                        if (within) worst_tiny = std::max(worst_tiny, rel);
                        continue;
                    }
                    if (far) {
                        worst_far = std::max(worst_far, rel);
                        continue;
                    }
                    if (!within) continue;  // on top of a key: the float rounding of x is the answer's size
                    INFO("D = " << d << ", a = " << a << ", v = " << v << ", query " << q);
                    CHECK(rel <= 2e-5);
                    CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <= 2e-5 * std::max(1.0, std::abs(double(ref.log_norm))));
                    worst = std::max(worst, rel);
                }
            }
        }
    }
    WARN("f32 fast path, error relative to sum_i w_i |comp_i|: worst " << worst << " (queries within 3 sigma, "
         << "v = 1e-2 and 1); far queries " << worst_far << "; v = 1e-6 " << worst_tiny << " (not f32's domain)");
}

// =============================================================================================
// Streaming over a subset of blocks, query independence, threads.

TEST_CASE("stream_blocks over a subset of blocks is the softmax over their keys", "[kernel][blocks]") {
    MDLAB_ON_EVERY_ISA_PATH();
    const std::size_t d = 5, n = 300;  // 5 blocks, the last partial
    const Matrix keys = normal_matrix(n, d, 50);
    const mdlab::kernels::SoftmaxKeys packed(keys);
    const std::vector<std::uint32_t> blocks = {4, 1, 3};  // any order, with the partial block
    std::vector<std::size_t> subset;
    for (std::uint32_t b : blocks)
        for (std::size_t k = 0; k < packed.count(b); ++k) subset.push_back(b * 64 + k);
    const double a = 0.95, v = 0.3;
    const Matrix x = queries(keys, 7, a, v, 51);
    std::vector<const double*> rows(7);
    std::vector<double*> outs(7), lns(7);
    Matrix out = Matrix::from_shape({7, d});
    std::vector<double> ln(7);
    for (std::size_t q = 0; q < 7; ++q) rows[q] = mdlab::row(x, q), outs[q] = mdlab::row(out, q), lns[q] = &ln[q];
    mdlab::kernels::stream_blocks(packed, a, v, rows.data(), 7, blocks.data(), 3, outs.data(), lns.data());
    for (std::size_t q = 0; q < 7; ++q) {
        INFO("query " << q);
        const Reference ref = reference(mdlab::row(x, q), keys, a, v, nullptr, &subset);
        CHECK(abs_error(mdlab::row(out, q), ref.score) <= tolerance(ref));
        CHECK(ln[q] == Approx(double(ref.log_norm)).epsilon(1e-12).margin(1e-12));
    }
    // A block out of range is refused.
    const std::uint32_t bad = 5;
    CHECK_THROWS_AS(mdlab::kernels::stream_blocks(packed, a, v, rows.data(), 7, &bad, 1, outs.data()), mdlab::Error);
    // All blocks in order = the public kernel, bit for bit.
    mdlab::kernels::stream_blocks(packed, a, v, rows.data(), 7, nullptr, 0, outs.data(), lns.data());
    Matrix whole;
    mdlab::kernels::softmax_score(x, packed, a, v, whole);
    CHECK(identical(out, whole));
}

TEST_CASE("fast paths: a query's result does not depend on the other queries or the thread count",
          "[kernel][threads]") {
    MDLAB_ON_EVERY_ISA_PATH();
    const Matrix keys = normal_matrix(333, 6, 60);
    mdlab::kernels::SoftmaxKeys plain(keys), weighted(keys);
    mdlab::Vector lw = mdlab::Vector::from_shape({333});
    mdlab::Rng rng(61);
    for (double& l : lw) l = rng.normal();
    weighted.set_log_weights(lw);
    const Matrix x = queries(keys, 517, 0.9, 0.04, 62);  // 517: not a multiple of the group (32)
    for (const auto* k : {&plain, &weighted}) {
        for (Precision p : {Precision::f64, Precision::f32}) {
            Matrix one, two;
            tbb::task_arena(1).execute([&] { mdlab::kernels::softmax_score(x, *k, 0.9, 0.04, one, nullptr, 0.0, p); });
            tbb::task_arena(2).execute([&] { mdlab::kernels::softmax_score(x, *k, 0.9, 0.04, two, nullptr, 0.0, p); });
            CHECK(identical(one, two));
            // Query 200 alone, and with a NaN query next to it in its tile and group.
            Matrix alone, with_nan;
            Matrix x1 = Matrix::from_shape({1, 6}), x2 = Matrix::from_shape({2, 6});
            for (std::size_t j = 0; j < 6; ++j) x1(0, j) = x2(1, j) = x(200, j), x2(0, j) = j == 2 ? std::nan("") : 0.0;
            mdlab::kernels::softmax_score(x1, *k, 0.9, 0.04, alone, nullptr, 0.0, p);
            mdlab::kernels::softmax_score(x2, *k, 0.9, 0.04, with_nan, nullptr, 0.0, p);
            for (std::size_t j = 0; j < 6; ++j) {
                CHECK(alone(0, j) == one(200, j));
                CHECK(with_nan(1, j) == one(200, j));
                CHECK(std::isnan(with_nan(0, j)));
            }
        }
    }
}

// =============================================================================================
// Inputs sent to the general path.

TEST_CASE("fast paths hand over NaN, overflowing and degenerate inputs to the general path", "[kernel][fallback]") {
    MDLAB_ON_EVERY_ISA_PATH();
    const Matrix keys = normal_matrix(100, 3, 70);
    const mdlab::kernels::SoftmaxKeys packed(keys);
    // NaN and huge queries mixed with ordinary ones.
    Matrix x = normal_matrix(40, 3, 71);
    x(3, 1) = std::nan("");
    for (std::size_t j = 0; j < 3; ++j) x(17, j) = (j == 0 ? 1e300 : -1e299);  // every distance overflows
    for (Precision p : {Precision::f64, Precision::f32}) {
        Matrix out;
        mdlab::Vector ln;
        mdlab::kernels::softmax_score(x, packed, 0.9, 0.5, out, &ln, 0.0, p);
        for (std::size_t j = 0; j < 3; ++j) CHECK(std::isnan(out(3, j)));
        CHECK(std::isnan(ln(3)));
        // Overflow: the limit of the softmax is the key nearest in direction, (a k* - x) / v.
        std::size_t best = 0;
        LD best_d = std::numeric_limits<LD>::infinity();
        for (std::size_t i = 0; i < 100; ++i) {
            LD s = 0;
            for (std::size_t j = 0; j < 3; ++j) s += (LD(x(17, j)) - 0.9L * keys(i, j)) * (LD(x(17, j)) - 0.9L * keys(i, j));
            if (s < best_d) best_d = s, best = i;
        }
        for (std::size_t j = 0; j < 3; ++j) CHECK(out(17, j) == Approx((0.9 * keys(best, j) - x(17, j)) / 0.5).epsilon(1e-12));
        // The others: the f64 reference (f32 within its tolerance).
        for (std::size_t q : {0, 5, 39}) {
            const Reference ref = reference(mdlab::row(x, q), keys, 0.9, 0.5);
            CHECK(abs_error(mdlab::row(out, q), ref.score) <= (p == Precision::f64 ? tolerance(ref) : 2e-5 * double(ref.comp_scale)));
        }
    }
    // a = 0: every component sits at the origin, the score is -x / v.
    const Matrix q = normal_matrix(9, 3, 72);
    Matrix out;
    mdlab::kernels::softmax_score(q, packed, 0.0, 2.0, out);
    for (std::size_t i = 0; i < 9; ++i)
        for (std::size_t j = 0; j < 3; ++j) CHECK(out(i, j) == Approx(-q(i, j) / 2.0).epsilon(1e-14));
    // Keys at a huge scale: the general path serves the whole call, results still finite.
    const Matrix big = normal_matrix(70, 3, 73, 1e200);
    mdlab::kernels::softmax_score(normal_matrix(5, 3, 74, 1e200), big, 1.0, 1.0, out);
    for (double s : out) CHECK(std::isfinite(s));
}

// =============================================================================================
// The estimators' precision parameter.

TEST_CASE("estimators pass their precision to the kernel", "[kernel][precision]") {
    MDLAB_ON_EVERY_ISA_PATH();
    using Catch::Matchers::Contains;
    auto proc = vp();
    auto data = std::make_shared<const Matrix>(normal_matrix(150, 4, 80));
    const Matrix x = normal_matrix(70, 4, 81, 0.8);
    const double t = 0.2, a = proc->alpha(t), s = proc->sigma(t);
    // The estimators pack their keys in the spatial index's order (SoftmaxKeys::indexed).
    const auto packed = mdlab::kernels::SoftmaxKeys::indexed(*data);
    for (const char* name : {"empirical", "kernel_smoothed", "tangent_smoothed"}) {
        INFO(name);
        const std::string extra = std::string(name) == "tangent_smoothed" ? ", \"bandwidth\": 0, \"intrinsic_dim\": 2" : "";
        auto f64 = estimator(name, std::string("{\"precision\": \"f64\"") + extra + "}", data, proc);
        auto f32 = estimator(name, std::string("{\"precision\": \"f32\"") + extra + "}", data, proc);
        auto dflt = estimator(name, std::string("{") + (extra.empty() ? "" : extra.substr(2)) + "}", data, proc);
        Matrix g64, g32, gd, want64, want32;
        f64->score(x, t, g64);
        f32->score(x, t, g32);
        dflt->score(x, t, gd);
        const double h = std::string(name) == "kernel_smoothed" ? 0.05 : 0.0;  // default bandwidth
        const double ah = a * h, v = s * s + ah * ah;  // as the plugins form it
        mdlab::kernels::softmax_score(x, packed, a, v, want64);
        mdlab::kernels::softmax_score(x, packed, a, v, want32, nullptr, 0.0, Precision::f32);
        CHECK(identical(g64, want64));
        CHECK(identical(gd, want64));
        CHECK(identical(g32, want32));
        CHECK_FALSE(identical(g32, want64));  // the fast path serves f32 on every path
    }
    // tangent_smoothed with a bandwidth: the tangent kernel runs in f64 whatever the precision.
    auto t64 = estimator("tangent_smoothed", R"({"precision": "f64", "bandwidth": 0.1, "intrinsic_dim": 2})", data, proc);
    auto t32 = estimator("tangent_smoothed", R"({"precision": "f32", "bandwidth": 0.1, "intrinsic_dim": 2})", data, proc);
    Matrix a64, a32;
    t64->score(x, t, a64);
    t32->score(x, t, a32);
    CHECK(identical(a64, a32));
    // An unknown precision is a user error on the key `precision`.
    std::string key;
    try {
        mdlab::test::make<mdlab::ScoreEstimator>("empirical", R"({"precision": "f16"})");
    } catch (const mdlab::InputError& e) {
        key = e.key();
    } catch (const mdlab::runtime::BadInput& e) {
        key = e.diagnostics().at(0).key;
    }
    CHECK(key == "precision");
}

// =============================================================================================
// Keys packed in the order of the spatial index (SoftmaxKeys::indexed, what the estimators use):
// at small v each query streams only the blocks the index keeps, and the answer still equals the
// full two-pass softmax.

TEST_CASE("indexed keys equal the two-pass softmax to 1e-12 and visit few blocks at small v", "[kernel][index]") {
    MDLAB_ON_EVERY_ISA_PATH();
    constexpr double two_pi = 6.283185307179586;
    Tally tally;
    for (std::size_t d : {2, 16}) {
        // N points on the unit circle in the first two coordinates of R^d (not a multiple of 64).
        const std::size_t n = 3001;
        Matrix keys = mdlab::zeros(n, d);
        mdlab::Rng rng(90 + d);
        for (std::size_t i = 0; i < n; ++i) {
            const double angle = two_pi * rng.uniform();
            keys(i, 0) = std::cos(angle);
            keys(i, 1) = std::sin(angle);
        }
        const auto packed = mdlab::kernels::SoftmaxKeys::indexed(keys);
        REQUIRE(packed.index() != nullptr);
        for (double v : {1e-6, 1e-4, 1e-2, 1.0}) {
            const double a = 0.9;
            const Matrix x = queries(keys, 41, a, v, 95 + d);
            Matrix out;
            mdlab::Vector log_norm;
            mdlab::kernels::SoftmaxStats stats;
            mdlab::kernels::softmax_score(x, packed, a, v, out, &log_norm, 0.0, Precision::f64, &stats);
            CHECK(stats.path == mdlab_isa_path);
            CHECK(stats.fast_queries == mdlab::rows(x));
            std::size_t kept = 0;
            mdlab::kernels::KeyIndex::Scratch scratch;
            std::vector<std::uint32_t> list;
            for (std::size_t q = 0; q < mdlab::rows(x); ++q) {
                INFO("D = " << d << ", v = " << v << ", query " << q);
                const Reference ref = reference(mdlab::row(x, q), keys, a, v);
                const double e = abs_error(mdlab::row(out, q), ref.score);
                INFO("error " << e << " tolerance " << tolerance(ref) << " score norm " << double(norm(ref.score)));
                CHECK(e <= tolerance(ref));
                CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <= 1e-12 * std::max(1.0, std::abs(double(ref.log_norm))));
                if (q % 5 != 4) tally.add(e, ref);
                kept += packed.index()->candidates(mdlab::row(x, q), a, v, list, scratch);
            }
            const double mean_kept = double(kept) / double(mdlab::rows(x));
            WARN(mdlab::isa::name(mdlab_isa_path) << ", D = " << d << ", v = " << v << ": " << mean_kept << " of "
                 << packed.blocks() << " blocks kept per query; the kernel streamed "
                 << double(stats.blocks_streamed) / double(mdlab::rows(x)) << " per query, " << stats.pruned_queries
                 << " of " << mdlab::rows(x) << " queries pruned");
            if (v <= 1e-4) {
                CHECK(mean_kept < 0.25 * double(packed.blocks()));
                // The kernel uses the index on this path: it streams only the kept blocks (a
                // silent fall-back to the dense path would stream every block for every query).
                CHECK(stats.pruned_queries == mdlab::rows(x));
                CHECK(stats.blocks_streamed == kept);
            }
        }
    }
    CHECK(tally.above == 0);
}

TEST_CASE("indexed keys reorder log-weights and tangent bases with the keys", "[kernel][index]") {
    MDLAB_ON_EVERY_ISA_PATH();
    const std::size_t n = 700, d = 3;
    const Matrix keys = normal_matrix(n, d, 120);
    mdlab::Vector lw = mdlab::Vector::from_shape({n});
    mdlab::Rng rng(121);
    for (auto& l : lw) l = 2.0 * rng.normal();
    // Tangent bases: one unit vector per key (a random direction).
    mdlab::TangentBases bases = mdlab::TangentBases::from_shape({n, d, 1});
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) s += (bases(i, j, 0) = rng.normal()) * bases(i, j, 0);
        for (std::size_t j = 0; j < d; ++j) bases(i, j, 0) /= std::sqrt(s);
    }
    auto plain = mdlab::kernels::SoftmaxKeys(keys);
    auto indexed = mdlab::kernels::SoftmaxKeys::indexed(keys);
    for (auto* k : {&plain, &indexed}) {
        k->set_log_weights(lw);
        k->set_tangents(bases);
    }
    const Matrix x = normal_matrix(50, d, 122);
    for (double v : {1e-4, 0.3}) {
        for (double tau : {0.0, 0.05}) {
            Matrix want, got;
            mdlab::Vector ln_want, ln_got;
            mdlab::kernels::softmax_score(x, plain, 0.8, v, want, &ln_want, tau);
            mdlab::kernels::softmax_score(x, indexed, 0.8, v, got, &ln_got, tau);
            for (std::size_t q = 0; q < mdlab::rows(x); ++q) {
                INFO("v = " << v << ", tau = " << tau << ", query " << q);
                double diff = 0.0, size = 0.0;
                for (std::size_t j = 0; j < d; ++j) {
                    diff = std::max(diff, std::abs(got(q, j) - want(q, j)));
                    size = std::max(size, std::abs(want(q, j)));
                }
                CHECK(diff <= 1e-12 * size);
                CHECK(std::abs(ln_got(q) - ln_want(q)) <= 1e-12 * std::max(1.0, std::abs(ln_want(q))));
            }
        }
    }
}

TEST_CASE("the tangent variant streams only the blocks the index keeps, and equals the dense call",
          "[kernel][index][tangent]") {
    MDLAB_ON_EVERY_ISA_PATH();
    // 2000 points on a circle in R^3 with their tangent lines; at small v and tau the index keeps
    // a few blocks per query, and the indexed call equals the same keys packed densely to 1e-12.
    const std::size_t n = 2000, d = 3;
    Matrix keys = mdlab::zeros(n, d);
    xt::xtensor<double, 3> bases = xt::zeros<double>({n, d, std::size_t(1)});
    mdlab::Rng rng(120);
    for (std::size_t i = 0; i < n; ++i) {
        const double angle = 6.283185307179586 * rng.uniform();
        keys(i, 0) = std::cos(angle);
        keys(i, 1) = std::sin(angle);
        bases(i, 0, 0) = -std::sin(angle);
        bases(i, 1, 0) = std::cos(angle);
    }
    auto indexed = mdlab::kernels::SoftmaxKeys::indexed(keys);
    indexed.set_tangents(bases);  // per-key extras in the original order
    mdlab::kernels::SoftmaxKeys dense(keys);
    dense.set_tangents(bases);
    const double a = 0.95, v = 1e-5, tau = 4e-5;
    const Matrix x = queries(keys, 50, a, v, 121);
    Matrix got, want;
    mdlab::kernels::SoftmaxStats stats;
    mdlab::kernels::softmax_score(x, indexed, a, v, got, nullptr, tau, Precision::f64, &stats);
    mdlab::kernels::softmax_score(x, dense, a, v, want, nullptr, tau);
    CHECK(stats.fast_queries == 0);  // the tangent variant runs on the general path
    CHECK(stats.blocks_streamed < 0.25 * double(50 * indexed.blocks()));
    for (std::size_t q = 0; q < 50; ++q) {
        double diff = 0.0, size = 0.0;
        for (std::size_t j = 0; j < d; ++j) {
            diff = std::max(diff, std::abs(got(q, j) - want(q, j)));
            size = std::max(size, std::abs(want(q, j)));
        }
        INFO("query " << q);
        CHECK(diff <= 1e-12 * size + 1e-300);
    }
}
