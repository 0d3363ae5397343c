// The worked manifold of docs/writing-plugins.md (sdk/examples/ellipse), built out of tree: its
// draws lie on the ellipse, its projection is the nearest point (checked against a dense search
// written out here), its intrinsic coordinate and tangent agree with the parametrisation, and
// in a pipeline the built-in metrics and the oracle (by quadrature) work on it.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <mdlab/npy.hpp>

#include "command.hpp"
#include "csv.hpp"
#include "doc_excerpts.hpp"
#include "mdlab/runtime/registry.hpp"
#include "mdlab_test.hpp"
#include "out_of_tree_build.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

constexpr double a = 2.0, b = 0.5, two_pi = 6.283185307179586476925286766559;

// The plugin, loaded from its library as mdlab loads it, with its spec's defaults and `set`.
std::shared_ptr<mdlab::Manifold> ellipse(const mdlab::runtime::Registry& reg, std::size_t dim,
                                         const std::string& embedding) {
    const mdlab::runtime::PluginRecord* rec = reg.find("ellipse");
    REQUIRE(rec);
    mdlab::Params params;
    for (const auto& spec : rec->spec.params)
        if (spec.default_value) params.set(spec.key, *spec.default_value);
    params.set("a", a);
    params.set("b", b);
    params.set("ambient_dim", std::int64_t(dim));
    params.set("embedding", embedding);
    auto m = std::dynamic_pointer_cast<mdlab::Manifold>(reg.create(*rec, params));
    REQUIRE(m);
    TestContext ctx(4, "ellipse");
    m->prepare(ctx);
    return m;
}

double dist(const mdlab::Matrix& x, std::size_t i, const mdlab::Matrix& y, std::size_t j) {
    double s = 0.0;
    for (std::size_t c = 0; c < mdlab::cols(x); ++c) s += (x(i, c) - y(j, c)) * (x(i, c) - y(j, c));
    return std::sqrt(s);
}

// Queries around the ellipse and off its plane, with the hard cases of the nearest point: the
// centre, the major axis inside the evolute (two nearest points), the minor axis, far points.
mdlab::Matrix queries(std::size_t dim) {
    std::mt19937_64 gen(7);
    std::normal_distribution<double> normal;
    mdlab::Matrix x = mdlab::Matrix::from_shape({200, dim});
    for (auto& v : x) v = 1.5 * normal(gen);
    const double fixed[][2] = {{0.0, 0.0}, {1.0, 0.0}, {-1.7, 0.0}, {0.0, 0.2}, {0.0, -3.0}, {9.0, 0.1}, {2.0, 0.0}};
    for (std::size_t i = 0; i < std::size(fixed); ++i)
        for (std::size_t c = 0; c < dim; ++c) x(i, c) = c < 2 ? fixed[i][c] : 0.0;
    return x;
}

// Dense parametrisation of the ellipse in the (x_1, x_2) plane.
mdlab::Matrix dense_ellipse(std::size_t n, std::size_t dim) {
    mdlab::Matrix e = mdlab::Matrix::from_shape({n, dim});
    for (auto& v : e) v = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        const double t = two_pi * double(j) / double(n);
        e(j, 0) = a * std::cos(t), e(j, 1) = b * std::sin(t);
    }
    return e;
}

// |x_i - p_i| is the distance to the nearest of the dense points, up to their spacing, and never
// more than it (p is at least as near as every point of M).
void check_nearest(const mdlab::Matrix& x, const mdlab::Matrix& p, const mdlab::Matrix& dense) {
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        double best = INFINITY;
        for (std::size_t j = 0; j < mdlab::rows(dense); ++j) best = std::min(best, dist(x, i, dense, j));
        INFO("query " << i);
        CHECK(dist(x, i, p, i) <= best + 1e-12);
        CHECK(dist(x, i, p, i) >= best - 1e-4);
    }
}

}  // namespace

