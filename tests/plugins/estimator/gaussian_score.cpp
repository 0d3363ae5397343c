// The gaussian_score estimator: against the closed form -(a^2 Sigma + s^2 I)^{-1} (x - a mu),
// solved here by Gaussian elimination in long double from the training set's own mean and
// covariance, and against the exact noised score of a one-component gaussian_mixture (the
// `oracle`) on a training set whose mean and covariance are exactly the component's.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "error_key.hpp"
#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;
using LD = long double;
using LMatrix = std::vector<std::vector<LD>>;

Matrix gaussian_points(std::size_t n, std::size_t d, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    Matrix m = Matrix::from_shape({n, d});
    for (double& v : m) v = rng.normal();
    return m;
}

std::shared_ptr<mdlab::ScoreEstimator> gaussian_score(const Matrix& data, const std::string& params = "{}") {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("gaussian_score", params);
    mdlab::Inputs in;
    in.set("data", std::make_shared<const Matrix>(data));
    in.set("process", mdlab::test::make<mdlab::ForwardProcess>("vp"));
    mdlab::test::TestContext ctx(3);
    est->prepare(in, ctx);
    return est;
}

struct Moments {
    std::vector<LD> mu;
    LMatrix cov;
};

Moments moments(const Matrix& x, bool unbiased) {
    const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
    Moments m{std::vector<LD>(d, 0), LMatrix(d, std::vector<LD>(d, 0))};
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < d; ++c) m.mu[c] += x(i, c) / LD(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = 0; b < d; ++b) m.cov[a][b] += (x(i, a) - m.mu[a]) * (x(i, b) - m.mu[b]);
    for (auto& r : m.cov)
        for (LD& v : r) v /= LD(unbiased ? n - 1 : n);
    return m;
}

// Solves A z = b by Gaussian elimination with partial pivoting.
std::vector<LD> solve(LMatrix a, std::vector<LD> b) {
    const std::size_t d = b.size();
    for (std::size_t c = 0; c < d; ++c) {
        std::size_t p = c;
        for (std::size_t r = c + 1; r < d; ++r)
            if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
        std::swap(a[p], a[c]);
        std::swap(b[p], b[c]);
        for (std::size_t r = c + 1; r < d; ++r) {
            const LD f = a[r][c] / a[c][c];
            for (std::size_t k = c; k < d; ++k) a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    std::vector<LD> z(d);
    for (std::size_t c = d; c-- > 0;) {
        LD s = b[c];
        for (std::size_t k = c + 1; k < d; ++k) s -= a[c][k] * z[k];
        z[c] = s / a[c][c];
    }
    return z;
}

double max_abs(const Matrix& got, const std::vector<std::vector<LD>>& want) {
    double worst = 0.0;
    for (std::size_t q = 0; q < want.size(); ++q)
        for (std::size_t c = 0; c < want[q].size(); ++c) worst = std::max(worst, double(std::abs(got(q, c) - want[q][c])));
    return worst;
}

}  // namespace

TEST_CASE("gaussian_score equals the closed form of the fitted Gaussian, score and denoiser", "[gaussian_score]") {
    const auto vp = mdlab::test::make<mdlab::ForwardProcess>("vp");
    for (std::size_t d : {1, 3, 6}) {
        // Anisotropic, correlated, off-centre data: x = A g + b.
        Matrix data = gaussian_points(300, d, 10 + d);
        for (std::size_t i = 0; i < 300; ++i) {
            std::vector<double> g(mdlab::row(data, i), mdlab::row(data, i) + d);
            for (std::size_t c = 0; c < d; ++c)
                data(i, c) = (0.3 + 0.4 * c) * g[c] + (c > 0 ? 0.8 * g[c - 1] : 0.0) + 1.5 - 0.7 * c;
        }
        for (const bool unbiased : {false, true}) {
            auto est = gaussian_score(data, unbiased ? R"({"covariance": "unbiased"})" : "{}");
            const Moments mo = moments(data, unbiased);
            const Matrix x = gaussian_points(25, d, 99 + d);
            for (double t : {1.0, 0.5, 0.1, 1e-3}) {
                const LD a = vp->alpha(t), s = vp->sigma(t);
                LMatrix m = mo.cov;
                for (std::size_t r = 0; r < d; ++r) {
                    for (LD& v : m[r]) v *= a * a;
                    m[r][r] += s * s;
                }
                std::vector<std::vector<LD>> want_s, want_d;
                for (std::size_t q = 0; q < 25; ++q) {
                    std::vector<LD> r(d);
                    for (std::size_t c = 0; c < d; ++c) r[c] = x(q, c) - a * mo.mu[c];
                    const std::vector<LD> z = solve(m, r);
                    std::vector<LD> sc(d), de(d);
                    for (std::size_t c = 0; c < d; ++c) {
                        sc[c] = -z[c];
                        de[c] = mo.mu[c];
                        for (std::size_t k = 0; k < d; ++k) de[c] += a * mo.cov[c][k] * z[k];
                    }
                    want_s.push_back(sc);
                    want_d.push_back(de);
                }
                Matrix got_s, got_d;
                est->score(x, t, got_s);
                est->denoise(x, t, got_d);
                INFO("D = " << d << ", unbiased = " << unbiased << ", t = " << t);
                // Scores scale like |x| / (a^2 lambda_min + s^2): relative accuracy 1e-11.
                double scale = 0.0;
                for (const auto& r : want_s)
                    for (LD v : r) scale = std::max(scale, double(std::abs(v)));
                CHECK(max_abs(got_s, want_s) <= 1e-11 * scale);
                CHECK(max_abs(got_d, want_d) <= 1e-11 * (1.0 + scale));
            }
        }
    }
}

TEST_CASE("gaussian_score equals the exact score of a one-component gaussian_mixture with those moments",
          "[gaussian_score]") {
    const std::size_t d = 3, n = 400;
    const std::vector<double> mean = {0.5, -1.0, 2.0};
    const double sd = 0.7;
    // A training set with mean `mean` and (1/N) covariance sd^2 I exactly (up to rounding): draws
    // centred and whitened by the Cholesky factor of their own covariance.
    Matrix data = gaussian_points(n, d, 5);
    const Moments mo = moments(data, false);
    LMatrix l(d, std::vector<LD>(d, 0));  // cov = L L^T
    for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = 0; j <= i; ++j) {
            LD s = mo.cov[i][j];
            for (std::size_t k = 0; k < j; ++k) s -= l[i][k] * l[j][k];
            l[i][j] = i == j ? std::sqrt(s) : s / l[j][j];
        }
    for (std::size_t r = 0; r < n; ++r) {
        std::vector<LD> c(d), w(d);
        for (std::size_t j = 0; j < d; ++j) c[j] = data(r, j) - mo.mu[j];
        for (std::size_t i = 0; i < d; ++i) {  // w = L^{-1} c
            LD s = c[i];
            for (std::size_t k = 0; k < i; ++k) s -= l[i][k] * w[k];
            w[i] = s / l[i][i];
        }
        for (std::size_t j = 0; j < d; ++j) data(r, j) = double(mean[j] + sd * w[j]);
    }
    auto est = gaussian_score(data);

    mdlab::test::TestContext mctx(11, "manifold");
    auto mixture = mdlab::test::make<mdlab::Manifold>(
        "gaussian_mixture", R"({"ambient_dim": 3, "components": 1, "means": [[0.5, -1.0, 2.0]], "std": 0.7})");
    mixture->prepare(mctx);
    auto oracle = mdlab::test::make<mdlab::ScoreEstimator>("oracle", R"({"method": "closed_form"})");
    mdlab::Inputs in;
    in.set("manifold", std::shared_ptr<const mdlab::Manifold>(mixture));
    in.set("process", mdlab::test::make<mdlab::ForwardProcess>("vp"));
    mdlab::test::TestContext octx(12, "oracle");
    oracle->prepare(in, octx);

    const Matrix x = gaussian_points(50, d, 6);
    for (double t : {0.9, 0.3, 0.05, 1e-3}) {
        Matrix mine, exact;
        est->score(x, t, mine);
        oracle->score(x, t, exact);
        double worst = 0.0, scale = 0.0;
        for (std::size_t k = 0; k < mine.size(); ++k) {
            worst = std::max(worst, std::abs(mine.data()[k] - exact.data()[k]));
            scale = std::max(scale, std::abs(exact.data()[k]));
        }
        INFO("t = " << t << ": max difference " << worst << " for scores up to " << scale);
        CHECK(worst <= 1e-10 * scale);
    }
}

