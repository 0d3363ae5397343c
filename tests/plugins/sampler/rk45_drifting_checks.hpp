// Helpers of the rk45 and drifting tests: .npy reading, an empirical score, a linear test problem.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>
#include <xtensor/xadapt.hpp>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

// The key of the InputError that f throws ("<none>" when it throws nothing or something else).
template <class F>
std::string input_error_key(F&& f) {
    try {
        f();
    } catch (const mdlab::InputError& e) {
        return e.key();
    } catch (...) {
        return "<another exception>";
    }
    return "<none>";
}

// A float64 .npy file of any rank (the SDK reader takes 1-D and 2-D only): values and shape.
std::vector<double> read_npy(const std::filesystem::path& file, std::vector<std::size_t>& shape) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in);
    char magic[8];
    in.read(magic, 8);
    REQUIRE(std::memcmp(magic, "\x93NUMPY", 6) == 0);
    REQUIRE(magic[6] == 1);
    unsigned char lb[2];
    in.read(reinterpret_cast<char*>(lb), 2);
    std::string header(std::size_t(lb[0] | (lb[1] << 8)), ' ');
    in.read(header.data(), std::streamsize(header.size()));
    REQUIRE(header.find("'<f8'") != std::string::npos);
    const auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    shape.clear();
    std::string dims = header.substr(open + 1, close - open - 1);
    for (std::size_t p = 0; p < dims.size();) {
        const std::size_t q = dims.find(',', p);
        const std::string tok = dims.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (tok.find_first_of("0123456789") != std::string::npos) shape.push_back(std::stoul(tok));
        if (q == std::string::npos) break;
        p = q + 1;
    }
    const std::size_t count = std::accumulate(shape.begin(), shape.end(), std::size_t(1), std::multiplies<>());
    std::vector<double> values(count);
    in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * sizeof(double)));
    REQUIRE(in);
    return values;
}

std::string with_init(const std::filesystem::path& p) { return "\"init\": \"" + p.string() + "\""; }

// A process with alpha = 1 and sigma = 2 t on [0, 1.5], so lambda = sigma / alpha = 2 t.
class LinearNsr : public mdlab::ForwardProcess {
public:
    double t_end() const override { return 1.5; }
    double alpha(double) const override { return 1.0; }
    double sigma(double t) const override { return 2.0 * t; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 2.0; }
};

// s(x, t) = -x / sigma^2: the PF-ODE in (u = log(sigma / alpha), xh = x / alpha), which rk45
// integrates, becomes d xh / du = -lambda sigma s = xh, i.e. y' = -y in the direction of
// integration (u decreasing).
class LinearScore : public mdlab::ScoreEstimator {
public:
    explicit LinearScore(std::shared_ptr<const mdlab::ForwardProcess> p) : p_(std::move(p)) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return 1; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    void score(const Matrix& x, double t, Matrix& out) const override {
        out = x * (-1.0 / (p_->sigma(t) * p_->sigma(t)));
    }

private:
    std::shared_ptr<const mdlab::ForwardProcess> p_;
};

std::shared_ptr<mdlab::ScoreEstimator> empirical_score(std::shared_ptr<const Matrix> data,
                                                       std::shared_ptr<const mdlab::ForwardProcess> proc) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("empirical");
    mdlab::Inputs in;
    in.set("data", std::move(data));
    in.set("process", std::move(proc));
    mdlab::test::TestContext ctx(7);
    est->prepare(in, ctx);
    return est;
}

// Max over coordinates of |x - exact| / (atol + rtol |exact|): the final error in units of the
// requested tolerance.
double error_in_tolerances(const Matrix& x, const Matrix& exact, double tol) {
    double worst = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k)
        worst = std::max(worst, std::abs(x.data()[k] - exact.data()[k]) / (tol + tol * std::abs(exact.data()[k])));
    return worst;
}

}  // namespace
