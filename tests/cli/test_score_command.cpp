// `mdlab score` evaluates an estimator node of a pipeline at given points and time: its output
// equals the same estimator built and called in-process from the same seed.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include <mdlab/npy.hpp>

#include "command.hpp"
#include "mdlab_test.hpp"

using namespace mdlab::test;
namespace fs = std::filesystem;

namespace {

const char* pipeline_text = R"({
  "name": "score_field", "seed": 11,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 4}},
    {"id": "train", "plugin": "sample", "params": {"n": 150}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}}
  ],
  "sweep": {"grid": {"train.n": [150, 40]}}
})";

mdlab::Matrix random_points(std::size_t n, std::size_t d) {
    std::mt19937_64 gen(5);
    std::normal_distribution<double> normal;
    mdlab::Matrix x = mdlab::Matrix::from_shape({n, d});
    for (auto& v : x) v = normal(gen);
    return x;
}

// The estimator as the pipeline's cell with `n` training points builds it: node ids name the streams.
std::shared_ptr<mdlab::ScoreEstimator> in_process_estimator(std::size_t n) {
    auto circle = make<mdlab::Manifold>("circle", R"({"ambient_dim": 4})");
    TestContext circle_ctx(11, "circle");
    circle->prepare(circle_ctx);
    TestContext train_ctx(11, "train");
    auto data = std::make_shared<const mdlab::Matrix>(circle->sample(n, train_ctx.stream("draw")));
    auto estimator = make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs inputs;
    inputs.set("data", data);
    inputs.set("process", std::shared_ptr<const mdlab::ForwardProcess>(make<mdlab::ForwardProcess>("vp")));
    TestContext ctx(11, "score");
    estimator->prepare(inputs, ctx);
    return estimator;
}

bool bitwise_equal(const mdlab::Matrix& a, const mdlab::Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("mdlab score writes what the estimator computes in-process") {
    TempDir tmp;
    const fs::path pipeline = tmp.path() / "p.json", points = tmp.path() / "x.npy";
    write_text(pipeline, pipeline_text);
    const mdlab::Matrix x = random_points(37, 4);
    mdlab::npy::write(points, x);

    for (const double t : {0.02, 0.5}) {
        const std::string tt = std::to_string(t);
        const auto r = run_mdlab({"score", pipeline.string(), "--node", "score", "--t", tt, "--points",
                                  points.string(), "--out", (tmp.path() / "s.npy").string()});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const auto d = run_mdlab({"score", pipeline.string(), "--node", "score", "--t", tt, "--points",
                                  points.string(), "--out", (tmp.path() / "d.npy").string(), "--denoise",
                                  "--threads", "1"});
        REQUIRE(d.exit_code == 0);

        auto estimator = in_process_estimator(150);
        mdlab::Matrix s, den;
        estimator->score(x, std::stod(tt), s);
        estimator->denoise(x, std::stod(tt), den);
        CHECK(bitwise_equal(mdlab::npy::read(tmp.path() / "s.npy"), s));
        CHECK(bitwise_equal(mdlab::npy::read(tmp.path() / "d.npy"), den));
    }

    SECTION("--cell picks the sweep cell's configuration") {
        const auto r = run_mdlab({"score", pipeline.string(), "--node", "score", "--t", "0.1", "--points",
                                  points.string(), "--out", (tmp.path() / "c1.npy").string(), "--cell", "1"});
        REQUIRE(r.exit_code == 0);
        mdlab::Matrix s;
        in_process_estimator(40)->score(x, 0.1, s);
        CHECK(bitwise_equal(mdlab::npy::read(tmp.path() / "c1.npy"), s));
        mdlab::Matrix s150;
        in_process_estimator(150)->score(x, 0.1, s150);
        CHECK_FALSE(bitwise_equal(s150, s));
    }
}

TEST_CASE("mdlab score refuses bad arguments with exit code 2 and says why") {
    TempDir tmp;
    const fs::path pipeline = tmp.path() / "p.json", points = tmp.path() / "x.npy", wrong = tmp.path() / "w.npy";
    write_text(pipeline, pipeline_text);
    mdlab::npy::write(points, random_points(5, 4));
    mdlab::npy::write(wrong, random_points(5, 3));
    write_text(tmp.path() / "broken.npy", "not an array");
    const std::string out = (tmp.path() / "s.npy").string();

    struct Case {
        std::vector<std::string> args;
        std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {{"--node", "scor", "--t", "0.1", "--points", points.string()}, {"no node 'scor'", "estimator nodes: score"}},
        {{"--node", "circle", "--t", "0.1", "--points", points.string()}, {"is a manifold", "estimator nodes: score"}},
        {{"--node", "score", "--t", "0.1", "--points", wrong.string()}, {"3 columns", "R^4"}},
        {{"--node", "score", "--t", "0.1", "--points", (tmp.path() / "broken.npy").string()}, {"--points", "broken.npy"}},
        {{"--node", "score", "--t", "0.1", "--points", (tmp.path() / "none.npy").string()}, {"none.npy"}},
        {{"--node", "score", "--t", "0", "--points", points.string()}, {"--t", "sigma"}},
        {{"--node", "score", "--t", "0.1", "--points", points.string(), "--cell", "2"}, {"--cell", "2 sweep cell"}},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args = {"score", pipeline.string(), "--out", out};
        args.insert(args.end(), c.args.begin(), c.args.end());
        const auto r = run_mdlab(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        for (const auto& s : c.says) CHECK_THAT(r.err, Catch::Contains(s));
        CHECK_FALSE(fs::exists(out));
    }
}
