// The `dataset` manifold: reading .npy and .csv files, draws with and without replacement,
// projection to the nearest data point, embedding, and refusals of bad files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"
#include "catalogue_checks.hpp"

TEST_CASE("dataset: .npy and .csv files give the same points", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(51);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(300, 3, 2.0, 7);
    mdlab::npy::write(dir / "points.npy", data);
    write_text(dir / "points.csv", csv_of(data, "x, y, z"));
    write_text(dir / "bare.csv", csv_of(data, ""));
    auto a = prepared("dataset", "{\"path\": " + json_path(dir / "points.npy") + "}", ctx);
    auto b = prepared("dataset", "{\"path\": " + json_path(dir / "points.csv") + "}", ctx);
    auto c = prepared("dataset", "{\"path\": " + json_path(dir / "bare.csv") + ", \"intrinsic_dim\": 2}", ctx);
    CHECK(a->ambient_dim() == 3);
    CHECK(a->intrinsic_dim() == 3);
    CHECK(c->intrinsic_dim() == 2);
    const mdlab::Quadrature qa = a->quadrature(0), qb = b->quadrature(0), qc = c->quadrature(0);
    CHECK(identical(qa.nodes, data));
    CHECK(identical(qb.nodes, data));
    CHECK(identical(qc.nodes, data));
    for (double w : qa.weights) CHECK(w == 1.0 / 300.0);
    CHECK(identical(a->sample(1000, ctx.stream("data")), b->sample(1000, ctx.stream("data"))));
}

TEST_CASE("dataset: draws are data rows, uniform with replacement, distinct without", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(52);
    const auto dir = ctx.output_dir();
    const std::size_t N = 50, n = 50000;
    const Matrix data = gaussian_points(N, 2, 1.0, 8);
    mdlab::npy::write(dir / "d.npy", data);
    auto m = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + "}", ctx);
    const Matrix x = m->sample(n, ctx.stream("data"));
    const Vector d = m->distance(x);
    CHECK(*std::max_element(d.begin(), d.end()) == 0.0);
    const Matrix idx = m->intrinsic_coords(x);
    std::vector<double> count(N, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const auto r = static_cast<std::size_t>(idx(i, 0));
        REQUIRE(r < N);
        REQUIRE(idx(i, 0) == static_cast<double>(r));
        REQUIRE(x(i, 0) == data(r, 0));
        count[r] += 1.0;
    }
    double chi2 = 0.0;
    for (double c : count) chi2 += (c - double(n) / N) * (c - double(n) / N) / (double(n) / N);
    INFO("chi-square of the row counts: " << chi2);
    CHECK(chi2 < chi2_49_999);

    // Without replacement: all N rows, each once (a random permutation), and n > N refused.
    auto w = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + ", \"replace\": false}", ctx);
    const Matrix perm = w->sample(N, ctx.stream("perm"));
    const Matrix pidx = w->intrinsic_coords(perm);
    std::set<double> seen(pidx.begin(), pidx.end());
    CHECK(seen.size() == N);
    bool moved = false;
    for (std::size_t i = 0; i < N; ++i) moved = moved || pidx(i, 0) != static_cast<double>(i);
    CHECK(moved);
    try {
        w->sample(N + 1, ctx.stream("perm"));
        FAIL("accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == "replace");
    }
}

TEST_CASE("dataset: without replacement a draw larger than one random chunk has distinct rows", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(9, "data");
    const auto dir = ctx.output_dir();
    const std::size_t n = 3 * mdlab::random_chunk_rows + 17;
    Matrix big = Matrix::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) {
        big(i, 0) = double(i);
        big(i, 1) = -double(i);
    }
    mdlab::npy::write(dir / "big.npy", big);
    auto w = prepared("dataset", "{\"path\": " + json_path(dir / "big.npy") + ", \"replace\": false}", ctx);
    const Matrix all = w->sample(n, ctx.stream("perm"));
    std::set<double> seen;
    for (std::size_t i = 0; i < n; ++i) seen.insert(all(i, 0));
    CHECK(seen.size() == n);
}

