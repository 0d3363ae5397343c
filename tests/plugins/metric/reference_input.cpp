// The `reference` input of the metrics that compare samples with a sample of mu_data: a given
// reference gives the very figures of the manifold route when it is the sample that route draws,
// works without the manifold (no baseline then), and is refused with the input or parameter at
// fault. manifold_distance's reference equals the dataset manifold made from the same points.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <mdlab/mdlab.hpp>
#include <mdlab/npy.hpp>

#include "mdlab_test.hpp"
#include "test_circle.hpp"
#include "transport_checks.hpp"

namespace {

struct Route {
    std::shared_ptr<const mdlab::Manifold> manifold;  // null: not connected
    std::shared_ptr<const Matrix> reference;          // null: not connected
    std::string reference_port = "reference";
};

mdlab::Values run(const std::string& metric, const Matrix& samples, const Route& route, const std::string& params = "{}",
                  const Matrix* data = nullptr) {
    auto plugin = mdlab::test::make<mdlab::Metric>(metric, params);
    mdlab::Inputs in;
    in.set("samples", std::make_shared<const Matrix>(samples));
    if (data) in.set("data", std::make_shared<const Matrix>(*data));
    if (route.manifold) in.set("manifold", route.manifold);
    if (route.reference) in.set(route.reference_port, route.reference);
    mdlab::test::TestContext ctx(3);
    return plugin->evaluate(in, ctx);
}

std::shared_ptr<const Matrix> shared(Matrix m) { return std::make_shared<const Matrix>(std::move(m)); }

Matrix make_points(const std::vector<std::vector<double>>& rows) {
    Matrix m = Matrix::from_shape({rows.size(), rows.front().size()});
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t a = 0; a < rows[i].size(); ++a) m(i, a) = rows[i][a];
    return m;
}

// The figures of `v` without the baseline ones.
mdlab::Values without_baseline(const mdlab::Values& v) {
    mdlab::Values out;
    for (const auto& kv : v)
        if (kv.first.rfind("baseline_", 0) != 0) out.push_back(kv);
    return out;
}

// The key of the InputError the evaluation throws ("" when it does not throw one).
std::string refused_key(const std::string& metric, const Matrix& samples, const Route& route,
                        const std::string& params = "{}", const Matrix* data = nullptr) {
    try {
        run(metric, samples, route, params, data);
    } catch (const mdlab::InputError& e) {
        return e.key();
    }
    return "";
}

}  // namespace

TEST_CASE("sample-comparing metrics: a given reference equal to the drawn one gives the same figures",
          "[reference_input]") {
    const auto m = gaussian({0.5, -0.25, 1.0}, 0.8);
    const Matrix y = random_matrix(40, 3, 11, 1.2);
    for (const std::string metric : {"wasserstein", "sliced_wasserstein", "mmd", "knn_kl"}) {
        INFO(metric);
        const mdlab::Values drawn_route = run(metric, y, {m, nullptr});
        const auto ref = shared(drawn(*m, 40, "reference"));
        // With the manifold too: the baseline is the same fresh draw against the same reference.
        CHECK(run(metric, y, {m, ref}) == drawn_route);
        // Without the manifold: the same figures, no baseline.
        const mdlab::Values alone = run(metric, y, {nullptr, ref});
        CHECK(alone == without_baseline(drawn_route));
        CHECK(alone.size() < drawn_route.size());
        // A reference of another size than the samples.
        const auto bigger = shared(drawn(*m, 80, "reference"));
        if (metric != "wasserstein")
            CHECK(run(metric, y, {m, bigger}) == run(metric, y, {m, nullptr}, R"({"reference_size": 80})"));
        // Neither input; a size for a drawn reference with a given one; a reference in another dimension.
        CHECK(refused_key(metric, y, {nullptr, nullptr}) == "manifold");
        const std::string size_key = metric == "wasserstein" ? "reference_factor" : "reference_size";
        CHECK(refused_key(metric, y, {nullptr, ref}, "{\"" + size_key + "\": 2}") == size_key);
        CHECK(refused_key(metric, y, {m, shared(random_matrix(40, 2, 5))}) == "reference");
        CHECK_THROWS_WITH(run(metric, random_matrix(40, 2, 5), {nullptr, ref}),
                          Catch::Contains("'samples' is 40 x 2 but the given 'reference' is 40 x 3"));
    }
}

