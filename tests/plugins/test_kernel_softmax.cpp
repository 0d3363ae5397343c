// The streaming softmax kernel (mdlab/kernels/softmax_score.hpp) with a general scale and
// variance, against a direct two-pass softmax in long double.
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
