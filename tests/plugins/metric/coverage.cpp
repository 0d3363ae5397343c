// The coverage metric against the resolution of equispaced points and a density ratio by hand.
#include <algorithm>
#include <functional>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/knn_divergence.hpp>
#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "density_metric_checks.hpp"

// ---------------------------------------------------------------------------------------------
// coverage

namespace {

// The rows i of a circle plugin's quadrature nodes (angles 2 pi i / resolution) kept by keep(i).
Matrix nodes_where(const mdlab::Manifold& m, std::size_t resolution, const std::function<bool(std::size_t)>& keep) {
    const mdlab::Quadrature q = m.quadrature(resolution);
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < resolution; ++i)
        if (keep(i)) rows.push_back(i);
    Matrix x = Matrix::from_shape({rows.size(), mdlab::cols(q.nodes)});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t a = 0; a < mdlab::cols(q.nodes); ++a) x(r, a) = q.nodes(rows[r], a);
    return x;
}

// The coverage radius grid of the default parameters: L / 1024 times 512^(l / 63).
constexpr double coverage_step = 1.1040;  // 512^(1/63)

// delta is the first grid radius at or above `exact`.
void check_first_radius_above(double delta, double exact) {
    INFO("delta " << delta << ", exact threshold " << exact);
    CHECK(delta >= exact);
    CHECK(delta < exact * coverage_step * 1.0001);
}

}  // namespace

TEST_CASE("coverage: equispaced points cover at half their spacing", "[coverage]") {
    // n points at spacing L / n: a ball of radius r holds floor(x) or floor(x) + 1 of them,
    // x = 2 r n / L its expected count; with C = 2 both pass iff x >= 1, so delta is the first grid
    // radius at or above L / (2 n) (below it some ball falls between two points).
    auto circle = plugin("circle", R"({"ambient_dim": 3})");
    for (std::size_t n : {100, 400}) {
        const auto v = evaluate("coverage", nodes_where(*circle, n, [](std::size_t) { return true; }), circle,
                                R"({"bootstrap": 0})");
        INFO("n = " << n);
        CHECK(std::abs(value(v, "length") - 2 * pi) < 1e-6);
        check_first_radius_above(value(v, "delta"), pi / static_cast<double>(n));
        CHECK(value(v, "far_fraction") == 0.0);
    }
}

TEST_CASE("coverage: a known density ratio fails below the radius computed by hand", "[coverage]") {
    // mu_data uniform on the unit circle; the samples put 80% of their mass on the half A = [0, pi)
    // (every quadrature node there) and 20% on the other half B (every 4th node): density ratio
    // 1.6 on A, 0.4 on B. The worst ball is centred mid-B (mid-A for the upper bound); once it
    // covers B (r >= pi / 2) its ratio is (0.4 pi + 1.6 (2 r - pi)) / (2 r).
    //   C = 2:   0.4 < 1/2 fails, 1.6 < 2 passes; ratio >= 1/2 iff r >= 6 pi / 11.
    //   C = 1.5: ratio >= 2/3 iff r >= 1.2 pi / (3.2 - 4/3) = 0.6429 pi (the A side needs only
    //            r >= 6 pi / 11, smaller).
    auto circle = plugin("circle", R"({"ambient_dim": 4})");
    const std::size_t r = 40000;
    const Matrix y = nodes_where(*circle, r, [&](std::size_t i) { return i < r / 2 || i % 4 == 0; });
    REQUIRE(mdlab::rows(y) == 25000);
    check_first_radius_above(value(evaluate("coverage", y, circle, R"({"bootstrap": 0})"), "delta"), 6 * pi / 11);
    check_first_radius_above(value(evaluate("coverage", y, circle, R"({"bootstrap": 0, "factor": 1.5})"), "delta"),
                             1.2 * pi / (3.2 - 4.0 / 3.0));
}

TEST_CASE("coverage: copies of the training set score the training set's delta; fresh draws shrink it", "[coverage]") {
    // The empirical measure of n draws covers at about (log n / n) L (the ball whose expected
    // count is a few units fails first): from n = 1000 to 16000 that is a factor 0.088.
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    const Matrix train = drawn(*circle, 1000, "train");
    const auto copies = evaluate("coverage", train, circle, R"({"bootstrap": 50})", 3, &train);
    CHECK(value(copies, "delta") == value(copies, "delta_train"));
    CHECK(value(copies, "delta_lo") <= value(copies, "delta_hi"));
    const auto big = evaluate("coverage", drawn(*circle, 16000, "more"), circle, R"({"bootstrap": 0})");
    const double ratio = value(big, "delta") / value(copies, "delta");
    INFO("delta(16000) / delta(1000) = " << ratio << " (log n / n: 0.088)");
    CHECK(ratio > 0.04);
    CHECK(ratio < 0.2);
    // delta_fresh is the same computation on a fresh sample of as many points.
    CHECK(value(big, "delta_fresh") / value(big, "delta") > 0.5);
    CHECK(value(big, "delta_fresh") / value(big, "delta") < 2.0);
}

TEST_CASE("coverage: samples off M are projected, and counted in far_fraction", "[coverage]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3})");
    const Matrix on = nodes_where(*circle, 300, [](std::size_t) { return true; });
    const Matrix off = on * 1.1;  // 0.1 outside the unit circle, same angles
    const auto a = evaluate("coverage", on, circle, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", off, circle, R"({"bootstrap": 0, "far": 0.05})");
    CHECK(value(b, "delta") == value(a, "delta"));
    CHECK(value(b, "far_fraction") == 1.0);
    CHECK(value(evaluate("coverage", off, circle, R"({"bootstrap": 0, "far": 0.2})"), "far_fraction") == 0.0);
    // The arc length of a circle of radius 2.
    auto big = plugin("circle", R"({"ambient_dim": 3, "radius": 2.0})");
    CHECK(std::abs(value(evaluate("coverage", on * 2.0, big, R"({"bootstrap": 0})"), "length") - 4 * pi) < 1e-6);
}

