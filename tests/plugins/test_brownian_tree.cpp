// mdlab/brownian_tree.hpp: one Brownian path, the same at every query, whatever the step count,
// the thread count or the order of queries, with the law of Brownian motion (SCIENCE.md section 6).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/brownian_tree.hpp>
#include <mdlab/time_grid.hpp>

#include "mdlab_test.hpp"

using mdlab::BrownianIncrements;
using mdlab::BrownianTree;
using mdlab::Matrix;

namespace {

const mdlab::RandomStream stream(5, "shared/sampler/noise");

Matrix at(const BrownianTree& tree, double t, std::size_t n, std::size_t d = 1) {
    Matrix w = Matrix::from_shape({n, d});
    tree.at(t, w);
    return w;
}

bool identical(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// The normalised increments of a grid t_0 > ... > t_N, as a sampler draws them.
std::vector<Matrix> increments(const std::vector<double>& t, double t_end, std::size_t n, std::size_t d) {
    BrownianIncrements path;
    std::vector<Matrix> z;
    for (std::size_t i = 0; i + 1 < t.size(); ++i) {
        z.push_back(Matrix::from_shape({n, d}));
        path.draw(stream, t_end, t[i], t[i + 1], z.back());
    }
    return z;
}

// Sample covariance of two columns (means subtracted).
double covariance(const Matrix& a, const Matrix& b) {
    const std::size_t n = mdlab::rows(a);
    double ma = 0.0, mb = 0.0, c = 0.0;
    for (std::size_t i = 0; i < n; ++i) ma += a.data()[i], mb += b.data()[i];
    ma /= double(n), mb /= double(n);
    for (std::size_t i = 0; i < n; ++i) c += (a.data()[i] - ma) * (b.data()[i] - mb);
    return c / double(n - 1);
}

}  // namespace

TEST_CASE("a 10-step and a 40-step grid see one path: W at shared times, fine increments sum to coarse ones") {
    auto vp = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const std::size_t n = 300, d = 2;
    const auto coarse_t = mdlab::time_grid(*vp, "uniform", 10, 1e-3);
    const auto fine_t = mdlab::time_grid(*vp, "uniform", 40, 1e-3);
    for (std::size_t i = 0; i <= 10; ++i) REQUIRE(coarse_t[i] == fine_t[4 * i]);  // the grids share these bits

    const BrownianTree tree(stream, 0.0, vp->t_end());
    for (std::size_t i = 0; i <= 10; ++i) CHECK(identical(at(tree, coarse_t[i], n, d), at(tree, fine_t[4 * i], n, d)));

    const auto coarse = increments(coarse_t, vp->t_end(), n, d), fine = increments(fine_t, vp->t_end(), n, d);
    double worst = 0.0;
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t k = 0; k < n * d; ++k) {
            double sum = 0.0;
            for (std::size_t j = 4 * i; j < 4 * i + 4; ++j) sum += fine[j].data()[k] * std::sqrt(fine_t[j] - fine_t[j + 1]);
            worst = std::max(worst, std::abs(sum - coarse[i].data()[k] * std::sqrt(coarse_t[i] - coarse_t[i + 1])));
        }
    INFO("largest difference of a coarse increment from its fine sum: " << worst);
    CHECK(worst <= 1e-13);

    // The coarse path's W(t_0) - W(t_10) is the path's value difference itself.
    const Matrix w0 = at(tree, coarse_t[0], n, d), w10 = at(tree, coarse_t[10], n, d);
    double total = 0.0;
    for (std::size_t k = 0; k < n * d; ++k) {
        double sum = 0.0;
        for (std::size_t i = 0; i < 10; ++i) sum += coarse[i].data()[k] * std::sqrt(coarse_t[i] - coarse_t[i + 1]);
        total = std::max(total, std::abs(sum - (w0.data()[k] - w10.data()[k])));
    }
    CHECK(total <= 1e-13);
}

TEST_CASE("the path does not depend on the thread count, the query order or the batch size") {
    const BrownianTree tree(stream, 0.0, 80.0);
    const std::vector<double> times{80.0, 13.7, 0.002, 40.0, 1e-9, 0.0};
    for (const double t : times) {
        INFO("t = " << t);
        Matrix one;
        tbb::task_arena(1).execute([&] { one = at(tree, t, 1000, 3); });
        const Matrix many = at(tree, t, 1000, 3);
        CHECK(identical(one, many));
        // The first 300 rows of a batch of 1000 are a batch of 300.
        const Matrix few = at(tree, t, 300, 3);
        CHECK(std::memcmp(few.data(), many.data(), few.size() * sizeof(double)) == 0);
    }
    CHECK(identical(at(tree, 0.0, 10, 3), mdlab::zeros(10, 3)));
    // Increments drawn in one pass equal increments from fresh trees, one query pair each.
    const std::vector<double> grid{80.0, 30.0, 2.5, 0.3, 0.002};
    const auto z = increments(grid, 80.0, 500, 2);
    for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
        const BrownianTree fresh(stream, 0.0, 80.0);
        const Matrix a = at(fresh, grid[i], 500, 2), b = at(fresh, grid[i + 1], 500, 2);
        const double scale = 1.0 / std::sqrt(grid[i] - grid[i + 1]);
        Matrix want = Matrix::from_shape({500, 2});
        for (std::size_t k = 0; k < want.size(); ++k) want.data()[k] = (a.data()[k] - b.data()[k]) * scale;
        CHECK(identical(z[i], want));
    }
    // Another stream is another path.
    const BrownianTree other(mdlab::RandomStream(6, "shared/sampler/noise"), 0.0, 80.0);
    CHECK_FALSE(identical(at(tree, 13.7, 100), at(other, 13.7, 100)));
}

