// The mean-shift kernel (mdlab/kernels/mean_shift.hpp) and its decomposition against direct
// long-double computations (SCIENCE.md section 5, claim 4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/kernels/mean_shift_decomposition.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "mean_shift_reference.hpp"

// ------------------------------------------------------------------------------- the kernel

TEST_CASE("mean shift kernel equals the direct long-double formula, including tiny tau", "[kernel]") {
    std::size_t checked = 0, underflowing = 0;
    double worst = 0.0;
    for (auto kernel : {MeanShiftKernel::laplace, MeanShiftKernel::gaussian}) {
        for (std::size_t d : {1, 2, 7}) {
            for (std::size_t n : {1, 5, 203}) {  // 5 and 203 are not multiples of the packed block
                const Matrix p = normal_matrix(n, d, 10 + d + n);
                Matrix x = normal_matrix(40, d, 20 + d + n, 1.5);
                for (std::size_t a = 0; a < d; ++a) x(0, a) = p(0, a);  // a query sitting on a point
                for (std::size_t a = 0; a < d; ++a) x(1, a) = 30.0 + a;  // a query far from every point
                for (double tau : {2.0, 0.3, 1e-3, 1e-5}) {
                    Matrix out;
                    mdlab::kernels::mean_shift(x, p, kernel, tau, out);
                    REQUIRE(mdlab::rows(out) == 40);
                    REQUIRE(mdlab::cols(out) == d);
                    for (std::size_t q = 0; q < 40; ++q) {
                        const Shift s = direct_shift(mdlab::row(x, q), p, kernel, tau);
                        const double err = abs_error(mdlab::row(out, q), s.m);
                        INFO(mdlab::kernels::to_string(kernel) << ", D = " << d << ", N = " << n << ", tau = " << tau
                                                               << ", query " << q << ": error " << err << " |m| "
                                                               << double(norm(s.m)));
                        CHECK(err <= tolerance(s));
                        if (norm(s.m) > 0) worst = std::max(worst, err / double(norm(s.m)));
                        underflowing += s.naive_underflow;
                        ++checked;
                    }
                }
            }
        }
    }
    WARN("mean shift vs long double: worst relative error " << worst << " over " << checked << " queries, "
         << underflowing << " of them where a plain exp underflows (0/0)");
    CHECK(underflowing >= checked / 8);  // the tiny-tau regime is really exercised
}

// (That the Gaussian case is tau^2 times the smoothed score is the direct formula's check above:
// the kernel computes it by calling softmax_score.)
TEST_CASE("mean shift kernel: bit-identical for any thread count; kernel names and bad arguments", "[kernel]") {
    const Matrix p = normal_matrix(500, 3, 31);
    const Matrix x = normal_matrix(300, 3, 32, 1.4);
    for (auto kernel : {MeanShiftKernel::laplace, MeanShiftKernel::gaussian}) {
        Matrix one, two, many;
        tbb::task_arena(1).execute([&] { mdlab::kernels::mean_shift(x, p, kernel, 0.4, one); });
        tbb::task_arena(2).execute([&] { mdlab::kernels::mean_shift(x, p, kernel, 0.4, two); });
        mdlab::kernels::mean_shift(x, p, kernel, 0.4, many);
        CHECK(identical(one, two));
        CHECK(identical(one, many));
    }
    CHECK(mdlab::kernels::mean_shift_kernel("laplace") == MeanShiftKernel::laplace);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_kernel("cauchy"), mdlab::Error);
    Matrix out;
    CHECK_THROWS_AS(mdlab::kernels::mean_shift(x, p, MeanShiftKernel::laplace, 0.0, out), mdlab::Error);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift(x, normal_matrix(5, 2, 1), MeanShiftKernel::laplace, 1.0, out),
                    mdlab::Error);
}