TEST_CASE("gaussian_score: singular covariance, threads, bad inputs", "[gaussian_score]") {
    // Data on a line of R^3: Sigma has rank 1, the noised covariance is still invertible, and the
    // score across the line is the plain Gaussian -(x - a mu)_perp / s^2.
    Matrix line = Matrix::from_shape({100, 3});
    const Matrix g = gaussian_points(100, 1, 8);
    for (std::size_t i = 0; i < 100; ++i) {
        line(i, 0) = g(i, 0);
        line(i, 1) = 0.0;
        line(i, 2) = 0.0;
    }
    auto est = gaussian_score(line);
    const auto vp = mdlab::test::make<mdlab::ForwardProcess>("vp");
    const Matrix x = gaussian_points(10, 3, 9);
    Matrix out;
    est->score(x, 0.2, out);
    const double s2 = vp->sigma(0.2) * vp->sigma(0.2);
    for (std::size_t q = 0; q < 10; ++q) {
        CHECK(out(q, 1) == Approx(-x(q, 1) / s2).epsilon(1e-12));
        CHECK(out(q, 2) == Approx(-x(q, 2) / s2).epsilon(1e-12));
    }

    const Matrix big = gaussian_points(3000, 3, 10);
    auto est2 = gaussian_score(gaussian_points(50, 3, 11));
    Matrix one, two;
    tbb::task_arena(1).execute([&] { est2->score(big, 0.3, one); });
    tbb::task_arena(2).execute([&] { est2->score(big, 0.3, two); });
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);

    CHECK(mdlab::test::error_key([] { mdlab::test::make<mdlab::ScoreEstimator>("gaussian_score", R"({"covariance": "n"})"); }) ==
          "covariance");
    CHECK(mdlab::test::error_key([] { gaussian_score(gaussian_points(1, 2, 1), R"({"covariance": "unbiased"})"); }) ==
          "covariance");
    CHECK(mdlab::test::error_key([] { gaussian_score(Matrix::from_shape({0, 2})); }) == "data");
}
