// Helpers of the forward-process tests: creation through the registry, central finite
// differences, and the Monte Carlo check of perturb's mean and variance.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;

std::shared_ptr<mdlab::ForwardProcess> process(const std::string& name, const std::string& json = "{}") {
    return mdlab::test::make<mdlab::ForwardProcess>(name, json);
}

bool rel_close(double a, double b, double tol) { return std::abs(a - b) <= tol * std::abs(b); }

// Central difference of f at t with step h (error O(h^2 f''')).
template <class F>
double central(F&& f, double t, double h) {
    return (f(t + h) - f(t - h)) / (2.0 * h);
}

// Closed forms of the linear VP schedule.
struct VpRef {
    double b0, b1;
    double beta(double t) const { return b0 + t * (b1 - b0); }
    double B(double t) const { return b0 * t + 0.5 * (b1 - b0) * t * t; }
    double alpha(double t) const { return std::exp(-0.5 * B(t)); }
    double sigma(double t) const { return std::sqrt(1.0 - std::exp(-B(t))); }
};

const std::vector<double> times = {1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};

// perturb(x0, t) row-wise: mean alpha x0 and variance sigma^2 per coordinate, within 5 standard
// errors; coordinates uncorrelated.
void check_perturb(const mdlab::ForwardProcess& p, double t) {
    const std::size_t n = 40000;
    const std::vector<double> x0v = {1.0, -2.0, 0.5, 0.0};
    const std::size_t D = x0v.size();
    Matrix x0 = Matrix::from_shape({n, D});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) x0(i, j) = x0v[j];
    const mdlab::RandomStream stream(2024, "perturb-test");
    const Matrix xt = p.perturb(x0, t, stream);
    REQUIRE(xt.shape() == x0.shape());
    const double a = p.alpha(t), s = p.sigma(t);
    std::vector<double> mean(D, 0.0), var(D, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) mean[j] += xt(i, j);
    for (double& m : mean) m /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) var[j] += (xt(i, j) - mean[j]) * (xt(i, j) - mean[j]);
    for (double& v : var) v /= static_cast<double>(n - 1);
    double cov01 = 0.0;
    for (std::size_t i = 0; i < n; ++i) cov01 += (xt(i, 0) - mean[0]) * (xt(i, 1) - mean[1]);
    cov01 /= static_cast<double>(n - 1);
    const double se_mean = s / std::sqrt(static_cast<double>(n));
    const double se_var = s * s * std::sqrt(2.0 / static_cast<double>(n - 1));
    for (std::size_t j = 0; j < D; ++j) {
        INFO("t = " << t << ", coordinate " << j << ": mean " << mean[j] << " vs " << a * x0v[j]
                    << ", variance " << var[j] << " vs " << s * s);
        CHECK(std::abs(mean[j] - a * x0v[j]) < 5.0 * se_mean);
        CHECK(std::abs(var[j] - s * s) < 5.0 * se_var);
    }
    CHECK(std::abs(cov01) < 5.0 * s * s / std::sqrt(static_cast<double>(n)));

    // Same stream, same draws; the result does not depend on the thread count.
    Matrix one, two;
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
        one = p.perturb(x0, t, stream);
    }
    {
        tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
        two = p.perturb(x0, t, stream);
    }
    CHECK(std::equal(one.data(), one.data() + one.size(), xt.data()));
    CHECK(std::equal(two.data(), two.data() + two.size(), xt.data()));
}

}  // namespace
