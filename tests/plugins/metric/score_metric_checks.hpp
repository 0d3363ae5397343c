// Helpers of the score_error and gradient_error tests: exact and perturbed Gaussian scores, and
// the metrics run through the registry.
#pragma once
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/global_control.h>

#include <mdlab/mdlab.hpp>

#include "csv.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "metric_value.hpp"

using mdlab::Matrix;
using mdlab::test::GaussianScore;

namespace {

constexpr double pi = 3.14159265358979323846;

// N(0, v I_D) as a (full-dimensional) data manifold.
class GaussManifold : public mdlab::Manifold {
public:
    GaussManifold(std::size_t d, double v) : d_(d), s_(std::sqrt(v)) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return d_; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        for (std::size_t k = 0; k < count * d_; ++k) out[k] = s_ * rng.normal();
    }
    Matrix project(const Matrix& x) const override { return x; }
    Matrix intrinsic_coords(const Matrix& x) const override { return x; }

private:
    std::size_t d_;
    double s_;
};

// s_hat = (1 + eps) s_true: the error eps s_true is a gradient field.
class ScaledScore : public GaussianScore {
public:
    ScaledScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double s0, double eps)
        : GaussianScore(std::move(p), d, s0), eps_(eps) {}
    void score(const Matrix& x, double t, Matrix& out) const override {
        GaussianScore::score(x, t, out);
        out *= 1.0 + eps_;
    }

private:
    double eps_;
};

// s_hat = s_true + eps J s_true, J the 90-degree rotation in the planes (0,1), (2,3), ...
// (D even: J antisymmetric with J^2 = -I, so |J s| = |s|). Divergence-free w.r.t. p_t.
class RotatedScore : public GaussianScore {
public:
    RotatedScore(std::shared_ptr<const mdlab::ForwardProcess> p, std::size_t d, double s0, double eps)
        : GaussianScore(std::move(p), d, s0), eps_(eps) {}
    void score(const Matrix& x, double t, Matrix& out) const override {
        GaussianScore::score(x, t, out);
        for (std::size_t i = 0; i < mdlab::rows(x); ++i)
            for (std::size_t a = 0; a + 1 < mdlab::cols(x); a += 2) {
                const double u = out(i, a), w = out(i, a + 1);
                out(i, a) = u - eps_ * w;
                out(i, a + 1) = w + eps_ * u;
            }
    }

private:
    double eps_;
};

struct Setup {
    std::size_t d = 4;
    double v = 0.25;  // data variance
    std::shared_ptr<const mdlab::ForwardProcess> proc = mdlab::test::make<mdlab::ForwardProcess>("vp");
    std::shared_ptr<const mdlab::Manifold> manifold = std::make_shared<GaussManifold>(d, v);
    std::shared_ptr<const GaussianScore> exact = std::make_shared<GaussianScore>(proc, d, std::sqrt(v));
    double V(double t) const {
        const double a = proc->alpha(t), s = proc->sigma(t);
        return a * a * v + s * s;
    }
};

struct Run {
    mdlab::Values values;
    std::vector<mdlab::test::CsvRow> curve;
    std::string curve_text;
};

Run run_metric(const std::string& name, const std::string& params, std::shared_ptr<const mdlab::ScoreEstimator> score,
               std::shared_ptr<const mdlab::ScoreEstimator> oracle, const Setup& s, std::uint64_t seed = 7) {
    auto metric = mdlab::test::make<mdlab::Metric>(name, params);
    mdlab::Inputs in;
    in.set("score", std::move(score));
    if (oracle) in.set("oracle", std::move(oracle));
    in.set("manifold", s.manifold);
    mdlab::test::TestContext ctx(seed, "node");
    Run r;
    r.values = metric->evaluate(in, ctx);
    std::ifstream f(ctx.output_dir() / ("node." + name + ".csv"));
    std::stringstream ss;
    ss << f.rdbuf();
    r.curve_text = ss.str();
    r.curve = mdlab::test::parse_csv(r.curve_text);
    return r;
}

using mdlab::test::value;
bool has_value(const mdlab::Values& v, const std::string& key) {
    for (const auto& kv : v)
        if (kv.first == key) return true;
    return false;
}
double num(const mdlab::test::CsvRow& r, const std::string& key) {
    auto it = r.find(key);
    REQUIRE(it != r.end());
    return std::stod(it->second);
}

// The key of the first diagnostic of a parameter the registry refused.
std::string bad_param_key(const std::string& name, const std::string& params) {
    try {
        mdlab::test::make<mdlab::Metric>(name, params);
    } catch (const mdlab::runtime::BadInput& e) {
        return e.diagnostics().at(0).key;
    } catch (const mdlab::InputError& e) {
        return e.key();
    }
    return "(accepted)";
}

// The key of the InputError an evaluation throws.
std::string eval_error_key(const std::string& name, const std::string& params, std::shared_ptr<const mdlab::ScoreEstimator> score,
                           std::shared_ptr<const mdlab::ScoreEstimator> oracle, const Setup& s, std::string* message = nullptr) {
    try {
        run_metric(name, params, std::move(score), std::move(oracle), s);
    } catch (const mdlab::InputError& e) {
        if (message) *message = e.what();
        return e.key();
    }
    return "(accepted)";
}

}  // namespace