TEST_CASE("knn_kl without a manifold: densities in R^D, or in the given dim", "[reference_input]") {
    const auto m = gaussian({0.0, 0.0}, 1.0);
    const Matrix y = random_matrix(60, 2, 12, 1.0);
    const auto ref = shared(drawn(*m, 60, "reference"));
    // The dimension enters as a factor of the log-ratio sum: dim = 1 halves the part that dim = 2 gives.
    const double log_size = std::log(60.0 / 59.0);
    const double kl2 = value(run("knn_kl", y, {nullptr, ref}), "kl");
    const double kl1 = value(run("knn_kl", y, {nullptr, ref}, R"({"dim": 1})"), "kl");
    CHECK(kl1 - log_size == Approx((kl2 - log_size) / 2.0).epsilon(1e-12));
    CHECK(kl2 == value(run("knn_kl", y, {m, nullptr}), "kl"));
}

TEST_CASE("memorization and generalization: a given baseline sample equal to the fresh draw gives the same figures",
          "[reference_input]") {
    const auto circle = std::make_shared<mdlab::test::TestCircle>(2);
    const Matrix data = drawn(*circle, 50, "training");
    Matrix y = drawn(*circle, 30, "generated");
    for (std::size_t i = 0; i < 10; ++i) y(i, 0) = data(i, 0), y(i, 1) = data(i, 1);  // ten copies
    const auto fresh = shared(drawn(*circle, 30, "fresh"));
    for (const std::string metric : {"memorization", "generalization"}) {
        INFO(metric);
        const mdlab::Values drawn_route = run(metric, y, {circle, nullptr}, "{}", &data);
        CHECK(run(metric, y, {circle, fresh}, "{}", &data) == drawn_route);
        CHECK(refused_key(metric, y, {circle, shared(random_matrix(30, 3, 5))}, "{}", &data) == "reference");
        // The training set itself as the baseline sample: every point copies a training point.
        const mdlab::Values copies = run(metric, y, {circle, shared(data)}, "{}", &data);
        CHECK(value(copies, metric == "memorization" ? "baseline_fraction" : "baseline_novel_fraction") ==
              (metric == "memorization" ? 1.0 : 0.0));
    }
    // memorization needs the manifold only to draw the baseline sample (and to project).
    CHECK(run("memorization", y, {nullptr, fresh}, "{}", &data) == run("memorization", y, {circle, nullptr}, "{}", &data));
    CHECK(refused_key("memorization", y, {nullptr, fresh}, R"({"project": true})", &data) == "project");
    CHECK(refused_key("memorization", y, {nullptr, nullptr}, "{}", &data) == "manifold");
}

TEST_CASE("tv_intrinsic: given reference_points equal to the drawn reference give the same figures",
          "[reference_input]") {
    const auto circle = std::make_shared<mdlab::test::TestCircle>(3);
    const Matrix y = drawn(*circle, 200, "generated");
    const mdlab::Values drawn_route = run("tv_intrinsic", y, {circle, nullptr}, R"({"bins": 8})");
    const Route given{circle, shared(drawn(*circle, 200, "reference")), "reference_points"};
    CHECK(run("tv_intrinsic", y, given, R"({"bins": 8})") == drawn_route);
    // The samples themselves as the reference: the same histogram, TV 0.
    CHECK(value(run("tv_intrinsic", y, {circle, shared(y), "reference_points"}, R"({"bins": 8})"), "tv") == 0.0);
    CHECK(refused_key("tv_intrinsic", y, given, R"({"reference": "quadrature"})") == "reference");
    CHECK(refused_key("tv_intrinsic", y, given, R"({"reference_size": 50})") == "reference_size");
}

TEST_CASE("manifold_distance to given points: the dataset manifold's distance, and the closed form",
          "[reference_input]") {
    const Matrix r = random_matrix(25, 3, 21);
    const Matrix y = random_matrix(40, 3, 22, 2.0);
    mdlab::test::TestContext ctx(1);
    const auto file = ctx.output_dir() / "r.npy";
    mdlab::npy::write(file, r);
    auto dataset = mdlab::test::make<mdlab::Manifold>("dataset", "{\"path\": \"" + file.string() + "\"}");
    dataset->prepare(ctx);
    CHECK(run("manifold_distance", y, {nullptr, shared(r)}) == run("manifold_distance", y, {dataset, nullptr}));
    // One reference point at the origin: the distances are the samples' norms.
    const Matrix y2 = make_points({{3, 4, 0}, {0, 0, 1}, {0, 2, 0}});
    const mdlab::Values v = run("manifold_distance", y2, {nullptr, shared(make_points({{0, 0, 0}}))});
    CHECK(value(v, "max") == 5.0);
    CHECK(value(v, "median") == 2.0);
    CHECK(value(v, "mean") == Approx(8.0 / 3.0));
    CHECK(refused_key("manifold_distance", y, {dataset, shared(r)}) == "reference");
    CHECK(refused_key("manifold_distance", y, {nullptr, nullptr}) == "manifold");
    CHECK(refused_key("manifold_distance", y, {nullptr, shared(random_matrix(5, 2, 1))}) == "samples");
}
