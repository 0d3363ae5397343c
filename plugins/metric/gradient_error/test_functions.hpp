// The test functions phi_1..phi_L of gradient_error (see gradient_error.cpp for the estimator):
// random Fourier features or monomials, drawn once per run and reused at every time, and the
// pairs of gradient entries that share a coordinate (the sparsity of G).
#pragma once
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include <mdlab/mdlab.hpp>

namespace gradient_error_detail {

constexpr double two_pi = 6.283185307179586476925286766559;

struct Monomial {
    std::vector<std::size_t> var;  // distinct variables with a positive exponent
    std::vector<int> exp;
};

// Number of monomials of total degree 1..deg in p variables: C(p + deg, deg) - 1.
inline double monomial_count(std::size_t p, std::size_t deg) {
    double c = 1.0;
    for (std::size_t k = 1; k <= deg; ++k) c = c * double(p + k) / double(k);
    return std::round(c) - 1.0;
}

// All monomials of total degree 1..deg in p variables, by degree, then lexicographically.
inline std::vector<Monomial> monomials(std::size_t p, std::size_t deg) {
    std::vector<Monomial> out;
    std::vector<int> e(p, 0);
    // Recursive enumeration of exponent vectors with a given total.
    auto rec = [&](auto&& self, std::size_t v, int left) -> void {
        if (v + 1 == p) {
            e[v] = left;
            Monomial m;
            for (std::size_t k = 0; k < p; ++k)
                if (e[k] > 0) m.var.push_back(k), m.exp.push_back(e[k]);
            out.push_back(std::move(m));
            e[v] = 0;
            return;
        }
        for (int k = left; k >= 0; --k) {
            e[v] = k;
            self(self, v + 1, left - k);
        }
        e[v] = 0;
    };
    for (std::size_t d = 1; d <= deg; ++d) rec(rec, 0, int(d));
    return out;
}

// `p` random orthonormal directions in R^d as the columns of a row-major d x p matrix:
// Gram-Schmidt (twice) of Gaussian vectors, redrawn when one is (nearly) in the span of the rest.
inline std::vector<double> random_orthonormal_columns(mdlab::Rng& rng, std::size_t d, std::size_t p) {
    std::vector<double> r(d * p, 0.0);
    for (std::size_t c = 0; c < p; ++c) {
        for (;;) {
            for (std::size_t a = 0; a < d; ++a) r[a * p + c] = rng.normal();
            for (int pass = 0; pass < 2; ++pass)
                for (std::size_t c2 = 0; c2 < c; ++c2) {
                    double dot = 0.0;
                    for (std::size_t a = 0; a < d; ++a) dot += r[a * p + c] * r[a * p + c2];
                    for (std::size_t a = 0; a < d; ++a) r[a * p + c] -= dot * r[a * p + c2];
                }
            double nrm = 0.0;
            for (std::size_t a = 0; a < d; ++a) nrm += r[a * p + c] * r[a * p + c];
            if (nrm > 1e-12) {
                nrm = std::sqrt(nrm);
                for (std::size_t a = 0; a < d; ++a) r[a * p + c] /= nrm;
                break;
            }
        }
    }
    return r;
}

struct TestFunctions {
    bool fourier = true;
    std::size_t L = 0;  // number of test functions
    std::size_t D = 0;  // ambient dimension
    std::size_t P = 0;  // polynomial: number of projected coordinates u
    std::size_t E = 1;  // stored gradient entries per function (polynomial: one per variable, up to degree)
    std::size_t degree = 0;
    std::vector<double> z, phase;  // fourier: z (L x D), phase (L)
    std::vector<double> proj;      // polynomial: R (D x P), or empty for R = I
    std::vector<Monomial> mono;    // polynomial
    // Pairs of gradient entries that share a coordinate, per function pair (j, k <= j), in CSR
    // form: G_jk = mult_jk * sum_draws sum_pairs q_ja q_kb.
    std::vector<std::size_t> pair_off;
    std::vector<std::pair<unsigned, unsigned>> pairs;
};

inline void index_shared_coordinates(TestFunctions& tf) {
    const std::size_t L = tf.L;
    tf.pair_off.assign(L * (L + 1) / 2 + 1, 0);
    tf.pairs.clear();
    for (std::size_t j = 0, idx = 0; j < L; ++j)
        for (std::size_t k = 0; k <= j; ++k, ++idx) {
            if (tf.fourier) tf.pairs.emplace_back(0u, 0u);
            else
                for (std::size_t a = 0; a < tf.mono[j].var.size(); ++a)
                    for (std::size_t b = 0; b < tf.mono[k].var.size(); ++b)
                        if (tf.mono[j].var[a] == tf.mono[k].var[b]) tf.pairs.emplace_back(unsigned(a), unsigned(b));
            tf.pair_off[idx + 1] = tf.pairs.size();
        }
}

// phi_j = cos(w_j . x + c_j) with w_j = z_j / ell(t): z_j ~ N(0, I_D), c_j ~ U[0, 2 pi).
inline TestFunctions fourier_functions(mdlab::Rng& rng, std::size_t features, std::size_t d) {
    TestFunctions tf;
    tf.L = features;
    tf.D = d;
    tf.P = d;
    tf.z.resize(tf.L * d);
    tf.phase.resize(tf.L);
    for (auto& v : tf.z) v = rng.normal();
    for (auto& v : tf.phase) v = two_pi * rng.uniform();
    index_shared_coordinates(tf);
    return tf;
}

// Monomials of total degree 1..degree in the D coordinates when at most `features` of them,
// otherwise in P random orthonormal projections, P the largest number whose monomials fit.
inline TestFunctions polynomial_functions(mdlab::Rng& rng, std::size_t features, std::size_t degree, std::size_t d) {
    TestFunctions tf;
    tf.fourier = false;
    tf.D = d;
    tf.P = d;
    tf.degree = degree;
    if (monomial_count(d, degree) > double(features)) {
        tf.P = 1;
        while (tf.P + 1 < d && monomial_count(tf.P + 1, degree) <= double(features)) ++tf.P;
        tf.proj = random_orthonormal_columns(rng, d, tf.P);
    }
    tf.mono = monomials(tf.P, degree);
    tf.L = tf.mono.size();
    tf.E = degree;
    index_shared_coordinates(tf);
    return tf;
}

}  // namespace gradient_error_detail
