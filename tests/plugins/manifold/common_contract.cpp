// What several manifold plugins promise alike, checked for a set of them at once: reproducible
// draws, densities and noise, independent of the thread count.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <mdlab/mdlab.hpp>

#include "catalogue_checks.hpp"
#include "circle_sphere_checks.hpp"
#include "manifold_check.hpp"
#include "mdlab_test.hpp"

TEST_CASE("circle and sphere: densities and noise are reproducible and independent of the thread count",
          "[manifold][circle][sphere]") {
    for (const std::string& spec :
         {std::string("circle|{\"ambient_dim\": 6, \"density\": \"von_mises\", \"noise\": 0.01}"),
          std::string("circle|{\"ambient_dim\": 6, \"density\": \"irregular\"}"),
          std::string("sphere|{\"k\": 3, \"ambient_dim\": 6, \"density\": \"von_mises\", \"kappa\": 20, \"noise\": 0.01}"),
          std::string("sphere|{\"k\": 2, \"ambient_dim\": 6, \"density\": \"irregular\", \"noise\": 0.01}")}) {
        const std::string name = spec.substr(0, spec.find('|')), json = spec.substr(spec.find('|') + 1);
        INFO(name << " " << json);
        mdlab::test::TestContext a(42), b(42), other(43);
        auto ma = prepared(name, json, a);
        const Matrix xa = ma->sample(3000, a.stream("data"));
        CHECK(identical(xa, prepared(name, json, b)->sample(3000, b.stream("data"))));
        CHECK(max_abs_diff(xa, prepared(name, json, other)->sample(3000, other.stream("data"))) > 0.1);
        const Matrix probe = gaussian_points(3000, 6, 1.0, 8);
        Matrix x[2], qn[2];
        Vector qw[2];
        mdlab::TangentBases tb[2];
        for (int threads : {1, 2}) {
            tbb::task_arena arena(threads);
            arena.execute([&] {
                const int i = threads - 1;
                x[i] = ma->sample(3000, a.stream("data"));
                ma->tangent_bases(probe, tb[i]);
                const mdlab::Quadrature q = ma->quadrature(30);
                qn[i] = q.nodes;
                qw[i] = q.weights;
            });
        }
        CHECK(identical(x[0], x[1]));
        CHECK(identical(x[0], xa));
        CHECK((tb[0].shape() == tb[1].shape() && std::equal(tb[0].begin(), tb[0].end(), tb[1].begin())));
        CHECK(identical(qn[0], qn[1]));
        CHECK((qw[0].shape() == qw[1].shape() && std::equal(qw[0].begin(), qw[0].end(), qw[1].begin())));
    }
}

// ---- reproducibility ---------------------------------------------------------------------------

TEST_CASE("catalogue manifolds: reproducible by seed and independent of the thread count", "[manifold][threads]") {
    mdlab::test::TestContext files(60);
    mdlab::npy::write(files.output_dir() / "d.npy", gaussian_points(1000, 3, 1.0, 12));
    const std::vector<std::pair<std::string, std::string>> configs = {
        {"swiss_roll", R"({"ambient_dim": 6, "density": "irregular", "noise": 0.01})"},
        {"linear_subspace", R"({"k": 2, "ambient_dim": 5, "noise": 0.1})"},
        {"linear_subspace", R"({"k": 3, "ambient_dim": 5, "law": "cube"})"},
        {"gaussian_mixture", R"({"ambient_dim": 4, "components": 6})"},
        {"dataset", "{\"path\": " + json_path(files.output_dir() / "d.npy") + ", \"ambient_dim\": 5, \"embed\": true}"},
    };
    for (const auto& [name, json] : configs) {
        INFO(name << " " << json);
        mdlab::test::TestContext a(42), b(42), other(43);
        auto m = prepared(name, json, a);
        const std::size_t D = m->ambient_dim();
        const Matrix xa = m->sample(3000, a.stream("data"));
        CHECK(identical(xa, prepared(name, json, b)->sample(3000, b.stream("data"))));
        CHECK(max_abs_diff(xa, prepared(name, json, other)->sample(3000, other.stream("data"))) > 1e-3);

        const Matrix probe = gaussian_points(3000, D, 1.0, 13);
        struct Out {
            Matrix x, p, c, s;
            Vector d;
        };
        auto run = [&](int threads) {
            Out o;
            tbb::task_arena arena(threads);
            arena.execute([&] {
                o.x = m->sample(5000, a.stream("data"));
                o.p = m->project(probe);
                o.d = m->distance(probe);
                o.c = m->intrinsic_coords(probe);
                if (!m->noised_score(probe, 0.7, 0.4, o.s)) o.s = Matrix::from_shape({0, 0});
            });
            return o;
        };
        const Out one = run(1), two = run(2);
        CHECK(identical(one.x, two.x));
        CHECK(identical(one.p, two.p));
        CHECK(identical(one.d, two.d));
        CHECK(identical(one.c, two.c));
        CHECK(identical(one.s, two.s));
        // The first rows of a longer draw are those of a shorter one (chunks do not depend on n).
        for (std::size_t i = 0; i < 3000; ++i)
            for (std::size_t j = 0; j < D; ++j) REQUIRE(one.x(i, j) == xa(i, j));
    }
}
