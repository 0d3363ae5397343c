// The neural score estimator `mlp` (libtorch), used through the registry only: this test does
// not link libtorch. The plugin is optional (built only when libtorch is found); where libtorch
// is installed its absence is a failure, without libtorch every test case is skipped with a
// warning (and CTest shows this file's test as disabled).
//
// Accuracy is checked on Gaussian data N(0, s0^2 I) under the VP process, where the exact score
// s*(x, t) = -x / (alpha^2 s0^2 + sigma^2) is known. With eps* = -sigma s* = E[eps | x_t] and
// net = -sigma s_theta, the DSM loss decomposes exactly (for any network):
//   E |net - eps|^2 = E |eps* - eps|^2 + E |net - eps*|^2,
// the irreducible minimum plus the lambda-weighted L2 error E sigma^2 |s_theta - s*|^2. Both
// sides are estimated on the same (paired) fresh draws, with standard errors over independent
// time clusters.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab/runtime/registry.hpp"
#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;

// Where the build found a usable libtorch the mlp plugin must be there: its absence fails every
// test case here. Without libtorch each test case says it is skipped and returns.
bool mlp_expected() {
    if (!mdlab::test::libtorch_found()) {
        WARN("skipped: no usable libtorch at build time, so the optional mlp plugin is not built");
        return false;
    }
    INFO("libtorch was found at build time, but the registry has no mlp plugin (not built, or it failed to load)");
    REQUIRE(mdlab::test::registry().find("mlp") != nullptr);
    return true;
}

#define REQUIRE_MLP_OR_SKIP() \
    if (!mlp_expected()) return

// n points of N(0, s0^2 I_d) from a fixed std::mt19937_64.
std::shared_ptr<const Matrix> gaussian_data(std::size_t n, std::size_t d, double s0, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto m = std::make_shared<Matrix>(Matrix::from_shape({n, d}));
    for (std::size_t k = 0; k < n * d; ++k) m->data()[k] = s0 * normal(gen);
    return m;
}

std::shared_ptr<const mdlab::ForwardProcess> vp() { return mdlab::test::make<mdlab::ForwardProcess>("vp"); }

std::shared_ptr<mdlab::ScoreEstimator> trained(const std::string& params, std::shared_ptr<const Matrix> data,
                                               std::shared_ptr<const mdlab::ForwardProcess> process,
                                               mdlab::Context& ctx) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("mlp", params);
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::move(process));
    est->prepare(in, ctx);
    return est;
}

std::shared_ptr<mdlab::ScoreEstimator> trained(const std::string& params, std::shared_ptr<const Matrix> data,
                                               std::uint64_t seed) {
    mdlab::test::TestContext ctx(seed, "net");
    return trained(params, std::move(data), vp(), ctx);
}

bool identical(const Matrix& a, const Matrix& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Scores of a fixed query set at a few times, stacked.
Matrix probe(const mdlab::ScoreEstimator& est, std::size_t d) {
    const std::vector<double> times = {1e-3, 0.05, 0.3, 0.9};
    const std::size_t n = 600;  // more than two chunks of rows
    Matrix x = Matrix::from_shape({n, d});
    std::mt19937_64 gen(99);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (auto& v : x) v = normal(gen);
    Matrix all = Matrix::from_shape({n * times.size(), d});
    for (std::size_t k = 0; k < times.size(); ++k) {
        Matrix s;
        est.score(x, times[k], s);
        REQUIRE(s.shape() == x.shape());
        std::memcpy(all.data() + k * n * d, s.data(), n * d * sizeof(double));
    }
    return all;
}

struct Csv {
    std::string header;
    std::vector<std::vector<double>> rows;
};

Csv read_csv(const std::filesystem::path& file) {
    std::ifstream in(file);
    REQUIRE(in.good());
    Csv csv;
    std::getline(in, csv.header);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<double> row;
        std::stringstream s(line);
        std::string cell;
        while (std::getline(s, cell, ',')) row.push_back(cell == "nan" ? std::nan("") : std::stod(cell));
        csv.rows.push_back(row);
    }
    return csv;
}

// Mean and standard error of independent values.
struct MeanSe {
    double mean = 0.0, se = 0.0;
};
MeanSe mean_se(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m += x;
    m /= double(v.size());
    double s2 = 0.0;
    for (double x : v) s2 += (x - m) * (x - m);
    s2 /= double(v.size() - 1);
    return {m, std::sqrt(s2 / double(v.size()))};
}

}  // namespace

