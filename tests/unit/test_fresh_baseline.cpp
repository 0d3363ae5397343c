// The fresh-sample baseline helper of the metrics (mdlab/fresh_baseline.hpp): which sample it
// draws, how it names and orders the figures, and that computing both at once changes nothing.
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"

using mdlab::Matrix;

namespace {

std::vector<std::string> names(const mdlab::Values& v) {
    std::vector<std::string> out;
    for (const auto& [k, x] : v) out.push_back(k);
    return out;
}

// Figures that identify the points: their count and the sum of their first coordinates.
mdlab::Values fingerprint(const Matrix& p) {
    double s = 0.0;
    for (std::size_t i = 0; i < mdlab::rows(p); ++i) s += p(i, 0);
    return {{"rows", static_cast<double>(mdlab::rows(p))}, {"sum", s}};
}

}  // namespace

TEST_CASE("beside_baseline names the baseline figures and keeps the metric's order", "[fresh_baseline]") {
    const mdlab::Values own{{"w1", 1.0}, {"w2", 2.0}}, base{{"w1", 3.0}, {"w2", 4.0}};
    const mdlab::Values after = mdlab::beside_baseline(own, base);
    CHECK(names(after) == std::vector<std::string>{"w1", "w2", "baseline_w1", "baseline_w2"});
    CHECK(after[2].second == 3.0);
    CHECK(after[3].second == 4.0);
    const mdlab::Values paired = mdlab::beside_baseline(own, base, mdlab::BaselineOrder::paired);
    CHECK(names(paired) == std::vector<std::string>{"w1", "baseline_w1", "w2", "baseline_w2"});
    CHECK(paired[1].second == 3.0);
    CHECK(paired[2].second == 2.0);
    CHECK_THROWS_AS(mdlab::beside_baseline(own, {{"w1", 3.0}}), mdlab::Error);
}

TEST_CASE("with_fresh_baseline draws as many points from the node's named stream", "[fresh_baseline]") {
    const mdlab::test::TestCircle circle(3);
    mdlab::test::TestContext ctx(7);
    const Matrix y = circle.sample(40, ctx.stream("samples"));

    const mdlab::Values v = mdlab::with_fresh_baseline(y, circle, ctx, {"test"}, fingerprint);
    REQUIRE(names(v) == std::vector<std::string>{"rows", "sum", "baseline_rows", "baseline_sum"});
    const mdlab::Values own = fingerprint(y);
    const mdlab::Values fresh = fingerprint(circle.sample(40, ctx.stream("baseline")));
    CHECK(v[0].second == own[0].second);
    CHECK(v[1].second == own[1].second);
    CHECK(v[2].second == 40.0);
    CHECK(v[3].second == fresh[1].second);

    // Another stream name, another draw (the one fresh_sample gives).
    const mdlab::Values other = mdlab::with_fresh_baseline(y, circle, ctx, {"test", "fresh"}, fingerprint);
    CHECK(other[3].second != v[3].second);
    CHECK(other[3].second == fingerprint(mdlab::fresh_sample(circle, 40, ctx, "fresh"))[1].second);

    // At once: the same figures.
    mdlab::FreshBaseline at_once{"test"};
    at_once.at_once = true;
    CHECK(mdlab::with_fresh_baseline(y, circle, ctx, at_once, fingerprint) == v);
}

TEST_CASE("with_fresh_baseline tells the figures which sample they see", "[fresh_baseline]") {
    const mdlab::test::TestCircle circle(2);
    mdlab::test::TestContext ctx(1);
    const Matrix y = circle.sample(5, ctx.stream("samples"));
    std::vector<bool> seen;
    const mdlab::Values v = mdlab::with_fresh_baseline(y, circle, ctx, {"test"}, [&](const Matrix& p, bool baseline) {
        seen.push_back(baseline);
        return mdlab::Values{{"n", static_cast<double>(mdlab::rows(p))}};
    });
    CHECK(seen == std::vector<bool>{false, true});
    CHECK(names(v) == std::vector<std::string>{"n", "baseline_n"});
}
