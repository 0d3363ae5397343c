// The memorization and manifold_distance metrics together, on the `circle` plugin.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "circle_metric_checks.hpp"

TEST_CASE("metrics with the circle plugin", "[memorization][manifold_distance][circle]") {
    auto c = mdlab::test::make<mdlab::Manifold>("circle", R"({"ambient_dim": 3, "radius": 2.0})");
    mdlab::test::TestContext ctx(9, "manifold");
    c->prepare(ctx);
    std::shared_ptr<const mdlab::Manifold> m = c;
    const Matrix x = m->sample(300, mdlab::RandomStream(9, "train"));
    // Training points are on the circle; points pushed out by a factor 1.5 are 1 away from it.
    const auto on = manifold_distance(x, m);
    CHECK(value(on, "max") == Approx(0.0).margin(1e-9));
    const auto off = manifold_distance(Matrix(x * 1.5), m);
    CHECK(value(off, "mean") == Approx(1.0).epsilon(1e-9));
    CHECK(value(off, "p95") == Approx(1.0).epsilon(1e-9));
    // The memoriser's fraction is 1, the fresh baseline near 1/3 as on the test-local circle.
    const auto v = memorization(x, x, m);
    CHECK(value(v, "fraction") == 1.0);
    CHECK(value(v, "baseline_fraction") > 0.2);
    CHECK(value(v, "baseline_fraction") < 0.5);
}
