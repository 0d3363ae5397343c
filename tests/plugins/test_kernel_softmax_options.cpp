// The streaming softmax kernel's options (per-key log-weights, per-key tangent bases) against
// a plain two-pass softmax written out in long double.
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

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "tangent_reference.hpp"

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
