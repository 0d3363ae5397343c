// The empirical score estimator, checked against a direct two-pass softmax in long double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/kernels/softmax_score.hpp>

#include "mdlab_test.hpp"
#include "empirical_reference.hpp"

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
