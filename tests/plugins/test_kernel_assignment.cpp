// The assignment solver behind exact transport (mdlab/kernels/assignment.hpp) against brute force
// over permutations and sorted 1-D matching.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/assignment.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "metric/transport_checks.hpp"

// ---------------------------------------------------------------------------------------------
// The assignment solver

TEST_CASE("solve_assignment equals brute force over all permutations", "[assignment]") {
    mdlab::Rng rng(11);
    int checked = 0;
    for (int trial = 0; trial < 600; ++trial) {
        const std::size_t n = 1 + rng.below(8);
        std::vector<double> cost(n * n);
        // A third with many ties (integers 0..3), a third uniform, a third of wide range and sign.
        for (auto& c : cost)
            c = trial % 3 == 0 ? double(rng.below(4)) : trial % 3 == 1 ? rng.uniform() : 1e3 * (rng.uniform() - 0.3);
        const auto a = mdlab::kernels::solve_assignment(cost.data(), n);
        INFO("trial " << trial << " n " << n);
        // A permutation, whose cost is the reported one and the brute-force optimum.
        std::vector<std::size_t> cols = a.col_of_row;
        std::sort(cols.begin(), cols.end());
        for (std::size_t j = 0; j < n; ++j) REQUIRE(cols[j] == j);
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += cost[i * n + a.col_of_row[i]];
        CHECK(a.cost == s);
        CHECK(a.cost == Approx(brute_assignment(cost, n)).margin(1e-9));
        ++checked;
    }
    CHECK(checked == 600);
}

TEST_CASE("solve_assignment: special cases", "[assignment]") {
    // n = 1 and n = 0.
    const double one[1] = {-2.5};
    const auto a1 = mdlab::kernels::solve_assignment(one, 1);
    CHECK(a1.col_of_row == std::vector<std::size_t>{0});
    CHECK(a1.cost == -2.5);
    CHECK(mdlab::kernels::solve_assignment(nullptr, 0).col_of_row.empty());
    // All costs equal: any permutation is optimal.
    std::vector<double> flat(25, 1.0);
    CHECK(mdlab::kernels::solve_assignment(flat.data(), 5).cost == 5.0);
    // Greedy row-by-row choice fails here (row 0 takes column 0 at cost 1, then row 1 pays 100);
    // the optimum is 2 + 3 = 5.
    const std::vector<double> trap = {1, 2, 3, 100};
    const auto t = mdlab::kernels::solve_assignment(trap.data(), 2);
    CHECK(t.cost == 5.0);
    CHECK(t.col_of_row == std::vector<std::size_t>{1, 0});
    // A permuted diagonal of zeros among ones is found exactly.
    const std::size_t n = 40;
    std::vector<double> c(n * n, 1.0);
    for (std::size_t i = 0; i < n; ++i) c[i * n + (7 * i + 3) % n] = 0.0;
    const auto d = mdlab::kernels::solve_assignment(c.data(), n);
    CHECK(d.cost == 0.0);
    for (std::size_t i = 0; i < n; ++i) CHECK(d.col_of_row[i] == (7 * i + 3) % n);
    // Non-finite costs and non-square matrices are refused.
    std::vector<double> bad = {0, 1, INFINITY, 0};
    CHECK_THROWS_WITH(mdlab::kernels::solve_assignment(bad.data(), 2), Catch::Contains("not finite"));
    CHECK_THROWS_WITH(mdlab::kernels::solve_assignment(mdlab::zeros(2, 3)), Catch::Contains("not square"));
}

TEST_CASE("exact W_p of small point sets equals brute force", "[assignment][wasserstein]") {
    for (std::uint64_t seed : {1, 2, 3}) {
        const Matrix x = random_matrix(7, 3, 10 + seed), y = random_matrix(7, 3, 20 + seed, 1.5);
        for (double p : {1.0, 2.0, 3.0}) {
            INFO("seed " << seed << " p " << p);
            CHECK(mdlab::kernels::wasserstein_exact(x, y, p) == Approx(brute_wasserstein(x, y, p)).epsilon(1e-12));
        }
    }
    // W_p(X, X) = 0; the optimal plan of a permuted copy undoes the permutation.
    const Matrix x = random_matrix(30, 2, 5);
    CHECK(mdlab::kernels::wasserstein_exact(x, x, 2.0) == 0.0);
    Matrix y = x;
    for (std::size_t i = 0; i < 30; ++i)
        for (std::size_t c = 0; c < 2; ++c) y(i, c) = x((i * 11) % 30, c);
    const auto t = mdlab::kernels::optimal_transport(y, x, 1.0);
    CHECK(t.w == 0.0);
    for (std::size_t i = 0; i < 30; ++i) CHECK(t.match[i] == (i * 11) % 30);
}

TEST_CASE("exact W_p in one dimension equals the sorted matching", "[assignment][wasserstein]") {
    // On the line the monotone coupling is optimal for every p >= 1.
    const Matrix x = random_matrix(300, 1, 7), y = random_matrix(300, 1, 8, 2.0);
    for (double p : {1.0, 2.0}) {
        INFO("p " << p);
        CHECK(mdlab::kernels::wasserstein_exact(x, y, p) ==
              Approx(sorted_wasserstein(column(x), column(y), p)).epsilon(1e-12));
    }
}