TEST_CASE("the example manifold builds out of tree; draws, nearest points and tangents are the ellipse's") {
    TempDir tmp;
    const fs::path build = tmp.path() / "build";
    const fs::path library = build_sdk_example("ellipse", build);
    mdlab::runtime::Registry reg;
    reg.load_library(library);

    SECTION("in its coordinate plane, checked against the ellipse's equation") {
        const auto m = ellipse(reg, 3, "coordinate");
        const mdlab::Matrix y = m->sample(2000, TestContext(1).stream("draws"));
        for (std::size_t i = 0; i < mdlab::rows(y); ++i) {
            CHECK(y(i, 0) * y(i, 0) / (a * a) + y(i, 1) * y(i, 1) / (b * b) == Approx(1.0).epsilon(1e-12));
            CHECK(y(i, 2) == 0.0);
        }
        const mdlab::Matrix x = queries(3), p = m->project(x), theta = m->intrinsic_coords(x);
        mdlab::TangentBases t;
        m->tangent_bases(x, t);
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
            INFO("query " << i << ": " << x(i, 0) << ", " << x(i, 1) << ", " << x(i, 2));
            CHECK(p(i, 0) * p(i, 0) / (a * a) + p(i, 1) * p(i, 1) / (b * b) == Approx(1.0).epsilon(1e-12));
            CHECK(p(i, 2) == 0.0);
            // theta parametrises the nearest point; the tangent is the unit derivative there.
            const double th = theta(i, 0), du = -a * std::sin(th), dv = b * std::cos(th), len = std::hypot(du, dv);
            CHECK(th >= 0.0);
            CHECK(th < two_pi);
            CHECK(a * std::cos(th) == Approx(p(i, 0)).margin(1e-12));
            CHECK(b * std::sin(th) == Approx(p(i, 1)).margin(1e-12));
            CHECK(t(i, 0, 0) == Approx(du / len).margin(1e-12));
            CHECK(t(i, 1, 0) == Approx(dv / len).margin(1e-12));
            CHECK(t(i, 2, 0) == 0.0);
            // First-order condition of the nearest point: x - p is normal to M at p.
            const double along = (x(i, 0) - p(i, 0)) * t(i, 0, 0) + (x(i, 1) - p(i, 1)) * t(i, 1, 0);
            CHECK(along == Approx(0.0).margin(1e-10));
        }
        check_nearest(x, p, dense_ellipse(200000, 3));
        // The centre is nearest to both ends of the minor axis; the plugin picks (0, b).
        CHECK(p(0, 0) == 0.0);
        CHECK(p(0, 1) == b);
        // Manifold's default distance is |x - project(x)|.
        const mdlab::Vector d = m->distance(x);
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) CHECK(d(i) == Approx(dist(x, i, p, i)).epsilon(1e-14));
        // The quadrature: equal weights on points of the ellipse.
        const mdlab::Quadrature q = m->quadrature(64);
        REQUIRE(mdlab::rows(q.nodes) == 64);
        for (std::size_t i = 0; i < 64; ++i) {
            CHECK(q.weights(i) == 1.0 / 64.0);
            CHECK(q.nodes(i, 0) * q.nodes(i, 0) / (a * a) + q.nodes(i, 1) * q.nodes(i, 1) / (b * b) ==
                  Approx(1.0).epsilon(1e-12));
        }
    }

    SECTION("in a random plane of R^5: draws are their own projections, projections are nearest points") {
        const auto m = ellipse(reg, 5, "random");
        const mdlab::Matrix y = m->sample(500, TestContext(1).stream("draws"));
        const mdlab::Matrix py = m->project(y);
        for (std::size_t k = 0; k < y.size(); ++k) CHECK(py.data()[k] == Approx(y.data()[k]).margin(1e-12));
        const mdlab::Matrix x = queries(5), p = m->project(x), pp = m->project(p);
        for (std::size_t k = 0; k < p.size(); ++k) CHECK(pp.data()[k] == Approx(p.data()[k]).margin(1e-12));
        check_nearest(x, p, m->quadrature(200000).nodes);
    }
}