// Under VP (alpha -> 0, sigma -> 1) and VE (alpha = 1, sigma from 0.01 to 50): the input
// scaling c_in(t) and the log-SNR time features make the same network work for both.
TEST_CASE("mlp: DSM training on Gaussian data approaches the exact score", "[estimator][mlp]") {
    REQUIRE_MLP_OR_SKIP();
    const std::size_t n = 2000, d = 2;
    const double s0 = 1.5, t_min = 1e-3;
    auto data = gaussian_data(n, d, s0, 2024);
    const std::string process_name = GENERATE(as<std::string>(), "vp", "ve");
    INFO("process " << process_name);
    auto process = mdlab::test::make<mdlab::ForwardProcess>(process_name);
    mdlab::test::TestContext ctx(5, "net");
    const auto start = std::chrono::steady_clock::now();
    auto est = trained(R"({"width": 32, "depth": 2, "epochs": 120, "patience": 0, "batch_size": 128,
                           "time_features": 8, "t_min": 0.001})",
                       data, process, ctx);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(est->dim() == d);

    // Fresh Monte-Carlo draws: clusters of rows sharing one t ~ U[t_min, 1] (score() takes one t
    // per call); cluster means are independent, so their spread gives the standard errors.
    const std::size_t clusters = 400, per = 50;
    std::mt19937_64 gen(7);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(t_min, process->t_end());
    std::vector<double> excess(clusters), l2(clusters), gap(clusters), lmin(clusters), ref(clusters);
    Matrix x = Matrix::from_shape({per, d}), eps = Matrix::from_shape({per, d}), s;
    for (std::size_t c = 0; c < clusters; ++c) {
        const double t = uniform(gen), a = process->alpha(t), sg = process->sigma(t);
        const double v = a * a * s0 * s0 + sg * sg;
        for (std::size_t k = 0; k < per * d; ++k) {
            eps.data()[k] = normal(gen);
            x.data()[k] = a * s0 * normal(gen) + sg * eps.data()[k];
        }
        est->score(x, t, s);
        double e_sum = 0, l2_sum = 0, lmin_sum = 0, ref_sum = 0;
        for (std::size_t k = 0; k < per * d; ++k) {
            const double net = -sg * s.data()[k];
            const double exact = sg * x.data()[k] / v;  // -sigma s*(x, t)
            const double z = eps.data()[k];
            e_sum += (net - z) * (net - z) - (exact - z) * (exact - z);
            l2_sum += (net - exact) * (net - exact);
            lmin_sum += (exact - z) * (exact - z);
            ref_sum += exact * exact;
        }
        excess[c] = e_sum / double(per);
        l2[c] = l2_sum / double(per);
        gap[c] = excess[c] - l2[c];
        lmin[c] = lmin_sum / double(per);
        ref[c] = ref_sum / double(per);
    }
    const MeanSe ex = mean_se(excess), err = mean_se(l2), g = mean_se(gap), lm = mean_se(lmin), rf = mean_se(ref);
    const double z = 4.0;
    INFO("training " << seconds << " s; exact-score DSM loss " << lm.mean << " +- " << lm.se << ", excess "
                     << ex.mean << " +- " << ex.se << " (ratio " << (lm.mean + ex.mean) / lm.mean
                     << "), weighted L2 error " << err.mean << " +- " << err.se << " vs E sigma^2 |s*|^2 "
                     << rf.mean);
    WARN("mlp Gaussian test (" << process_name << "): training " << seconds << " s, DSM loss ratio network/exact "
                                        << (lm.mean + ex.mean) / lm.mean << " (exact " << lm.mean << ", excess " << ex.mean << " +- "
                                        << ex.se << "), relative weighted L2 error " << err.mean / rf.mean);
    // The exact score minimises the DSM loss: the network cannot beat it beyond Monte-Carlo noise
    // (this fails if the reference score or the eps parameterisation were wrong).
    CHECK(ex.mean > -z * ex.se);
    // The decomposition identity, on paired draws.
    CHECK(std::abs(g.mean) <= z * g.se);
    // The network's DSM loss is within 3% of the irreducible minimum, up to Monte-Carlo noise ...
    CHECK(ex.mean <= 0.03 * lm.mean + z * ex.se);
    // ... and its weighted L2 score error is a small fraction of the size of the score itself.
    CHECK(err.mean <= 0.03 * rf.mean + z * err.se);
}

