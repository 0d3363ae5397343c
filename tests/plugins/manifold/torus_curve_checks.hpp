// Helpers of the torus and curve tests: the documented parametrisations rebuilt from the same
// random streams, and goodness-of-fit statistics.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

#include "manifold_check.hpp"
#include "mdlab_test.hpp"

namespace {

using mdlab::Matrix;
using mdlab::Vector;
using namespace mdlab::test;  // the helpers of manifold_check.hpp

// ---- torus ----------------------------------------------------------------------------------

struct TorusModel {
    bool flat;
    double r1, r2;
    std::size_t m() const { return flat ? 4 : 3; }
    std::vector<double> z(double a, double b) const {
        if (flat) return {r1 * std::cos(a), r1 * std::sin(a), r2 * std::cos(b), r2 * std::sin(b)};
        const double rho = r1 + r2 * std::cos(b);
        return {rho * std::cos(a), rho * std::sin(a), r2 * std::sin(b)};
    }
    double area_element(double b) const { return flat ? r1 * r2 : r2 * (r1 + r2 * std::cos(b)); }
};

std::string torus_json(bool flat, std::size_t D, const std::string& extra = "") {
    return std::string("{\"variant\": \"") + (flat ? "flat" : "ring") + "\", \"ambient_dim\": " + std::to_string(D) +
           (flat ? ", \"radius_1\": 1.0, \"radius_2\": 0.7" : ", \"radius_1\": 1.2, \"radius_2\": 0.5") + extra + "}";
}
TorusModel torus_model(bool flat) { return flat ? TorusModel{true, 1.0, 0.7} : TorusModel{false, 1.2, 0.5}; }

// ---- curve ------------------------------------------------------------------------------------

// The documented curve, rebuilt from the node's streams.
struct CurveModel {
    std::size_t m, J;
    std::vector<double> a, b;
    mdlab::Isometry q;
    CurveModel(const mdlab::Context& ctx, std::size_t D, std::size_t m_, std::size_t J_, double beta, double radius)
        : m(m_), J(J_), a(J_ * m_), b(J_ * m_), q(embedding_of(ctx, D, m_)) {
        mdlab::Rng rng = ctx.stream("curve").chunk(0);
        double power = 0.0;
        for (std::size_t j = 0; j < J; ++j) {
            const double c = std::pow(double(j + 1), -(beta + 1.0));
            for (std::size_t k = 0; k < m; ++k) a[j * m + k] = c * rng.normal();
            for (std::size_t k = 0; k < m; ++k) b[j * m + k] = c * rng.normal();
            for (std::size_t k = 0; k < m; ++k) power += 0.5 * (a[j * m + k] * a[j * m + k] + b[j * m + k] * b[j * m + k]);
        }
        const double s = radius / std::sqrt(power);
        for (double& v : a) v *= s;
        for (double& v : b) v *= s;
    }
    // d-th derivative of gamma (d = 0 or 1) in R^m.
    std::vector<double> gamma(double th, int d = 0) const {
        std::vector<double> g(m, 0.0);
        for (std::size_t j = 0; j < J; ++j) {
            const double f = double(j + 1), c = std::cos(f * th), s = std::sin(f * th);
            for (std::size_t k = 0; k < m; ++k)
                g[k] += d == 0 ? a[j * m + k] * c + b[j * m + k] * s : f * (b[j * m + k] * c - a[j * m + k] * s);
        }
        return g;
    }
    std::vector<double> point(double th) const {
        std::vector<double> x(q.ambient_dim());
        q.embed_row(gamma(th).data(), x.data());
        return x;
    }
};

const char* curve_json = R"({"ambient_dim": 6, "curve_dim": 3, "modes": 16, "beta": 1.5, "radius": 1.0)";
std::string curve_params(const std::string& extra = "") { return std::string(curve_json) + extra + "}"; }

}  // namespace