TEST_CASE("the example manifold runs in a pipeline with the built-in metrics and the oracle") {
    TempDir tmp;
    const fs::path build = tmp.path() / "build";
    build_sdk_example("ellipse", build);
    write_text(tmp.path() / "p.json", R"({
      "seed": 3,
      "nodes": [
        {"id": "ell", "plugin": "ellipse", "params": {"ambient_dim": 4, "a": 2.0, "b": 1.0}},
        {"id": "noisy", "plugin": "ellipse", "params": {"ambient_dim": 4, "a": 2.0, "b": 1.0, "noise": 0.05}},
        {"id": "vp", "plugin": "vp"},
        {"id": "train", "plugin": "sample", "params": {"n": 300}, "inputs": {"manifold": "ell"}},
        {"id": "noisy_train", "plugin": "sample", "params": {"n": 2000}, "inputs": {"manifold": "noisy"}},
        {"id": "on", "plugin": "manifold_distance", "inputs": {"samples": "train", "manifold": "ell"}},
        {"id": "off", "plugin": "manifold_distance", "inputs": {"samples": "noisy_train", "manifold": "noisy"}},
        {"id": "est", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
        {"id": "oracle", "plugin": "oracle", "inputs": {"manifold": "ell", "process": "vp"}},
        {"id": "err", "plugin": "score_error", "params": {"n": 300, "times": 3},
         "inputs": {"score": "est", "oracle": "oracle", "manifold": "ell"}},
        {"id": "self", "plugin": "score_error", "params": {"n": 300, "times": 3},
         "inputs": {"score": "oracle", "oracle": "oracle", "manifold": "ell"}},
        {"id": "tv", "plugin": "tv_intrinsic", "params": {"reference": "quadrature"},
         "inputs": {"samples": "train", "manifold": "ell"}}
      ]
    })");
    const auto rows = run_with_plugins(tmp.path() / "p.json", tmp.path() / "run", build);
    const auto value = [&](const std::string& node, const std::string& key) {
        return std::stod(row_where(rows, "node", node).at(key));
    };
    // Draws lie on M; normal noise of standard deviation s in the D - 1 = 3 normal directions is at
    // mean distance s E|chi_3| = s 2 sqrt(2 / pi) (the offsets stay below the radius of curvature).
    CHECK(value("on", "max") < 1e-12);
    CHECK(value("off", "mean") == Approx(0.05 * 2.0 * std::sqrt(2.0 / M_PI)).epsilon(0.05));
    // The oracle integrates over the quadrature: exactly 0 error against itself, > 0 for the
    // empirical score; the quadrature's masses make the draws' histogram close to mu_data's.
    CHECK(value("self", "l2") == 0.0);
    CHECK(value("err", "l2") > 0.0);
    CHECK(value("tv", "tv") < 0.3);
    CHECK(std::abs(value("tv", "tv") - value("tv", "baseline_tv")) < 0.1);
    const mdlab::Matrix train = mdlab::npy::read(tmp.path() / "run" / "cells" / "0000" / "train.npy");
    CHECK(mdlab::rows(train) == 300);
    CHECK(mdlab::cols(train) == 4);

    // What it leaves out: no closed-form noised score, so the oracle's closed_form method refuses.
    write_text(tmp.path() / "closed.json", R"({
      "seed": 3,
      "nodes": [
        {"id": "ell", "plugin": "ellipse", "params": {"ambient_dim": 4}},
        {"id": "vp", "plugin": "vp"},
        {"id": "oracle", "plugin": "oracle", "params": {"method": "closed_form"},
         "inputs": {"manifold": "ell", "process": "vp"}},
        {"id": "self", "plugin": "score_error", "params": {"n": 10, "times": 1},
         "inputs": {"score": "oracle", "oracle": "oracle", "manifold": "ell"}}
      ]
    })");
    const auto closed = run_mdlab({"run", (tmp.path() / "closed.json").string(), "--out",
                                   (tmp.path() / "closed").string(), "--plugin-dir", build.string(), "-q"});
    CHECK(closed.exit_code == 2);
    CHECK(closed.err.find("no closed-form noised") != std::string::npos);

    // A check across two parameters, in the constructor: validate names the key.
    write_text(tmp.path() / "bad.json",
               R"({"seed": 1, "nodes": [{"id": "ell", "plugin": "ellipse", "params": {"a": 1.0, "b": 2.0}}]})");
    const auto bad = run_mdlab({"validate", (tmp.path() / "bad.json").string(), "--plugin-dir", build.string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("b = 2") != std::string::npos);
    CHECK(bad.err.find("swap them") != std::string::npos);
}

TEST_CASE("docs/writing-plugins.md quotes the example manifold as it is") {
    const auto blocks = cpp_blocks(source_dir() / "docs" / "writing-plugins.md",
                                   "## 8. A worked manifold: `sdk/examples/ellipse`");
    REQUIRE(blocks.size() == 4);
    const std::string source = read_text(source_dir() / "sdk" / "examples" / "ellipse" / "ellipse.cpp");
    for (const std::string& block : blocks) {
        INFO(block);
        CHECK(source.find(block) != std::string::npos);
    }
}