TEST_CASE("mean shift = lambda x smoothed score + residual, exactly; each part against a direct computation",
          "[kernel][claim4]") {
    double worst_identity = 0.0, worst_gaussian_residual = 0.0;
    for (auto kernel : {MeanShiftKernel::gaussian, MeanShiftKernel::laplace})
        for (std::size_t d : {2, 7, 40})
            for (double tau : {1.5, 0.3, 0.05}) {
                const Matrix p = normal_matrix(120, d, 200 + d);
                const Matrix x = normal_matrix(12, d, 300 + d, 1.2);
                mdlab::kernels::MeanShiftParts parts;
                mdlab::kernels::mean_shift_parts(x, p, kernel, tau, {}, parts);
                Matrix streamed;
                mdlab::kernels::mean_shift(x, p, kernel, tau, streamed);
                for (std::size_t q = 0; q < 12; ++q) {
                    INFO(mdlab::kernels::to_string(kernel) << ", D = " << d << ", tau = " << tau << ", query " << q);
                    const Parts want = direct_parts(mdlab::row(x, q), p, kernel, tau, mdlab::kernels::keep_all);
                    const double m = double(norm(want.m));
                    // The shift equals the streaming kernel's; m = lambda s + R holds to rounding.
                    CHECK(distance(mdlab::row(parts.shift, q), want.m) <= 1e-12 * m);
                    CHECK(distance(mdlab::row(streamed, q), want.m) <= 1e-12 * m);
                    double id = 0.0;
                    for (std::size_t a = 0; a < d; ++a) {
                        const double e = parts.shift(q, a) - parts.scale[q] * parts.score(q, a) - parts.residual(q, a);
                        id += e * e;
                    }
                    CHECK(std::sqrt(id) <= 1e-14 * m);
                    worst_identity = std::max(worst_identity, std::sqrt(id) / m);
                    // The score is the gradient of the log kernel sum (finite differences, 1e-7).
                    CHECK(distance(mdlab::row(parts.score, q), want.s) <= 1e-7 * double(norm(want.s)));
                    CHECK(parts.scale[q] == Approx(double(want.lambda)).epsilon(1e-12));
                    CHECK(distance(mdlab::row(parts.residual, q), want.r) <= 1e-7 * m);
                    if (kernel == MeanShiftKernel::gaussian) {
                        // Tweedie: lambda = tau^2 and no residual (the Gaussian identity).
                        CHECK(parts.scale[q] == Approx(tau * tau).epsilon(1e-14));
                        CHECK(parts.spread[q] == 0.0);
                        double res = 0.0;
                        for (std::size_t a = 0; a < d; ++a) res += parts.residual(q, a) * parts.residual(q, a);
                        res = std::sqrt(res);
                        CHECK(res <= 1e-14 * m);
                        worst_gaussian_residual = std::max(worst_gaussian_residual, res / m);
                    } else {
                        // a real residual (at tau = 0.05 the nearest point carries the weight: R -> 0)
                        if (tau >= 0.3) CHECK(double(norm(want.r)) >= 1e-3 * m);
                        CHECK(parts.spread[q] > 0.0);
                    }
                }
            }
    WARN("m - lambda s - R: worst " << worst_identity << " of |m|; Gaussian |R|: worst " << worst_gaussian_residual
                                    << " of |m|");
}

TEST_CASE("mean shift decomposition: self-exclusion, thread count, coincident points", "[kernel][claim4]") {
    const Matrix p = normal_matrix(300, 5, 401);
    std::vector<std::size_t> skip(300);
    for (std::size_t i = 0; i < 300; ++i) skip[i] = i;
    mdlab::kernels::MeanShiftParts one, many;
    tbb::task_arena(1).execute(
        [&] { mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, skip, one); });
    mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, skip, many);
    CHECK(identical(one.shift, many.shift));
    CHECK(identical(one.residual, many.residual));
    CHECK(one.scale == many.scale);
    for (std::size_t q : {0, 17, 299}) {  // leaving point q out = the decomposition against the others
        const Parts want = direct_parts(mdlab::row(p, q), p, MeanShiftKernel::laplace, 0.4, q);
        CHECK(distance(mdlab::row(one.shift, q), want.m) <= 1e-12 * double(norm(want.m)));
        CHECK(distance(mdlab::row(one.residual, q), want.r) <= 1e-7 * double(norm(want.m)));
    }
    mdlab::kernels::MeanShiftParts out;
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, {}, out), mdlab::Error);
    CHECK_NOTHROW(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::gaussian, 0.4, {}, out));
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.4, {1, 2}, out), mdlab::Error);
    CHECK_THROWS_AS(mdlab::kernels::mean_shift_parts(p, p, MeanShiftKernel::laplace, 0.0, skip, out), mdlab::Error);
}