TEST_CASE("mlp: training is deterministic for a seed, and seeds differ", "[estimator][mlp]") {
    REQUIRE_MLP_OR_SKIP();
    auto data = gaussian_data(400, 3, 0.8, 11);
    for (const char* precision : {"f32", "f64"}) {
        INFO("precision " << precision);
        const std::string params = std::string(R"({"width": 16, "depth": 2, "epochs": 4, "batch_size": 64, "precision": ")") +
                                   precision + "\"}";
        const Matrix a = probe(*trained(params, data, 31), 3);
        const Matrix b = probe(*trained(params, data, 31), 3);
        const Matrix c = probe(*trained(params, data, 32), 3);
        CHECK(identical(a, b));
        CHECK_FALSE(identical(a, c));
        for (double v : a) REQUIRE(std::isfinite(v));
    }
    // score() is chunked over rows in fixed blocks: the same result with 1 or 2 TBB threads.
    auto est = trained(R"({"width": 16, "depth": 2, "epochs": 2})", data, 31);
    Matrix one, two;
    tbb::task_arena(1).execute([&] { one = probe(*est, 3); });
    tbb::task_arena(2).execute([&] { two = probe(*est, 3); });
    CHECK(identical(one, two));
}

TEST_CASE("mlp: loss curve file, early stopping and best-weight restore", "[estimator][mlp]") {
    REQUIRE_MLP_OR_SKIP();
    auto data = gaussian_data(120, 2, 1.0, 3);
    const std::size_t patience = 3, max_epochs = 300;
    mdlab::test::TestContext ctx(8, "mlp_node");
    // A large learning rate on a small training set: the validation loss soon stops improving.
    const std::string common = R"({"width": 16, "depth": 2, "batch_size": 32, "learning_rate": 0.02, "validation_fraction": 0.25)";
    auto stopped = trained(common + R"(, "epochs": 300, "patience": 3})", data, vp(), ctx);
    const auto file = ctx.output_dir() / "mlp_node.loss.csv";
    REQUIRE(std::filesystem::exists(file));
    const Csv csv = read_csv(file);
    CHECK(csv.header == "epoch,train_loss,validation_loss");
    const std::size_t run = csv.rows.size();
    INFO("epochs run: " << run);
    REQUIRE(run >= patience + 1);
    CHECK(run < max_epochs);
    // Replay the stopping rule on the recorded validation losses: it must stop exactly at the
    // last recorded epoch, and the best epoch is `patience` epochs before it.
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_epoch = 0, since = 0, stop = 0;
    for (std::size_t i = 0; i < run; ++i) {
        const auto& r = csv.rows[i];
        REQUIRE(r.size() == 3);
        CHECK(r[0] == double(i + 1));
        CHECK(std::isfinite(r[1]));
        CHECK(std::isfinite(r[2]));
        if (r[2] < best) best = r[2], best_epoch = i + 1, since = 0;
        else ++since;
        if (since >= patience) {
            stop = i + 1;
            break;
        }
    }
    CHECK(stop == run);
    CHECK(best_epoch + patience == run);
    // The kept weights are those of the best epoch: training for exactly best_epoch epochs
    // (same seed, no early stopping) gives the same network, bit for bit.
    mdlab::test::TestContext ctx2(8, "mlp_node");
    auto cut = trained(common + R"(, "patience": 0, "epochs": )" + std::to_string(best_epoch) + "}", data, vp(), ctx2);
    CHECK(read_csv(ctx2.output_dir() / "mlp_node.loss.csv").rows.size() == best_epoch);
    CHECK(identical(probe(*stopped, 2), probe(*cut, 2)));

    // No early stopping: one row per epoch. No validation split: the column holds nan.
    mdlab::test::TestContext ctx3(8, "other");
    trained(R"({"width": 8, "depth": 1, "epochs": 7, "patience": 0, "validation_fraction": 0})", data, vp(), ctx3);
    const Csv all = read_csv(ctx3.output_dir() / "other.loss.csv");
    REQUIRE(all.rows.size() == 7);
    for (const auto& r : all.rows) {
        CHECK(std::isfinite(r[1]));
        CHECK(std::isnan(r[2]));
    }
    // No temporary files are left behind.
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(ctx3.output_dir())) (void)e, ++files;
    CHECK(files == 1);
}

