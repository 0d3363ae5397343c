// Helpers of the predictor_corrector and annealed_langevin tests: the exact output variance of
// their linear recursions on Gaussian data, the noise streams, and .npy reading.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab_test.hpp"
#include "sampler_check.hpp"

using namespace mdlab::test;
using mdlab::Matrix;

namespace {

std::shared_ptr<mdlab::ForwardProcess> make_process(const std::string& name, const std::string& json = "{}") {
    return mdlab::test::make<mdlab::ForwardProcess>(name, json);
}

double se_var(double v, std::size_t n) { return v * std::sqrt(2.0 / double(n)); }

// Variance of predictor_corrector's output for Gaussian data, as a deterministic recursion.
// Corrector: with x ~ N(0, V I), the batch means of |s| and |z| are sqrt(V) c_d / v and c_d, so
// eps = 2 a_i snr^2 v^2 / V (up to O(1/sqrt(n d)) fluctuations) and V <- (1 - eps/v)^2 V + 2 eps.
// Predictor: V <- m^2 V + g^2 h, m = 1 - h (f_rate + g^2 / v), no noise on the last step.
double pc_variance(const mdlab::ForwardProcess& p, const GaussianScore& g, const std::vector<double>& t,
                   double snr, std::size_t K, double start_variance) {
    double V = start_variance;
    const std::size_t steps = t.size() - 1;
    for (std::size_t i = 0; i < steps; ++i) {
        const double ti = t[i], h = t[i] - t[i + 1], v = g.variance(ti);
        const double a = std::pow(p.alpha(ti) / p.alpha(t[i + 1]), 2);
        for (std::size_t j = 0; j < K; ++j) {
            const double eps = 2.0 * a * snr * snr * v * v / V, r = eps / v;
            V = (1.0 - r) * (1.0 - r) * V + 2.0 * eps;
        }
        const double m = 1.0 - h * (p.drift_rate(ti) + p.g2(ti) / v);
        V = m * m * V + (i + 1 < steps ? p.g2(ti) * h : 0.0);
    }
    return V;
}

// Variance of annealed_langevin's output for Gaussian data: V <- (1 - a/(2v))^2 V + a per update.
double al_variance(const mdlab::ForwardProcess& p, const GaussianScore& g, const std::vector<double>& t,
                   std::size_t K, double epsilon, double start_variance) {
    double V = start_variance;
    const double sL = p.sigma(t.back());
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double a = epsilon * std::pow(p.sigma(t[i]) / sL, 2), v = g.variance(t[i]);
        for (std::size_t k = 0; k < K; ++k) {
            const bool last = i + 1 == t.size() && k + 1 == K;
            V = std::pow(1.0 - a / (2.0 * v), 2) * V + (last ? 0.0 : a);
        }
    }
    return V;
}

// step_noise's documented convention, re-derived: stream.child(index), one generator per chunk of
// 256 rows, values drawn row after row.
std::vector<double> noise_of(const mdlab::RandomStream& stream, std::size_t index, std::size_t n, std::size_t d) {
    const mdlab::RandomStream s = stream.child(std::to_string(index));
    std::vector<double> z(n * d);
    for (std::size_t c = 0; c * 256 < n; ++c) {
        mdlab::Rng rng = s.chunk(c);
        for (std::size_t k = c * 256 * d; k < std::min(n, (c + 1) * 256) * d; ++k) z[k] = rng.normal();
    }
    return z;
}

double mean_norm(const std::vector<double>& m, std::size_t n, std::size_t d) {
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) s += m[i * d + j] * m[i * d + j];
        total += std::sqrt(s);
    }
    return total / double(n);
}

double max_rel_diff(const Matrix& a, const std::vector<double>& b) {
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < b.size(); ++k) {
        err = std::max(err, std::abs(a.data()[k] - b[k]));
        scale = std::max(scale, std::abs(b[k]));
    }
    return err / scale;
}

// A float64 C-order .npy file of any rank: its shape and values.
struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

NpyArray read_npy(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    REQUIRE(in.good());
    char magic[10];
    in.read(magic, 10);
    REQUIRE(std::memcmp(magic, "\x93NUMPY\x01\x00", 8) == 0);
    const std::size_t len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
    std::string header(len, '\0');
    in.read(header.data(), static_cast<std::streamsize>(len));
    REQUIRE(header.find("'descr': '<f8'") != std::string::npos);
    REQUIRE(header.find("'fortran_order': False") != std::string::npos);
    NpyArray a;
    std::size_t p = header.find('(') + 1;
    const std::size_t q = header.find(')');
    while (p < q) {
        while (p < q && (header[p] == ' ' || header[p] == ',')) ++p;
        if (p >= q) break;
        std::size_t e = p;
        while (e < q && std::isdigit(static_cast<unsigned char>(header[e]))) ++e;
        a.shape.push_back(std::stoul(header.substr(p, e - p)));
        p = e;
    }
    std::size_t count = 1;
    for (std::size_t s : a.shape) count *= s;
    a.values.resize(count);
    in.read(reinterpret_cast<char*>(a.values.data()), static_cast<std::streamsize>(count * sizeof(double)));
    REQUIRE(in.gcount() == static_cast<std::streamsize>(count * sizeof(double)));
    return a;
}

std::string with_init(const std::filesystem::path& init) { return "\"init\": \"" + init.string() + "\""; }

// A double as JSON text, to the last digit (std::to_string keeps only 6 decimals).
std::string exact(double v) {
    std::ostringstream o;
    o << std::setprecision(17) << v;
    return o.str();
}

}  // namespace