TEST_CASE("dataset: projection and distance are to the nearest data point", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(53);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(400, 4, 1.0, 9);
    mdlab::npy::write(dir / "d.npy", data);
    auto m = prepared("dataset", "{\"path\": " + json_path(dir / "d.npy") + "}", ctx);
    const Matrix y = gaussian_points(100, 4, 1.5, 10);
    const Matrix p = m->project(y);
    const Vector d = m->distance(y);
    const Matrix idx = m->intrinsic_coords(y);
    for (std::size_t i = 0; i < 100; ++i) {
        std::size_t best = 0;
        for (std::size_t r = 1; r < 400; ++r)
            if (row_dist(y, i, data, r) < row_dist(y, i, data, best)) best = r;
        CHECK(idx(i, 0) == static_cast<double>(best));
        CHECK(std::abs(d(i) - row_dist(y, i, data, best)) < 1e-14);
        CHECK(row_dist(p, i, data, best) == 0.0);
    }
    CHECK(identical(m->project(p), p));
    mdlab::TangentBases t;
    CHECK_THROWS(m->tangent_bases(p, t));
}

TEST_CASE("dataset: ambient dimension and embedding", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(54);
    const auto dir = ctx.output_dir();
    const Matrix data = gaussian_points(100, 3, 1.0, 11);
    mdlab::npy::write(dir / "d.npy", data);
    const std::string path = json_path(dir / "d.npy");
    CHECK(prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 3}", ctx)->ambient_dim() == 3);
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 5}", "ambient_dim", {"3 columns"});
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 2}", "ambient_dim", {"3 columns"});
    expect_input_error("dataset", "{\"path\": " + path + ", \"ambient_dim\": 2, \"embed\": true}", "ambient_dim");
    expect_input_error("dataset", "{\"path\": " + path + ", \"intrinsic_dim\": 4}", "intrinsic_dim");
    expect_input_error("dataset", "{\"path\": " + path + ", \"noise\": 0.1}", "noise");
    // embed = true with ambient_dim 6: the rows are Q x_i, Q (6 x 3) from the "embedding" stream.
    auto e = prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 6, \"embed\": true}", ctx);
    CHECK(e->ambient_dim() == 6);
    const mdlab::Isometry q = embedding_of(ctx, 6, 3);
    CHECK(max_abs_diff(e->quadrature(1).nodes, q.embed(data)) < 1e-15);
    // embed = true with ambient_dim = columns: used as is.
    auto same = prepared("dataset", "{\"path\": " + path + ", \"ambient_dim\": 3, \"embed\": true}", ctx);
    CHECK(identical(same->quadrature(1).nodes, data));
}

TEST_CASE("dataset: bad files are refused naming the file and the reason", "[manifold][dataset]") {
    mdlab::test::TestContext ctx(55);
    const auto dir = ctx.output_dir();
    auto path_of = [&](const std::string& name) { return "{\"path\": " + json_path(dir / name) + "}"; };
    write_text(dir / "bad_value.csv", "a,b,c\n1,2,3\n4,5,6\n7,x8,9\n");
    expect_input_error("dataset", path_of("bad_value.csv"), "path", {"bad_value.csv", "line 4", "column 2", "x8"});
    write_text(dir / "ragged.csv", "1,2,3\n4,5,6\n7,8\n");
    expect_input_error("dataset", path_of("ragged.csv"), "path", {"ragged.csv", "line 3", "2 values"});
    write_text(dir / "empty_field.csv", "1,2,3\n4,,6\n");
    expect_input_error("dataset", path_of("empty_field.csv"), "path", {"line 2", "column 2", "empty"});
    write_text(dir / "nan.csv", "1,2\nnan,3\n");
    expect_input_error("dataset", path_of("nan.csv"), "path", {"line 2", "column 1"});
    write_text(dir / "spaces.csv", "1 2 3\n4 5 6\n");
    expect_input_error("dataset", path_of("spaces.csv"), "path", {"line 2", "commas"});
    write_text(dir / "header_only.csv", "x,y\n");
    expect_input_error("dataset", path_of("header_only.csv"), "path", {"header_only.csv", "no data"});
    write_text(dir / "truncated.npy", std::string("\x93NUMPY\x01\x00", 8) + "{'descr");
    expect_input_error("dataset", path_of("truncated.npy"), "path", {"truncated.npy"});
    expect_input_error("dataset", path_of("missing.csv"), "path", {"missing.csv"});
    expect_input_error("dataset", "{}", "path");
}
