// The knn_score estimator: equal to `empirical` when k >= N (bit for bit), equal to a brute-force
// transcription (every distance in long double, sorted, the k nearest kept, a two-pass softmax
// over them) for small k, and to the empirical score at small sigma, where the points beyond the
// k nearest carry no weight.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "empirical_reference.hpp"
#include "error_key.hpp"
#include "mdlab_test.hpp"

namespace {

std::shared_ptr<mdlab::ScoreEstimator> knn_score(const std::shared_ptr<const Matrix>& data, std::size_t k) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("knn_score", R"({"k": )" + std::to_string(k) + "}");
    mdlab::Inputs in;
    in.set("data", data);
    in.set("process", mdlab::test::make<mdlab::ForwardProcess>("vp"));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// The k keys whose a k_i are nearest to x (ties: lower index), as a matrix.
Matrix nearest_keys(const double* x, const Matrix& keys, double a, std::size_t k) {
    const std::size_t n = mdlab::rows(keys), d = mdlab::cols(keys);
    std::vector<long double> dist(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) dist[i] += ((long double)a * keys(i, j) - x[j]) * ((long double)a * keys(i, j) - x[j]);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t p, std::size_t q) { return dist[p] < dist[q]; });
    Matrix out = Matrix::from_shape({k, d});
    for (std::size_t r = 0; r < k; ++r)
        for (std::size_t j = 0; j < d; ++j) out(r, j) = keys(order[r], j);
    return out;
}

}  // namespace

TEST_CASE("knn_score with k >= N is the empirical score, bit for bit", "[knn_score]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(40, 3, 1));
    auto emp = make_empirical(data, proc);
    for (std::size_t k : {40, 41, 1000}) {
        auto est = knn_score(data, k);
        for (double t : {1.0, 0.3, 0.01}) {
            const Matrix x = queries(*data, 50, proc->alpha(t), proc->sigma(t), 2);
            Matrix a, b;
            est->score(x, t, a);
            emp->score(x, t, b);
            INFO("k = " << k << ", t = " << t);
            CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
        }
    }
}

TEST_CASE("knn_score equals a brute-force softmax over the k nearest noised points", "[knn_score]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    std::size_t checked = 0;
    for (std::size_t d : {1, 2, 5}) {
        auto data = std::make_shared<const Matrix>(normal_matrix(60, d, 3 + d));
        for (std::size_t k : {1, 3, 7, 32}) {
            auto est = knn_score(data, k);
            for (double t : {1.0, 0.5, 0.1, 0.01}) {
                const double a = proc->alpha(t), s = proc->sigma(t);
                const Matrix x = queries(*data, 30, a, s, 100 + k + d);
                Matrix out;
                est->score(x, t, out);
                for (std::size_t q = 0; q < 30; ++q) {
                    const Reference ref = reference(mdlab::row(x, q), nearest_keys(mdlab::row(x, q), *data, a, k), a, s * s);
                    INFO("D = " << d << ", k = " << k << ", t = " << t << ", query " << q);
                    CHECK(abs_error(mdlab::row(out, q), ref.score) <= tolerance(ref));
                    ++checked;
                }
            }
        }
    }
    CHECK(checked == 3 * 4 * 4 * 30);
}

TEST_CASE("knn_score: the empirical score where the far points carry no weight, and where they do", "[knn_score]") {
    auto proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    auto data = std::make_shared<const Matrix>(normal_matrix(500, 2, 9));
    auto emp = make_empirical(data, proc);
    auto est = knn_score(data, 5);
    // sigma^2 = 1e-4 and queries within a sigma of the data: the 6th point is many sigma away.
    const double t = time_for_variance(*proc, 1e-4), a = proc->alpha(t), s = proc->sigma(t);
    Matrix x = Matrix::from_shape({40, 2});
    mdlab::Rng rng(4);
    for (std::size_t q = 0; q < 40; ++q)
        for (std::size_t j = 0; j < 2; ++j) x(q, j) = a * (*data)(q, j) + 0.5 * s * rng.normal();
    Matrix mine, full;
    est->score(x, t, mine);
    emp->score(x, t, full);
    for (std::size_t q = 0; q < 40; ++q) CHECK(rel_error(mdlab::row(mine, q), reference(mdlab::row(x, q), *data, a, s * s).score) <= 1e-10);
    // At t = 1 the kernels are wide: the full score pulls toward the whole set's mean, the 5
    // nearest only toward a local average, so the two differ.
    est->score(x, 1.0, mine);
    emp->score(x, 1.0, full);
    double diff = 0.0;
    for (std::size_t k = 0; k < mine.size(); ++k) diff = std::max(diff, std::abs(mine.data()[k] - full.data()[k]));
    CHECK(diff > 1e-3);
}

TEST_CASE("knn_score: threads, non-finite queries, bad k", "[knn_score]") {
    auto data = std::make_shared<const Matrix>(normal_matrix(300, 4, 5));
    auto est = knn_score(data, 8);
    const Matrix x = normal_matrix(2000, 4, 6);
    Matrix one, two;
    tbb::task_arena(1).execute([&] { est->score(x, 0.1, one); });
    tbb::task_arena(2).execute([&] { est->score(x, 0.1, two); });
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);

    Matrix bad = normal_matrix(2, 4, 7);
    bad(1, 2) = std::numeric_limits<double>::quiet_NaN();
    Matrix out;
    est->score(bad, 0.1, out);
    CHECK(std::isfinite(out(0, 0)));
    CHECK(std::isnan(out(1, 0)));

    CHECK(mdlab::test::error_key([] { mdlab::test::make<mdlab::ScoreEstimator>("knn_score", R"({"k": 0})"); }) == "k");
    CHECK(mdlab::test::error_key([&] { knn_score(data, 33); }) == "k");   // 32 < k < N
    CHECK(mdlab::test::error_key([&] { knn_score(data, 300); }) == "<none>");  // k = N: the empirical score
}