namespace {
// Records progress; can pretend the user cancelled.
class RecordingContext : public mdlab::test::TestContext {
public:
    using TestContext::TestContext;
    void progress(double f) override { fractions.push_back(f); }
    bool cancelled() const override { return cancel; }
    std::vector<double> fractions;
    bool cancel = false;
};
}  // namespace

TEST_CASE("mlp: progress is reported and cancellation stops training", "[estimator][mlp]") {
    REQUIRE_MLP_OR_SKIP();
    auto data = gaussian_data(100, 2, 1.0, 5);
    const std::string params = R"({"width": 8, "depth": 1, "epochs": 6, "patience": 0})";
    RecordingContext ctx(3, "p");
    trained(params, data, vp(), ctx);
    REQUIRE(ctx.fractions.size() >= 6);
    for (std::size_t i = 1; i < ctx.fractions.size(); ++i) CHECK(ctx.fractions[i] >= ctx.fractions[i - 1]);
    CHECK(ctx.fractions.front() > 0.0);
    CHECK(ctx.fractions.back() == 1.0);

    RecordingContext stop(3, "p");
    stop.cancel = true;
    CHECK_THROWS_WITH(trained(params, data, vp(), stop), Catch::Contains("cancelled"));
    CHECK_FALSE(std::filesystem::exists(stop.output_dir() / "p.loss.csv"));
}

TEST_CASE("mlp: bad parameters and inputs name their key", "[estimator][mlp]") {
    REQUIRE_MLP_OR_SKIP();
    using mdlab::test::make;
    for (const char* bad : {R"({"width": 0})", R"({"depth": 0})", R"({"activation": "gelu"})", R"({"epochs": 0})",
                            R"({"learning_rate": 0})", R"({"t_min": 0})", R"({"validation_fraction": 0.95})",
                            R"({"patience": -1})", R"({"precision": "f16"})", R"({"threads": 0})",
                            R"({"time_features": 0})", R"({"noise_draws": 0})", R"({"batch_size": 0})",
                            R"({"weight_decay": -1})", R"({"time_scale": 0.5})"}) {
        const std::string text = bad;
        const std::string key = text.substr(2, text.find('"', 2) - 2);
        INFO(text);
        CHECK_THROWS_WITH(make<mdlab::ScoreEstimator>("mlp", text), Catch::Contains(key));
    }
    const auto expect_input_error = [](const std::string& params, std::shared_ptr<const Matrix> data,
                                       const std::string& key) {
        INFO(params << " -> " << key);
        mdlab::test::TestContext ctx;
        try {
            trained(params, std::move(data), vp(), ctx);
            FAIL("accepted");
        } catch (const mdlab::InputError& e) {
            CHECK(e.key() == key);
            CHECK_THAT(std::string(e.what()), Catch::Contains(key));
        }
    };
    // Too few points for the validation split (1 point: nothing is left on one side).
    expect_input_error(R"({"validation_fraction": 0.5})", gaussian_data(1, 2, 1.0, 1), "validation_fraction");
    expect_input_error(R"({"validation_fraction": 0.01})", gaussian_data(20, 2, 1.0, 1), "validation_fraction");
    // t_min beyond the VP end time T = 1.
    expect_input_error(R"({"t_min": 1.5})", gaussian_data(50, 2, 1.0, 1), "t_min");
    expect_input_error("{}", std::make_shared<const Matrix>(Matrix::from_shape({0, 2})), "data");
    auto nan_data = std::make_shared<Matrix>(*gaussian_data(50, 2, 1.0, 1));
    (*nan_data)(7, 1) = std::nan("");
    expect_input_error("{}", nan_data, "data");

    // Misuse by other code is an mdlab::Error, not a user error.
    auto raw = make<mdlab::ScoreEstimator>("mlp");
    Matrix s;
    CHECK_THROWS_AS(raw->score(Matrix::from_shape({3, 2}), 0.5, s), mdlab::Error);
    auto est = trained(R"({"width": 8, "depth": 1, "epochs": 1})", gaussian_data(50, 2, 1.0, 1), 4);
    CHECK_THROWS_AS(est->score(Matrix::from_shape({3, 5}), 0.5, s), mdlab::Error);
    CHECK_THROWS_AS(est->score(mdlab::zeros(3, 2), 0.0, s), mdlab::Error);  // sigma(0) = 0
}
