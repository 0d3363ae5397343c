// The isometric embedding (mdlab/embedding.hpp) that every manifold plugin places its points with.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "circle_sphere_checks.hpp"

TEST_CASE("Isometry::random has orthonormal columns and is reproducible", "[manifold][embedding]") {
    for (auto [D, m] : {std::pair<std::size_t, std::size_t>{2, 2}, {8, 2}, {3, 3}, {50, 4}, {7, 1}}) {
        mdlab::Rng rng(123 + D), rng2(123 + D);
        const mdlab::Isometry q = mdlab::Isometry::random(D, m, rng);
        const mdlab::Isometry q2 = mdlab::Isometry::random(D, m, rng2);
        REQUIRE(q.ambient_dim() == D);
        REQUIRE(q.dim() == m);
        CHECK(identical(q.matrix(), q2.matrix()));
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < m; ++j) {
                double dot = 0.0;
                for (std::size_t a = 0; a < D; ++a) dot += q.matrix()(a, i) * q.matrix()(a, j);
                CHECK(std::abs(dot - (i == j ? 1.0 : 0.0)) < 1e-14);
            }
        // coords(embed(z)) = z, and embed preserves norms.
        const Matrix z = gaussian_points(20, m, 1.0, 5);
        const Matrix x = q.embed(z);
        CHECK(max_abs_diff(q.coords(x), z) < 1e-13);
        for (std::size_t i = 0; i < 20; ++i) CHECK(std::abs(row_norm(x, i) - row_norm(z, i)) < 1e-13);
    }
}
