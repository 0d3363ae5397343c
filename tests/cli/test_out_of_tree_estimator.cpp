// The worked estimator of docs/writing-plugins.md (sdk/examples/silverman_score), built out of
// tree on the SDK's TrainingSetEstimator and softmax_score kernel: its scores equal the built-in
// kernel_smoothed estimator's at the bandwidth h = c N^(-1/(k+4)), and the Gaussian-KDE score
// written out directly in this file; a sampler runs on it.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <mdlab/npy.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "doc_excerpts.hpp"
#include "mdlab_test.hpp"
#include "out_of_tree_build.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t n_train = 200;
constexpr double scale = 0.4, t_query = 0.3;

// h = c N^(-1/(k+4)) with k = 1, as the plugin computes it.
double bandwidth() { return scale * std::pow(double(n_train), -1.0 / 5.0); }

std::string pipeline() {
    char h[32];
    std::snprintf(h, sizeof h, "%.17g", bandwidth());
    return std::string(R"({
      "seed": 9,
      "nodes": [
        {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
        {"id": "train", "plugin": "sample", "params": {"n": 200}, "inputs": {"manifold": "circle"}},
        {"id": "vp", "plugin": "vp"},
        {"id": "est", "plugin": "silverman_score", "params": {"scale": 0.4, "intrinsic_dim": 1},
         "inputs": {"data": "train", "process": "vp"}},
        {"id": "ref", "plugin": "kernel_smoothed", "params": {"bandwidth": )") +
           h + R"(}, "inputs": {"data": "train", "process": "vp"}},
        {"id": "gen", "plugin": "pf_ode_heun", "params": {"n": 100, "steps": 20}, "inputs": {"score": "est"}},
        {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
      ]
    })";
}

mdlab::Matrix query_points() {
    std::mt19937_64 gen(3);
    std::normal_distribution<double> normal;
    mdlab::Matrix x = mdlab::Matrix::from_shape({40, 3});
    for (auto& v : x) v = normal(gen);
    return x;
}

// The score of (1/N) sum_i N(alpha x_i, v I), v = sigma^2 + alpha^2 h^2, at row m of x, summed
// directly (weights by log-sum-exp).
std::vector<double> kde_score(const mdlab::Matrix& x, std::size_t m, const mdlab::Matrix& train, double a, double v) {
    const std::size_t n = mdlab::rows(train), d = mdlab::cols(train);
    std::vector<double> logit(n);
    double top = -INFINITY;
    for (std::size_t i = 0; i < n; ++i) {
        double r2 = 0.0;
        for (std::size_t j = 0; j < d; ++j) r2 += (x(m, j) - a * train(i, j)) * (x(m, j) - a * train(i, j));
        logit[i] = -r2 / (2.0 * v);
        top = std::max(top, logit[i]);
    }
    std::vector<double> s(d, 0.0);
    double z = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double w = std::exp(logit[i] - top);
        z += w;
        for (std::size_t j = 0; j < d; ++j) s[j] += w * (a * train(i, j) - x(m, j)) / v;
    }
    for (double& c : s) c /= z;
    return s;
}

}  // namespace

TEST_CASE("the example estimator builds out of tree and scores as the Gaussian KDE of the training set") {
    TempDir tmp;
    const fs::path build = tmp.path() / "build";
    build_sdk_example("silverman_score", build);
    const fs::path p = tmp.path() / "p.json", points = tmp.path() / "x.npy";
    write_text(p, pipeline());
    mdlab::npy::write(points, query_points());

    // The run: the sampler draws with the plugin's score, and the log names the bandwidth.
    const auto rows = run_with_plugins(p, tmp.path() / "run", build);
    CHECK(mdlab::rows(mdlab::npy::read(tmp.path() / "run" / "cells" / "0000" / "gen.npy")) == 100);
    CHECK(std::stod(row_where(rows, "node", "dist").at("mean")) < 0.5);
    char h[32];
    std::snprintf(h, sizeof h, "%f", bandwidth());
    CHECK(read_text(tmp.path() / "run" / "run.log").find(std::string("bandwidth h = ") + h) != std::string::npos);

    // s(x, t) of the plugin and of kernel_smoothed at the same h.
    const auto score_of = [&](const std::string& node) {
        const fs::path out = tmp.path() / (node + ".npy");
        const auto r = run_mdlab({"score", p.string(), "--node", node, "--t", std::to_string(t_query), "--points",
                                  points.string(), "--out", out.string(), "--plugin-dir", build.string()});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        return mdlab::npy::read(out);
    };
    const mdlab::Matrix mine = score_of("est"), builtin = score_of("ref");
    REQUIRE(mine.shape() == builtin.shape());
    for (std::size_t k = 0; k < mine.size(); ++k)
        CHECK(mine.data()[k] == Approx(builtin.data()[k]).epsilon(1e-12).margin(1e-12));

    // The direct sum over the run's training set, with vp's alpha and sigma at t.
    const mdlab::Matrix train = mdlab::npy::read(tmp.path() / "run" / "cells" / "0000" / "train.npy");
    REQUIRE(mdlab::rows(train) == n_train);
    const auto vp = make<mdlab::ForwardProcess>("vp");
    const double a = vp->alpha(t_query), s = vp->sigma(t_query), hb = bandwidth();
    const mdlab::Matrix x = query_points();
    for (std::size_t m = 0; m < mdlab::rows(x); ++m) {
        const std::vector<double> expect = kde_score(x, m, train, a, s * s + a * a * hb * hb);
        for (std::size_t j = 0; j < 3; ++j) CHECK(mine(m, j) == Approx(expect[j]).epsilon(1e-10).margin(1e-10));
    }

    // Its parameters are checked before anything runs (scale > 0 in its spec).
    write_text(tmp.path() / "bad.json", R"({
      "seed": 1,
      "nodes": [
        {"id": "circle", "plugin": "circle"},
        {"id": "train", "plugin": "sample", "params": {"n": 20}, "inputs": {"manifold": "circle"}},
        {"id": "vp", "plugin": "vp"},
        {"id": "est", "plugin": "silverman_score", "params": {"scale": 0},
         "inputs": {"data": "train", "process": "vp"}}
      ]
    })");
    const auto bad = run_mdlab({"validate", (tmp.path() / "bad.json").string(), "--plugin-dir", build.string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("scale") != std::string::npos);
}

TEST_CASE("docs/writing-plugins.md shows the example estimator as it is") {
    const auto blocks = cpp_blocks(source_dir() / "docs" / "writing-plugins.md",
                                   "## 7. A worked estimator: `sdk/examples/silverman_score`");
    REQUIRE(blocks.size() == 1);
    CHECK(blocks[0] == read_text(source_dir() / "sdk" / "examples" / "silverman_score" / "silverman_score.cpp"));
}
