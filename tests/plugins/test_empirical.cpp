// The empirical score estimator and the streaming softmax kernel behind it, checked against a
// direct two-pass softmax in long double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/kernels/softmax_score.hpp>

#include "mdlab_test.hpp"

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

// The VP time at which sigma(t)^2 = target (sigma increasing in t).
double time_for_variance(const mdlab::ForwardProcess& p, double target) {
    double lo = 0.0, hi = p.t_end();
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        (p.sigma(mid) * p.sigma(mid) < target ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

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

TEST_CASE("empirical score equals a two-pass softmax in long double", "[empirical]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const double t_tiny = time_for_variance(*proc, 1e-6);
    REQUIRE(proc->sigma(t_tiny) * proc->sigma(t_tiny) == Approx(1e-6).epsilon(1e-9));

    std::size_t checked = 0, ill_conditioned = 0;
    double worst = 0.0;
    for (std::size_t d : {1, 2, 5, 33}) {
        for (std::size_t n : {1, 5, 64, 203}) {  // 5 and 203 are not multiples of the key block
            auto data = std::make_shared<const Matrix>(normal_matrix(n, d, 100 + 7 * d + n));
            auto est = make_empirical(data, proc);
            REQUIRE(est->dim() == d);
            for (double t : {1.0, 0.5, 0.1, 0.01, t_tiny}) {
                const double a = proc->alpha(t), s = proc->sigma(t);
                for (std::size_t m : {1, 37}) {
                    const Matrix x = queries(*data, m, a, s, 1000 + d * 31 + n * 7 + m);
                    Matrix out, den;
                    est->score(x, t, out);
                    est->denoise(x, t, den);
                    REQUIRE(out.shape()[0] == m);
                    REQUIRE(out.shape()[1] == d);
                    for (std::size_t q = 0; q < m; ++q) {
                        const Reference ref = reference(mdlab::row(x, q), *data, a, s * s);
                        const double e = rel_error(mdlab::row(out, q), ref.score);
                        const double tol = tolerance(ref);
                        worst = std::max(worst, e);
                        INFO("D = " << d << ", N = " << n << ", t = " << t << ", query " << q
                                    << ": relative error " << e << ", condition " << double(ref.condition));
                        CHECK(abs_error(mdlab::row(out, q), ref.score) <= tol);
                        if (e > 1e-12) ++ill_conditioned;
                        // Tweedie: D(x, t) = sum_i w_i x_i = x + v s / a; absolute error relative to
                        // the data scale, since it divides by alpha = 0.0066 at t = 1.
                        long double err = 0;
                        for (std::size_t j = 0; j < d; ++j)
                            err = std::max(err, std::abs(den(q, j) - ref.denoised[j]));
                        CHECK(double(err) <= 1e-12 / a * (1.0 + std::abs(double(x(q, 0)))) + s * s / a * tol);
                        ++checked;
                    }
                }
            }
        }
    }
    WARN("empirical vs long double: worst relative error " << worst << "; " << ill_conditioned << " of "
         << checked << " queries above 1e-12 relative, all within their conditioning bound");
    CHECK(checked == 4 * 4 * 5 * 38);
    CHECK(ill_conditioned <= checked / 100);
}

TEST_CASE("softmax kernel: general scale and variance, and the log normaliser", "[kernel]") {
    for (std::size_t d : {2, 7}) {
        const Matrix keys = normal_matrix(333, d, 5 + d, 2.0);
        const Matrix x = normal_matrix(50, d, 6 + d, 3.0);
        for (double v : {10.0, 0.3, 1e-4}) {
            const double a = 1.7;
            Matrix out;
            mdlab::Vector log_norm;
            mdlab::kernels::softmax_score(x, keys, a, v, out, &log_norm);
            REQUIRE(log_norm.shape()[0] == 50);
            for (std::size_t q = 0; q < 50; ++q) {
                const Reference ref = reference(mdlab::row(x, q), keys, a, v);
                INFO("D = " << d << ", v = " << v << ", query " << q);
                CHECK(abs_error(mdlab::row(out, q), ref.score) <= tolerance(ref));
                CHECK(std::abs(log_norm(q) - double(ref.log_norm)) <=
                      1e-12 * std::max(1.0, std::abs(double(ref.log_norm))));
            }
        }
    }
}

TEST_CASE("empirical score at tiny sigma: no NaN where naive exp underflows", "[empirical]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const std::size_t d = 2, n = 150;
    auto data = std::make_shared<const Matrix>(normal_matrix(n, d, 11));
    auto est = make_empirical(data, proc);
    // Queries spread over the data's range: far from every training point on the sigma scale.
    const Matrix x = normal_matrix(200, d, 12);
    for (double var : {1e-6, 1e-12}) {
        const double t = time_for_variance(*proc, var);
        const double a = proc->alpha(t), v = proc->sigma(t) * proc->sigma(t);
        Matrix out;
        est->score(x, t, out);
        std::size_t compared = 0;
        for (std::size_t q = 0; q < mdlab::rows(x); ++q) {
            const Reference ref = reference(mdlab::row(x, q), *data, a, v);
            for (std::size_t j = 0; j < d; ++j) REQUIRE(std::isfinite(out(q, j)));
            // A naive softmax exponentiates the logits directly: when they all underflow it
            // computes 0/0 = NaN. Those are the queries this test is about.
            if (std::exp(double(ref.max_logit)) != 0.0) continue;
            if (ref.gap < 50) continue;  // nearest and second-nearest nearly tied: not a pure pull
            std::size_t nearest = 0;
            double best = std::numeric_limits<double>::infinity();
            for (std::size_t i = 0; i < n; ++i) {
                double s = 0;
                for (std::size_t j = 0; j < d; ++j) s += (x(q, j) - a * (*data)(i, j)) * (x(q, j) - a * (*data)(i, j));
                if (s < best) best = s, nearest = i;
            }
            std::vector<long double> pull(d);
            for (std::size_t j = 0; j < d; ++j)
                pull[j] = ((long double)a * (*data)(nearest, j) - x(q, j)) / (long double)v;
            INFO("sigma^2 = " << var << ", query " << q);
            CHECK(rel_error(mdlab::row(out, q), pull) <= 1e-12);
            ++compared;
        }
        INFO("sigma^2 = " << var);
        CHECK(compared >= 150);
    }
}

TEST_CASE("empirical score is identical with 1 and 2 threads", "[empirical][threads]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(500, 3, 21));
    auto est = make_empirical(data, proc);
    const Matrix x = normal_matrix(3000, 3, 22);
    Matrix one, two;
    tbb::task_arena(1).execute([&] { est->score(x, 0.05, one); });
    tbb::task_arena(2).execute([&] { est->score(x, 0.05, two); });
    REQUIRE(one.size() == two.size());
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);
}

TEST_CASE("empirical validates its inputs and keeps them alive", "[empirical]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    using Catch::Matchers::Contains;

    auto data = std::make_shared<const Matrix>(normal_matrix(10, 2, 31));
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    {
        mdlab::Inputs in;
        in.set("data", data);
        in.set("process", proc);
        mdlab::test::TestContext ctx(7);
        est->prepare(in, ctx);
    }
    // The Inputs are gone; the estimator still holds the data and the process.
    CHECK(data.use_count() >= 2);
    CHECK(proc.use_count() >= 2);
    CHECK(&est->process() == proc.get());

    Matrix out;
    const Matrix wrong = normal_matrix(4, 3, 32);
    CHECK_THROWS_AS(est->score(wrong, 0.5, out), mdlab::Error);
    CHECK_THROWS_WITH(est->score(wrong, 0.5, out), Contains("3 columns") && Contains("dimension 2"));

    auto empty = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::make_shared<const Matrix>(Matrix::from_shape({0, 2})));
    in.set("process", proc);
    mdlab::test::TestContext ctx(7);
    CHECK_THROWS_AS(empty->prepare(in, ctx), mdlab::Error);
    CHECK_THROWS_WITH(empty->prepare(in, ctx), Contains("empty"));
}
