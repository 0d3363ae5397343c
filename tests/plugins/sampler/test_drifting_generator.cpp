// The trained one-step `drifting_generator` (libtorch), used through the registry only: this
// test does not link libtorch. The plugin is optional (built only when libtorch is found):
// where libtorch is installed its absence is a failure; without libtorch every test case here is
// skipped with a warning, as tests/plugins/estimator/mlp.cpp does. Its drift field is checked
// against a transcription of the reference in test_drifting_generator_field.cpp (no libtorch).
//
// Closed form: trained on Gaussian data N(m, diag(s^2)) the generator's samples have the data's
// mean and standard deviations (to the training's precision), while the untrained network's
// outputs are collapsed (standard deviation ~0.01); training lowers the energy distance between
// the generated and the data batches by far.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include <tbb/task_arena.h>

#include "mdlab/runtime/registry.hpp"
#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;

bool generator_expected() {
    if (!mdlab::test::libtorch_found()) {
        WARN("skipped: no usable libtorch at build time, so the optional drifting_generator plugin is not built");
        return false;
    }
    INFO("libtorch was found at build time, but the registry has no drifting_generator plugin (not built, or it failed to load)");
    REQUIRE(mdlab::test::registry().find("drifting_generator") != nullptr);
    return true;
}

#define REQUIRE_GENERATOR_OR_SKIP() \
    if (!generator_expected()) return

const double mean[2] = {1.0, -0.5}, sd[2] = {0.5, 0.25};

// n points of N(mean, diag(sd^2)) from a fixed std::mt19937_64.
std::shared_ptr<const Matrix> gaussian_data(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto m = std::make_shared<Matrix>(Matrix::from_shape({n, 2}));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < 2; ++k) (*m)(i, k) = mean[k] + sd[k] * normal(gen);
    return m;
}

mdlab::SampleResult generate(const std::string& params, std::shared_ptr<const Matrix> data, std::uint64_t seed = 1) {
    auto sampler = mdlab::test::make<mdlab::Sampler>("drifting_generator", params);
    mdlab::Inputs in;
    in.set("data", std::move(data));
    mdlab::test::TestContext ctx(seed, "gen");
    return sampler->sample(in, ctx);
}

double stat(const mdlab::Values& values, const std::string& name) {
    for (const auto& [key, v] : values)
        if (key == name) return v;
    FAIL("no value " << name);
    return 0.0;
}

struct Moments {
    double mean[2] = {0, 0}, sd[2] = {0, 0};
};
Moments moments(const Matrix& y) {
    Moments m;
    const double n = double(mdlab::rows(y));
    for (std::size_t k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < mdlab::rows(y); ++i) m.mean[k] += y(i, k) / n;
        for (std::size_t i = 0; i < mdlab::rows(y); ++i) m.sd[k] += (y(i, k) - m.mean[k]) * (y(i, k) - m.mean[k]) / n;
        m.sd[k] = std::sqrt(m.sd[k]);
    }
    return m;
}

bool identical(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("drifting_generator: training takes a collapsed network to the data's Gaussian, in one evaluation") {
    REQUIRE_GENERATOR_OR_SKIP();
    const auto data = gaussian_data(1000, 11);
    const auto untrained = generate(R"({"n": 2000, "steps": 0, "batch": 128})", data);
    const auto trained = generate(R"({"n": 2000, "steps": 1000, "batch": 128})", data);
    REQUIRE(mdlab::rows(trained.samples) == 2000);
    REQUIRE(mdlab::cols(trained.samples) == 2);
    CHECK(stat(trained.stats, "nfe") == 1.0);
    CHECK(stat(trained.stats, "train_steps") == 1000.0);
    CHECK(stat(trained.stats, "latent_dim") == 2.0);
    CHECK(stat(trained.stats, "train_wall_s") >= 0.0);
    // The untrained network: outputs collapsed near a point.
    const Moments before = moments(untrained.samples), after = moments(trained.samples);
    CHECK(before.sd[0] < 0.1);
    CHECK(before.sd[1] < 0.1);
    CHECK(stat(untrained.stats, "energy_initial") == stat(untrained.stats, "energy_final"));
    // Training lowers the energy distance between the generated and the data batches by far (the
    // normalised loss, of order K^2 for K radii, is no measure of progress) ...
    const double e0 = stat(trained.stats, "energy_initial"), e1 = stat(trained.stats, "energy_final");
    INFO("energy distance " << e0 << " -> " << e1 << "; loss " << stat(trained.stats, "loss_initial") << " -> "
                            << stat(trained.stats, "loss_final"));
    CHECK(e1 < 0.05 * e0);
    // ... and reaches the data's mean and standard deviations.
    for (std::size_t k = 0; k < 2; ++k) {
        INFO("coordinate " << k << ": mean " << after.mean[k] << " (data " << mean[k] << "), sd " << after.sd[k]
                           << " (data " << sd[k] << ")");
        CHECK(std::abs(after.mean[k] - mean[k]) < 0.1 * sd[k] + 0.02);
        CHECK(after.sd[k] == Approx(sd[k]).epsilon(0.15));
    }
}

TEST_CASE("drifting_generator: the same seed gives the same bytes, on any thread count") {
    REQUIRE_GENERATOR_OR_SKIP();
    const auto data = gaussian_data(300, 12);
    const std::string params = R"({"n": 500, "steps": 30, "batch": 64, "width": 32, "latent_dim": 3})";
    Matrix one, two;
    tbb::task_arena(1).execute([&] { one = generate(params, data, 5).samples; });
    tbb::task_arena(2).execute([&] { two = generate(params, data, 5).samples; });
    CHECK(identical(one, two));
    CHECK_FALSE(identical(one, generate(params, data, 6).samples));
    CHECK(stat(generate(params, data, 5).stats, "latent_dim") == 3.0);
}

TEST_CASE("drifting_generator: bad parameters and inputs name their key") {
    REQUIRE_GENERATOR_OR_SKIP();
    using mdlab::test::make;
    for (const char* bad : {R"({"radii": []})", R"({"radii": [0.1, -0.2]})", R"({"radii": [0]})", R"({"batch": 1})",
                            R"({"steps": -1})", R"({"width": 0})", R"({"depth": 0})", R"({"lr": 0})",
                            R"({"threads": 0})", R"({"latent_dim": -1})", R"({"n": 0})"}) {
        const std::string text = bad;
        const std::string key = text.substr(2, text.find('"', 2) - 2);
        INFO(text);
        CHECK_THROWS_WITH(make<mdlab::Sampler>("drifting_generator", text), Catch::Contains(key));
    }
    auto one_point = std::make_shared<Matrix>(Matrix::from_shape({1, 2}));
    (*one_point)(0, 0) = (*one_point)(0, 1) = 0.0;
    auto not_finite = std::make_shared<Matrix>(Matrix::from_shape({3, 2}));
    std::fill(not_finite->begin(), not_finite->end(), 0.0);
    (*not_finite)(2, 1) = std::nan("");
    for (const auto& data : {std::shared_ptr<const Matrix>(one_point), std::shared_ptr<const Matrix>(not_finite)}) {
        try {
            generate(R"({"steps": 1})", data);
            FAIL("accepted");
        } catch (const mdlab::InputError& e) {
            CHECK(e.key() == "data");
        }
    }
}