TEST_CASE("W has the covariance min(s, t) and the Brownian bridge between any two times, off the dyadic points") {
    // Depth 3 puts the times below in different leaves of width 1/8, where W is the bridge draw at
    // t itself; the default depth resolves them 2^-32 finely. Both must give Brownian motion exactly.
    const std::size_t n = 40000;
    const std::vector<double> t{0.3, 0.45, 0.7, 1.0};
    for (const unsigned depth : {3u, BrownianTree::default_depth}) {
        INFO("depth " << depth);
        const BrownianTree tree(stream, 0.0, 1.0, depth);
        std::vector<Matrix> w;
        for (const double s : t) w.push_back(at(tree, s, n));
        for (std::size_t i = 0; i < t.size(); ++i)
            for (std::size_t j = i; j < t.size(); ++j) {
                const double want = std::min(t[i], t[j]);
                const double se = std::sqrt((t[i] * t[j] + want * want) / double(n));
                INFO("cov(W(" << t[i] << "), W(" << t[j] << ")) = " << covariance(w[i], w[j]) << ", want " << want);
                CHECK(std::abs(covariance(w[i], w[j]) - want) <= 5.0 * se);
            }

        // W(0.45) regressed on W(0.3) and W(0.7): the bridge's mean weights (0.625, 0.375) and
        // variance (t - a)(b - t)/(b - a) = 0.09375.
        const double a = t[0], m = t[1], b = t[2];
        const double caa = covariance(w[0], w[0]), cab = covariance(w[0], w[2]), cbb = covariance(w[2], w[2]);
        const double cam = covariance(w[0], w[1]), cbm = covariance(w[2], w[1]), cmm = covariance(w[1], w[1]);
        const double det = caa * cbb - cab * cab;
        const double wa = (cbb * cam - cab * cbm) / det, wb = (caa * cbm - cab * cam) / det;
        const double residual = cmm - wa * cam - wb * cbm;
        const double var = (m - a) * (b - m) / (b - a);
        INFO("bridge weights " << wa << ", " << wb << ", residual variance " << residual << " (want " << var << ")");
        // Least-squares standard errors: var (X^T X)^-1 with X^T X = n [[caa, cab], [cab, cbb]].
        const double se_a = std::sqrt(var * cbb / det / double(n)), se_b = std::sqrt(var * caa / det / double(n));
        CHECK(std::abs(wa - (b - m) / (b - a)) <= 5.0 * se_a);
        CHECK(std::abs(wb - (m - a) / (b - a)) <= 5.0 * se_b);
        CHECK(std::abs(residual - var) <= 5.0 * var * std::sqrt(2.0 / double(n)));
    }
}

TEST_CASE("the normalised increments of an irregular grid are independent N(0, 1)") {
    const std::size_t n = 20000;
    const std::vector<double> grid{80.0, 51.0, 20.0, 7.3, 2.0, 0.61, 0.1, 0.0137, 0.002};
    const auto z = increments(grid, 80.0, n, 1);
    for (std::size_t i = 0; i < z.size(); ++i) {
        double mean = 0.0;
        for (std::size_t k = 0; k < n; ++k) mean += z[i].data()[k] / double(n);
        INFO("step " << i << ": mean " << mean << ", variance " << covariance(z[i], z[i]));
        CHECK(std::abs(mean) <= 5.0 / std::sqrt(double(n)));
        CHECK(std::abs(covariance(z[i], z[i]) - 1.0) <= 5.0 * std::sqrt(2.0 / double(n)));
        for (std::size_t j = i + 1; j < z.size(); ++j) CHECK(std::abs(covariance(z[i], z[j])) <= 5.0 / std::sqrt(double(n)));
    }
}

TEST_CASE("the tree refuses times outside its range and increments that go up in time") {
    const BrownianTree tree(stream, 0.0, 1.0);
    Matrix w = Matrix::from_shape({3, 2});
    CHECK_THROWS_WITH(tree.at(1.5, w), Catch::Contains("outside"));
    CHECK_THROWS_WITH(tree.at(-0.1, w), Catch::Contains("outside"));
    BrownianIncrements path;
    CHECK_THROWS_WITH(path.draw(stream, 1.0, 0.2, 0.5, w), Catch::Contains("down in time"));
    CHECK_THROWS(BrownianTree(stream, 1.0, 1.0));
}
