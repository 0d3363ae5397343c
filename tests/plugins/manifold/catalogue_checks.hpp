// Helpers of the swiss_roll, linear_subspace, gaussian_mixture and dataset tests: goodness-of-fit
// statistics, the documented densities, refusal checks and data files.
#pragma once
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
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
using mdlab::test::chi2_19_999;
using mdlab::test::embedding_of;
using mdlab::test::gaussian_points;
using mdlab::test::identical;
using mdlab::test::max_abs_diff;
using mdlab::test::pi;
using mdlab::test::prepared;
using mdlab::test::row_dist;

// Pearson chi-square of values in [0, 1) against the density pdf on [0, 1), `bins` equal bins
// (bin probabilities by composite Simpson, 200 panels per bin).
template <class Pdf>
double chi_square(const std::vector<double>& v, Pdf pdf, std::size_t bins) {
    std::vector<double> count(bins, 0.0);
    for (double x : v) {
        REQUIRE(x >= 0.0);
        REQUIRE(x <= 1.0);
        count[std::min<std::size_t>(static_cast<std::size_t>(x * static_cast<double>(bins)), bins - 1)] += 1.0;
    }
    double chi2 = 0.0;
    for (std::size_t b = 0; b < bins; ++b) {
        const double lo = static_cast<double>(b) / static_cast<double>(bins), w = 1.0 / static_cast<double>(bins);
        const int panels = 200;
        const double h = w / panels;
        double s = pdf(lo) + pdf(lo + w);
        for (int i = 1; i < panels; ++i) s += (i % 2 ? 4.0 : 2.0) * pdf(lo + i * h);
        const double expected = static_cast<double>(v.size()) * s * h / 3.0;
        chi2 += (count[b] - expected) * (count[b] - expected) / expected;
    }
    return chi2;
}
constexpr double chi2_49_999 = 85.351;  // upper 0.1% point, 49 degrees of freedom

// Kolmogorov-Smirnov statistic sqrt(n) sup |F_n - F|; below 1.949 with probability 0.999.
template <class Cdf>
double ks_statistic(std::vector<double> v, Cdf cdf) {
    std::sort(v.begin(), v.end());
    const double n = static_cast<double>(v.size());
    double d = 0.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double f = cdf(v[i]);
        d = std::max({d, std::abs(f - static_cast<double>(i) / n), std::abs(static_cast<double>(i + 1) / n - f)});
    }
    return std::sqrt(n) * d;
}
constexpr double ks_999 = 1.949;

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// The densities of the coordinate u in [0, 1), written out from their documented formulas.
double irregular_pdf(double u) { return (0.25 + std::abs(std::sin(2.0 * pi * u))) / (0.25 + 2.0 / pi); }
double von_mises_pdf(double u, double kappa, double mode) {
    return std::exp(kappa * std::cos(2.0 * pi * (u - mode))) / std::cyl_bessel_i(0.0, kappa);
}

// Expects `make` of a plugin with these params to throw an InputError with this key whose
// message contains every string in `parts`.
void expect_input_error(const std::string& name, const std::string& json, const std::string& key,
                        const std::vector<std::string>& parts = {}) {
    INFO(name << " " << json);
    try {
        mdlab::test::TestContext ctx(1);
        prepared(name, json, ctx);
        FAIL("accepted");
    } catch (const mdlab::InputError& e) {
        CHECK(e.key() == key);
        for (const auto& p : parts) CHECK_THAT(std::string(e.what()), Catch::Contains(p));
    }
}

// ---- swiss roll: s (t cos t, h, t sin t) in the 3-subspace of Q --------------------------------

struct Roll {
    double t0 = 1.5 * pi, t1 = 4.5 * pi, height = 21.0, s = 1.0 / (4.5 * pi);
    mdlab::Isometry q;
    void point(double t, double h, double* x) const {
        const double c[3] = {s * t * std::cos(t), s * h, s * t * std::sin(t)};
        q.embed_row(c, x);
    }
};

}  // namespace

// ---- dataset -----------------------------------------------------------------------------------

namespace {
std::string json_path(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

void write_text(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

std::string csv_of(const Matrix& m, const std::string& header) {
    std::string s = header.empty() ? "" : header + "\r\n";
    s += "# a comment line, skipped\n\n";
    char buf[64];
    for (std::size_t i = 0; i < mdlab::rows(m); ++i) {
        for (std::size_t j = 0; j < mdlab::cols(m); ++j) {
            std::snprintf(buf, sizeof buf, "%.17g", m(i, j));
            s += (j ? ", " : "") + std::string(buf);
        }
        s += i % 2 ? "\r\n" : "\n";
    }
    return s;
}
}  // namespace
