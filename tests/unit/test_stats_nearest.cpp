// The shared helpers of the metrics: mdlab/stats.hpp against hand-computed numpy values, and
// mdlab/kernels/nearest.hpp against an O(M N) brute force written here.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/nearest.hpp>
#include <mdlab/rng.hpp>
#include <mdlab/stats.hpp>

using mdlab::Matrix;
namespace st = mdlab::stats;
namespace kn = mdlab::kernels;

namespace {

Matrix make_matrix(std::size_t m, std::size_t d, const std::vector<double>& v) {
    REQUIRE(v.size() == m * d);
    Matrix x = Matrix::from_shape({m, d});
    std::copy(v.begin(), v.end(), x.begin());
    return x;
}

Matrix random_matrix(std::size_t m, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({m, d});
    for (auto& e : x) e = scale * rng.normal();
    return x;
}

// Integer coordinates in [0, range): many exact ties in the distances.
Matrix grid_matrix(std::size_t m, std::size_t d, std::uint64_t seed, std::uint64_t range) {
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({m, d});
    for (auto& e : x) e = static_cast<double>(rng.below(range));
    return x;
}

// Reference answer: every distance, sorted by (distance, index).
void check_against_brute_force(const Matrix& y, const Matrix& x, std::size_t k, bool exclude_self) {
    kn::NearestOptions opt;
    opt.exclude_self = exclude_self;
    const kn::Neighbours nn = kn::nearest(y, x, k, opt);
    REQUIRE(nn.k == k);
    REQUIRE(nn.distance.shape()[0] == mdlab::rows(y));
    REQUIRE(nn.distance.shape()[1] == k);
    for (std::size_t i = 0; i < mdlab::rows(y); ++i) {
        std::vector<std::pair<double, std::size_t>> all;
        for (std::size_t j = 0; j < mdlab::rows(x); ++j) {
            if (exclude_self && i == j) continue;
            double s = 0.0;
            for (std::size_t c = 0; c < mdlab::cols(x); ++c) s += (y(i, c) - x(j, c)) * (y(i, c) - x(j, c));
            all.emplace_back(std::sqrt(s), j);
        }
        std::sort(all.begin(), all.end());
        for (std::size_t s = 0; s < k; ++s) {
            INFO("query " << i << ", neighbour " << s);
            if (s < all.size()) {
                CHECK(nn.distance(i, s) == Approx(all[s].first).epsilon(1e-12).margin(1e-12));
                CHECK(nn.index(i, s) == all[s].second);
            } else {
                CHECK(std::isinf(nn.distance(i, s)));
                CHECK(nn.index(i, s) == kn::no_neighbour);
            }
        }
    }
}

// Bitwise equality of two arrays of the same shape.
template <class A>
bool identical(const A& a, const A& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

TEST_CASE("quantile follows numpy's linear method", "[stats]") {
    // sorted: 1 1 2 3 4 5 6 9 (n = 8, h = 7 q)
    const std::vector<double> v{3, 1, 4, 1, 5, 9, 2, 6};
    CHECK(st::quantile(v, 0.0) == 1.0);
    CHECK(st::quantile(v, 1.0) == 9.0);
    CHECK(st::quantile(v, 0.5) == Approx(3.5));    // h = 3.5: 3 + 0.5 (4 - 3)
    CHECK(st::quantile(v, 0.25) == Approx(1.75));  // h = 1.75: 1 + 0.75 (2 - 1)
    CHECK(st::quantile(v, 0.3) == Approx(2.1));    // h = 2.1: 2 + 0.1 (3 - 2)
    CHECK(st::quantile(v, 0.1) == Approx(1.0));    // h = 0.7 between the two 1s
    CHECK(st::quantile(v, 0.95) == Approx(7.95));  // h = 6.65: 6 + 0.65 (9 - 6)
    const auto qs = st::quantiles(v, {0.95, 0.25, 0.5});
    REQUIRE(qs.size() == 3);
    CHECK(qs[0] == Approx(7.95));
    CHECK(qs[1] == Approx(1.75));
    CHECK(qs[2] == Approx(3.5));

    // odd n: sorted 1 3 5
    const std::vector<double> w{5, 1, 3};
    CHECK(st::quantile(w, 0.5) == 3.0);
    CHECK(st::quantile(w, 0.75) == Approx(4.0));   // h = 1.5
    CHECK(st::quantile(w, 0.95) == Approx(4.8));   // h = 1.9: 3 + 0.9 (5 - 3)
    // one value: every quantile is that value
    const std::vector<double> one{2.5};
    CHECK(st::quantile(one, 0.0) == 2.5);
    CHECK(st::quantile(one, 0.37) == 2.5);
    CHECK(st::quantile(one, 1.0) == 2.5);
    // the input is not modified
    CHECK(v == std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6});
}

TEST_CASE("median, mean, min and max", "[stats]") {
    CHECK(st::median(std::vector<double>{3, 1, 4, 1, 5, 9, 2, 6}) == 3.5);  // (3 + 4) / 2
    CHECK(st::median(std::vector<double>{5, 1, 3}) == 3.0);
    CHECK(st::median(std::vector<double>{7}) == 7.0);
    CHECK(st::median(std::vector<double>{2, -2}) == 0.0);
    CHECK(st::mean(std::vector<double>{1, 2, 3, 4}) == 2.5);
    CHECK(st::mean(std::vector<double>{0.1, 0.2, 0.3}) == Approx(0.2));
    CHECK(st::max(std::vector<double>{-3, -1, -2}) == -1.0);
    CHECK(st::min(std::vector<double>{-3, -1, -2}) == -3.0);

    mdlab::Vector x = mdlab::Vector::from_shape({4});
    x(0) = 4; x(1) = 0; x(2) = 2; x(3) = 10;
    CHECK(st::mean(x) == 4.0);
    CHECK(st::median(x) == 3.0);
    CHECK(st::max(x) == 10.0);
    CHECK(st::quantile(x, 0.95) == Approx(9.1));  // sorted 0 2 4 10, h = 2.85: 4 + 0.85 * 6
}

TEST_CASE("stats: NaN propagates, empty input and bad q throw", "[stats]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<double> v{1, nan, 3};
    CHECK(std::isnan(st::mean(v)));
    CHECK(std::isnan(st::median(v)));
    CHECK(std::isnan(st::quantile(v, 0.5)));
    CHECK(std::isnan(st::max(v)));
    const std::vector<double> empty;
    CHECK_THROWS_AS(st::mean(empty), mdlab::Error);
    CHECK_THROWS_AS(st::median(empty), mdlab::Error);
    CHECK_THROWS_AS(st::quantile(empty, 0.5), mdlab::Error);
    CHECK_THROWS_AS(st::max(empty), mdlab::Error);
    CHECK_THROWS_AS(st::quantile(std::vector<double>{1, 2}, 1.5), mdlab::Error);
    CHECK_THROWS_AS(st::quantile(std::vector<double>{1, 2}, -0.1), mdlab::Error);
    CHECK_THROWS_AS(st::quantile(std::vector<double>{1, 2}, nan), mdlab::Error);
}

TEST_CASE("nearest matches brute force on random points", "[nearest]") {
    for (std::size_t d : {1u, 2u, 3u, 7u}) {
        for (std::size_t n : {1u, 2u, 3u, 50u, 700u}) {
            INFO("d = " << d << ", n = " << n);
            const Matrix x = random_matrix(n, d, 100 + d * 13 + n);
            const Matrix y = random_matrix(37, d, 200 + d * 13 + n, 1.5);
            check_against_brute_force(y, x, 1, false);
            check_against_brute_force(y, x, 2, false);
            check_against_brute_force(y, x, 3, false);
            check_against_brute_force(x, x, 2, true);
        }
    }
}

TEST_CASE("nearest matches brute force across several reference blocks", "[nearest]") {
    // The references are streamed in blocks of 16384 / D rows (64 to 4096): these sizes span
    // several blocks, with a partial last one.
    {
        const Matrix x = random_matrix(9000, 1, 31);
        const Matrix y = random_matrix(40, 1, 32);
        check_against_brute_force(y, x, 2, false);
    }
    {
        const Matrix x = random_matrix(333, 200, 33);
        const Matrix y = random_matrix(20, 200, 34);
        check_against_brute_force(y, x, 3, false);
        check_against_brute_force(x, x, 2, true);
    }
    {
        const Matrix x = grid_matrix(5000, 2, 35, 40);  // ties across blocks
        const Matrix y = grid_matrix(60, 2, 36, 40);
        check_against_brute_force(y, x, 2, false);
    }
}

TEST_CASE("nearest breaks ties by the lower index", "[nearest]") {
    // Integer grids: many queries are equidistant from several references.
    for (std::size_t d : {1u, 2u, 3u}) {
        INFO("d = " << d);
        const Matrix x = grid_matrix(300, d, 7 + d, 6);
        const Matrix y = grid_matrix(200, d, 9 + d, 6);
        check_against_brute_force(y, x, 2, false);
        check_against_brute_force(y, x, 4, false);
        check_against_brute_force(x, x, 2, true);
    }
    // Hand-made: query 0 is midway between references 0 and 1 (both at 1), 2 is at 3.
    const Matrix x = make_matrix(3, 1, {-1, 1, 3});
    const Matrix y = make_matrix(1, 1, {0});
    const auto nn = kn::nearest(y, x, 2);
    CHECK(nn.distance(0, 0) == 1.0);
    CHECK(nn.distance(0, 1) == 1.0);
    CHECK(nn.index(0, 0) == 0);
    CHECK(nn.index(0, 1) == 1);
}

TEST_CASE("nearest on the smallest cases: N = 2, M = 1, D = 1", "[nearest]") {
    const Matrix x = make_matrix(2, 1, {0.0, 10.0});
    const Matrix y = make_matrix(1, 1, {2.0});
    const auto nn = kn::nearest(y, x, 2);
    CHECK(nn.distance(0, 0) == 2.0);
    CHECK(nn.distance(0, 1) == 8.0);
    CHECK(nn.index(0, 0) == 0);
    CHECK(nn.index(0, 1) == 1);
    // Only two references: the third neighbour is missing.
    const auto nn3 = kn::nearest(y, x, 3);
    CHECK(std::isinf(nn3.distance(0, 2)));
    CHECK(nn3.index(0, 2) == kn::no_neighbour);
    // Within X: each of the two points' nearest other point is the other one.
    const auto self = kn::nearest_within(x, 2);
    CHECK(self.distance(0, 0) == 10.0);
    CHECK(self.index(0, 0) == 1);
    CHECK(self.distance(1, 0) == 10.0);
    CHECK(self.index(1, 0) == 0);
    CHECK(std::isinf(self.distance(0, 1)));
    check_against_brute_force(y, x, 2, false);
    check_against_brute_force(x, x, 1, true);
}

TEST_CASE("nearest: a query equal to a reference is at distance exactly 0", "[nearest]") {
    const Matrix x = random_matrix(500, 4, 5, 1e3);
    Matrix y = Matrix::from_shape({3, 4});
    for (std::size_t c = 0; c < 4; ++c) {
        y(0, c) = x(17, c);
        y(1, c) = x(499, c);
        y(2, c) = x(0, c);
    }
    const auto nn = kn::nearest(y, x, 2);
    CHECK(nn.distance(0, 0) == 0.0);
    CHECK(nn.index(0, 0) == 17);
    CHECK(nn.distance(1, 0) == 0.0);
    CHECK(nn.index(1, 0) == 499);
    CHECK(nn.distance(2, 0) == 0.0);
    CHECK(nn.index(2, 0) == 0);
    CHECK(nn.distance(0, 1) > 0.0);
}

TEST_CASE("nearest_within excludes only the point itself, not its duplicates", "[nearest]") {
    const Matrix x = make_matrix(4, 2, {0, 0, 5, 5, 0, 0, 1, 0});
    const auto nn = kn::nearest_within(x, 2);
    CHECK(nn.distance(0, 0) == 0.0);  // the duplicate, row 2
    CHECK(nn.index(0, 0) == 2);
    CHECK(nn.distance(2, 0) == 0.0);
    CHECK(nn.index(2, 0) == 0);
    CHECK(nn.distance(0, 1) == 1.0);
    CHECK(nn.index(0, 1) == 3);
    CHECK(nn.distance(3, 0) == 1.0);
    CHECK(nn.index(3, 0) == 0);  // rows 0 and 2 tie: the lower index first
    CHECK(nn.index(3, 1) == 2);
}

TEST_CASE("nearest rejects bad arguments", "[nearest]") {
    const Matrix x = random_matrix(10, 3, 1);
    const Matrix y = random_matrix(5, 2, 2);
    CHECK_THROWS_AS(kn::nearest(y, x, 2), mdlab::Error);
    CHECK_THROWS_WITH(kn::nearest(y, x, 2), Catch::Contains("5 x 2") && Catch::Contains("10 x 3"));
    CHECK_THROWS_AS(kn::nearest(x, x, 0), mdlab::Error);
    CHECK_THROWS_AS(kn::nearest(x, x, kn::max_neighbours + 1), mdlab::Error);
    kn::NearestOptions o;
    o.exclude_self = true;
    CHECK_THROWS_AS(kn::nearest(random_matrix(4, 3, 3), x, 2, o), mdlab::Error);
    // Empty queries or references are fine.
    CHECK(kn::nearest(Matrix::from_shape({0, 3}), x, 2).distance.shape()[0] == 0);
    const auto none = kn::nearest(x, Matrix::from_shape({0, 3}), 2);
    CHECK(std::isinf(none.distance(0, 0)));
}

TEST_CASE("nearest is independent of the thread count and the query chunk", "[nearest][threads]") {
    const Matrix x = random_matrix(3000, 5, 11);
    const Matrix y = random_matrix(2500, 5, 12);
    kn::Neighbours one, two, self_one, self_two;
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
        one = kn::nearest(y, x, 2);
        self_one = kn::nearest_within(x, 1);
    }
    {
        tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 2);
        two = kn::nearest(y, x, 2);
        self_two = kn::nearest_within(x, 1);
    }
    kn::NearestOptions o;
    o.query_chunk = 7;
    const auto other_chunk = kn::nearest(y, x, 2, o);
    CHECK(identical(one.distance, two.distance));
    CHECK(identical(one.index, two.index));
    CHECK(identical(one.distance, other_chunk.distance));
    CHECK(identical(one.index, other_chunk.index));
    CHECK(identical(self_one.distance, self_two.distance));
    CHECK(identical(self_one.index, self_two.index));
}
