// The score_jacobian_dim metric recovers the intrinsic dimension of manifolds of known k from the
// exact (oracle) score at a small time: spheres S^1 in R^4 and S^2 in R^3 (oracle by quadrature)
// and Gaussian data on linear subspaces (closed-form oracle), with both the paper's score matrix
// and the finite-difference Jacobian; and its refusals.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <string>

#include <mdlab/mdlab.hpp>

#include "csv_column.hpp"
#include "error_key.hpp"
#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "metric_value.hpp"

namespace {

using mdlab::Matrix;
using mdlab::test::value;

struct Setup {
    std::shared_ptr<mdlab::Manifold> manifold;
    std::shared_ptr<mdlab::ScoreEstimator> oracle;
};

Setup setup(const std::string& manifold, const std::string& params) {
    Setup s;
    mdlab::test::TestContext ctx(3, "manifold");
    s.manifold = mdlab::test::prepared(manifold, params, ctx);
    s.oracle = mdlab::test::make<mdlab::ScoreEstimator>("oracle");
    mdlab::Inputs in;
    in.set("manifold", std::shared_ptr<const mdlab::Manifold>(s.manifold));
    in.set("process", mdlab::test::make<mdlab::ForwardProcess>("vp"));
    mdlab::test::TestContext octx(7, "oracle");
    s.oracle->prepare(in, octx);
    return s;
}

struct Result {
    mdlab::Values values;
    std::vector<double> spectrum;
};

Result run(const std::string& params, const Setup& s, std::shared_ptr<const Matrix> samples = nullptr,
           bool with_manifold = true) {
    auto metric = mdlab::test::make<mdlab::Metric>("score_jacobian_dim", params);
    mdlab::Inputs in;
    in.set("score", std::shared_ptr<const mdlab::ScoreEstimator>(s.oracle));
    if (with_manifold) in.set("manifold", std::shared_ptr<const mdlab::Manifold>(s.manifold));
    if (samples) in.set("samples", std::move(samples));
    mdlab::test::TestContext ctx(11, "node");
    Result r;
    r.values = metric->evaluate(in, ctx);
    r.spectrum = csv_column(ctx.output_dir() / "node.score_jacobian_dim.csv", "singular_value");
    return r;
}

void check_recovers(const std::string& manifold, const std::string& params, std::size_t k, std::size_t d) {
    const Setup s = setup(manifold, params);
    for (const std::string method : {"scores", "jacobian"}) {
        const Result r = run(R"({"method": ")" + method + R"(", "points": 24})", s);
        INFO(manifold << " " << params << ", method " << method);
        CHECK(value(r.values, "k_mode") == double(k));
        CHECK(value(r.values, "k_mean") == Approx(double(k)).margin(0.05));
        CHECK(value(r.values, "agreement") >= 0.95);
        CHECK(value(r.values, "k_manifold") == double(k));
        CHECK(value(r.values, "n_points") == 24.0);
        // The drop is clear: the largest gap well above the next one.
        CHECK(value(r.values, "gap") > 3.0 * value(r.values, "next_gap"));
        REQUIRE(r.spectrum.size() == d);
        CHECK(r.spectrum[0] == 1.0);
        WARN("score_jacobian_dim " << manifold << " (k = " << k << ", D = " << d << "), " << method << ": k_mode "
                                   << value(r.values, "k_mode") << ", agreement " << value(r.values, "agreement")
                                   << ", gap " << value(r.values, "gap") << ", next gap "
                                   << value(r.values, "next_gap") << ", normalised singular value after the drop "
                                   << r.spectrum[d - k]);
    }
}

}  // namespace

TEST_CASE("score_jacobian_dim: recovers k on spheres (oracle by quadrature)", "[score_jacobian_dim]") {
    check_recovers("sphere", R"({"k": 2, "ambient_dim": 3})", 2, 3);
    check_recovers("sphere", R"({"k": 1, "ambient_dim": 4, "radius": 1.5})", 1, 4);
}

TEST_CASE("score_jacobian_dim: recovers k on linear subspaces (closed-form oracle)", "[score_jacobian_dim]") {
    check_recovers("linear_subspace", R"({"k": 3, "ambient_dim": 7})", 3, 7);
    check_recovers("linear_subspace", R"({"k": 5, "ambient_dim": 6, "scale": 2})", 5, 6);
}

TEST_CASE("score_jacobian_dim: given base points; at a large t the drop fades", "[score_jacobian_dim]") {
    const Setup s = setup("linear_subspace", R"({"k": 2, "ambient_dim": 5})");
    mdlab::test::TestContext ctx(4, "points");
    const auto y = std::make_shared<const Matrix>(s.manifold->sample(40, ctx.stream("draw")));
    const Result r = run(R"({"points": 10})", s, y, false);
    CHECK(value(r.values, "k_mode") == 2.0);
    CHECK(value(r.values, "n_points") == 10.0);
    CHECK(value(r.values, "perturbations") == 80.0);  // 16 D
    CHECK(std::isnan(value(r.values, "k_manifold")));
    // At t = 0.5 (sigma ~ 0.93, alpha ~ 0.37) the data's spread and the noise are of one scale: no clear drop.
    const Result blurred = run(R"({"t": 0.5})", s);
    CHECK(value(blurred.values, "gap") < 0.5 * value(r.values, "gap"));
}

TEST_CASE("score_jacobian_dim: bad inputs are refused naming the key", "[score_jacobian_dim]") {
    using mdlab::test::error_key;
    const Setup s = setup("sphere", R"({"k": 2, "ambient_dim": 3})");
    CHECK(error_key([&] { run("{}", s, nullptr, false); }) == "manifold");
    CHECK(error_key([&] { run(R"({"perturbations": 2})", s); }) == "perturbations");
    CHECK(error_key([&] { run(R"({"method": "hessian"})", s); }) == "method");
    CHECK(error_key([&] { run(R"({"t": 0})", s); }) == "t");
    CHECK(error_key([&] { run(R"({"points": 0})", s); }) == "points");
    Matrix wrong = Matrix::from_shape({4, 2});
    wrong.fill(0.0);
    CHECK(error_key([&] { run("{}", s, std::make_shared<const Matrix>(wrong)); }) == "samples");
}