TEST_CASE("Laplace residual on the sphere S^k: the population value by quadrature, -> 2/(k+1) at low tau",
          "[kernel][claim4]") {
    // Uniform law on the unit sphere S^k, query x on it. A point at polar angle theta from x is at
    // distance r = 2 sin(theta/2), its displacement has the radial part -(1 - cos theta) x and a
    // tangential part that averages to 0. With w ~ sin^(k-1)(theta) exp(-r/tau) and w~ = w / r:
    // m = -E_w[1 - cos] x, lambda s = -E_w~[1 - cos] x, so |R| / |m| = 1 - E_w~[1 - cos] / E_w[1 - cos],
    // which tends to 2/(k+1) as tau -> 0 (r ~ Gamma(k, tau) under w, Gamma(k - 1, tau) under w~).
    auto population = [](int k, double tau) {
        const int n = 200000;  // Simpson on (0, pi]
        long double a = 0, b = 0, za = 0, zb = 0;
        for (int i = 1; i <= n; ++i) {
            const double th = 3.141592653589793 * i / n, r = 2 * std::sin(th / 2);
            const double c = i == n ? 1 : (i % 2 ? 4 : 2);
            const long double w = c * std::pow(std::sin(th), k - 1) * std::exp(-r / tau);
            a += w * (1 - std::cos(th)), za += w, b += w / r * (1 - std::cos(th)), zb += w / r;
        }
        return double(1 - (b / zb) / (a / za));
    };
    CHECK(population(2, 1e-3) == Approx(2.0 / 3).epsilon(5e-3));  // the limit is reached at rate O(tau)
    CHECK(population(8, 1e-3) == Approx(2.0 / 9).epsilon(5e-3));
    auto sphere = [](std::size_t n, int k, std::uint64_t seed) {
        mdlab::Rng rng(seed);
        Matrix x = Matrix::from_shape({n, std::size_t(k + 1)});
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (int a = 0; a <= k; ++a) s += (x(i, a) = rng.normal()) * x(i, a);
            for (int a = 0; a <= k; ++a) x(i, a) /= std::sqrt(s);
        }
        return x;
    };
    std::ostringstream report;
    for (int k : {2, 4})
        for (double tau : {1.0, 0.3}) {
            const Matrix p = sphere(20000, k, 500 + k), q = sphere(200, k, 600 + k);
            mdlab::kernels::MeanShiftParts parts;
            mdlab::kernels::mean_shift_parts(q, p, MeanShiftKernel::laplace, tau, {}, parts);
            long double r2 = 0, m2 = 0;
            for (std::size_t k2 = 0; k2 < parts.shift.size(); ++k2)
                r2 += parts.residual.data()[k2] * parts.residual.data()[k2],
                    m2 += parts.shift.data()[k2] * parts.shift.data()[k2];
            const double measured = double(std::sqrt(r2 / m2)), want = population(k, tau);
            report << "S^" << k << ", tau " << tau << ": " << measured << " (population " << want << "); ";
            INFO(report.str());
            CHECK(measured == Approx(want).epsilon(0.01));  // measured within 0.2% at N = 20000
        }
    WARN("Laplace |R|/|m| on S^k: " << report.str());
}