TEST_CASE("coverage on the curve: balls are arcs of arc length, masses those of the parameter density", "[coverage]") {
    // Points equispaced in the parameter theta are mu_data's quantiles (uniform density): every
    // arc of parameter measure m holds n m +- 1 of them, whatever the speed |gamma'|, so they cover
    // at about half the largest arc length between neighbours. Points equispaced in arc length
    // instead have density |gamma'| / mean |gamma'| relative to mu_data; on this curve the speed
    // varies by more than a factor 2, so they fail at small radii.
    auto curve = plugin("curve", R"({"ambient_dim": 5, "beta": 1.0, "modes": 8})");
    const std::size_t n = 500, fine = 200000;
    const Matrix by_theta = nodes_where(*curve, n, [](std::size_t) { return true; });
    const mdlab::Quadrature q = curve->quadrature(fine);
    std::vector<double> s(fine + 1, 0.0);
    double max_gap = 0.0;
    for (std::size_t i = 0; i < fine; ++i) {
        double c = 0.0;
        for (std::size_t a = 0; a < 5; ++a) c += std::pow(q.nodes((i + 1) % fine, a) - q.nodes(i, a), 2);
        s[i + 1] = s[i] + std::sqrt(c);
    }
    const double length = s[fine];
    double slow = 1e300, fast = 0.0;  // smallest and largest speed, per fine step
    for (std::size_t i = 0; i < fine; ++i) {
        slow = std::min(slow, s[i + 1] - s[i]);
        fast = std::max(fast, s[i + 1] - s[i]);
    }
    for (std::size_t k = 0; k < n; ++k) max_gap = std::max(max_gap, s[(k + 1) * fine / n] - s[k * fine / n]);
    REQUIRE(fast / slow > 2.5);
    std::vector<std::size_t> pick;
    for (std::size_t k = 0; k < n; ++k)
        pick.push_back(static_cast<std::size_t>(std::lower_bound(s.begin(), s.end(), length * k / n) - s.begin()) % fine);
    const Matrix by_arc = nodes_where(*curve, fine, [&](std::size_t i) { return std::binary_search(pick.begin(), pick.end(), i); });
    const auto a = evaluate("coverage", by_theta, curve, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", by_arc, curve, R"({"bootstrap": 0})");
    INFO("length " << length << ", largest gap " << max_gap << "; delta by theta " << value(a, "delta") << ", by arc "
                   << value(b, "delta"));
    CHECK(std::abs(value(a, "length") / length - 1) < 1e-4);
    CHECK(value(a, "delta") < 0.5 * max_gap * coverage_step * 1.0001);
    CHECK(value(b, "delta") > 10 * value(a, "delta"));
}

// A manifold that delegates to another but reports its angle shifted by -shift (mod 2 pi): with a
// tiny shift the quadrature's node 0 comes back as 2 pi - shift, on the far side of the seam.
class ShiftedAngle : public mdlab::Manifold {
public:
    ShiftedAngle(std::shared_ptr<const mdlab::Manifold> m, double shift) : m_(std::move(m)), shift_(shift) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return m_->ambient_dim(); }
    std::size_t intrinsic_dim() const override { return 1; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override { m_->sample_rows(rng, out, count); }
    Matrix project(const Matrix& x) const override { return m_->project(x); }
    Matrix intrinsic_coords(const Matrix& x) const override {
        Matrix t = m_->intrinsic_coords(x);
        for (auto& v : t) v = std::fmod(v - shift_ + 2 * pi, 2 * pi);
        return t;
    }
    mdlab::Quadrature quadrature(std::size_t r) const override { return m_->quadrature(r); }

private:
    std::shared_ptr<const mdlab::Manifold> m_;
    double shift_;
};

TEST_CASE("coverage: the chart unwraps the angle across its seam", "[coverage]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    auto shifted = std::make_shared<ShiftedAngle>(circle, 1e-9);
    REQUIRE(shifted->intrinsic_coords(circle->quadrature(8).nodes)(0, 0) > 6.28);
    const Matrix y = drawn(*circle, 3000, "y");
    const auto a = evaluate("coverage", y, circle, R"({"bootstrap": 0})");
    const auto b = evaluate("coverage", y, shifted, R"({"bootstrap": 0})");
    CHECK(value(b, "delta") == Approx(value(a, "delta")));
    CHECK(value(b, "length") == Approx(value(a, "length")).epsilon(1e-12));
}

TEST_CASE("coverage: bootstrap is independent of the thread count; inputs are checked", "[coverage][threads]") {
    auto circle = plugin("circle", R"({"ambient_dim": 3, "density": "irregular"})");
    const Matrix y = drawn(*circle, 2000, "y");
    mdlab::Values one, two;
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
        one = evaluate("coverage", y, circle, R"({"bootstrap": 40})");
    }
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
        two = evaluate("coverage", y, circle, R"({"bootstrap": 40})");
    }
    CHECK(one == two);
    auto sphere = plugin("sphere", R"({"ambient_dim": 3})");
    try {
        evaluate("coverage", drawn(*sphere, 10, "s"), sphere);
        FAIL("no error");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "manifold");
        CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("closed curves"));
    }
}
