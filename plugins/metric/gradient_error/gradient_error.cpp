// gradient_error: the part of a score error that moves the distribution (SCIENCE.md §4,
// Helmholtz-Hodge; claim 2 of §5).
//
// In L^2(p_t) the error e = s_hat - s_true splits into grad(phi) plus a field v with
// div(p_t v) = 0; only grad(phi) changes the marginals of the generated law. The squared norm
// of the gradient part is sup_psi E_p[e . grad psi]^2 / E_p|grad psi|^2. Restricting psi to the
// span of test functions phi_1..phi_L gives
//
//   gradient(t) = b^T (G + r I)^{-1} b,  b_j = E_p[e . grad phi_j],  G_jk = E_p[grad phi_j . grad phi_k],
//
// estimated by Monte Carlo over x ~ p_t (mdlab/noised_draws.hpp). Two forms of b:
//  - oracle: e = s_hat - s_oracle with the true score from the `oracle` input;
//  - stein (oracle-free): Stein's identity E_p[s_true . grad phi] = -E_p[laplacian phi] gives
//    b_j = E_p[s_hat . grad phi_j + laplacian phi_j], which needs only samples of p_t.
// Test functions:
//  - fourier: phi_j = cos(w_j . x + c_j), w_j = z_j / ell(t), z_j ~ N(0, I_D), c_j ~ U[0, 2 pi)
//    (drawn once, rescaled per time); grad phi_j = -sin(.) w_j, laplacian phi_j = -|w_j|^2 cos(.).
//    ell(t) = bandwidth * (median pairwise distance of the first min(n, 512) draws at t): the
//    median heuristic, so w_j . (x - x') is of order one across the sample at every t.
//  - polynomial: monomials of total degree 1..degree in u = R^T (x - m) / s, m the sample mean, s
//    the root-mean-square of the centred projected coordinates, R = I (the D coordinates) when
//    their C(D + degree, degree) - 1 monomials fit in `features`, otherwise R = P random
//    orthonormal directions with P the largest number whose monomials fit. Centring and scaling
//    only condition G: the span of the gradients is that of all polynomials of degree <= degree.
// The time average weights each grid time by lambda(t) = sigma(t)^2 and gives every grid time the
// same weight (a mean rule over the chosen grid). Per-time values go to <node>.gradient_error.csv.
//
// Estimator and its bias. b and G come from the same n draws. In the oracle form this makes
// gradient(t) the squared empirical-L^2 norm of the least-squares projection of e onto the span
// of the grad phi_j (ridge aside), so 0 <= gradient <= l2 always holds; splitting the draws would
// lose that and not remove the bias. The estimate is biased upwards: with b of pure noise,
// E[b^T G^{-1} b] = trace(G^{-1} Cov(beta)) / n, beta_j = the per-draw summand of b_j, about L / n
// times the per-draw variance. `noise_floor` is that trace from the sample covariance of beta: a
// gradient figure within a few noise floors of zero is indistinguishable from zero. The Stein
// form's summands include laplacian phi, whose variance does not shrink with the error, so its
// floor is of order L / (n D) E|s|^2 rather than L / (n D) E|e|^2.
// Restricting psi to L test functions makes the population value a lower bound of the full
// gradient part (exact when the span contains the potential, e.g. quadratics for Gaussians).
//
// KL bounds (claim 2 (ii), arXiv 2606.06179): for the reverse SDE driven by s_hat from the same
// prior, d/dt KL(p_t || q_t) involves e only through E_p[e . grad log(p_t / q_t)], a pairing with a
// gradient, so only grad(phi_t) enters and
//   KL(p_t0 || q_t0) <= KL(p_T || q_T) + (1/2) int_t0^T g(t)^2 |grad phi_t|^2_{L2(p_t)} dt   (kl_bound),
// against Girsanov's (1/2) int g^2 E_p|e|^2 dt over path space (girsanov_bound) >= kl_bound.
// The integrals run over the metric's grid [t_min, t_max] by the trapezoidal rule in log t (of
// g^2 X t, exact for X ~ 1 / t, the small-t behaviour of score errors); kl_bound_stein uses the
// Stein estimate, kl_bound_floor the noise floor (the bound cannot be told from it below that).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Cholesky>

#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>
#include <mdlab/stats.hpp>

#include "test_functions.hpp"

namespace {

using mdlab::Matrix;
using gradient_error_detail::Monomial;
using gradient_error_detail::TestFunctions;
constexpr std::size_t block_rows = 512;
using Square = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Form { oracle, stein, both };

// The test functions at one time: their length scale and what depends on it.
struct Scaling {
    double scale = 0.0;  // fourier: median pairwise distance of the draws; polynomial: rms of the centred u
    std::vector<double> w, wn2, mult, center;  // fourier: w (L x D), |w_j|^2, mult_jk = w_j . w_k; polynomial: the mean m
    Scaling(std::size_t L, std::size_t D) : w(L * D), wn2(L), mult(L * L, 1.0), center(D, 0.0) {}
};

// fourier: ell = bandwidth x the median pairwise distance of the first min(n, 512) draws, and w_j = z_j / ell.
void scale_fourier(const TestFunctions& tf, const Matrix& x, double bandwidth, Scaling& sc) {
    const std::size_t n = mdlab::rows(x), D = tf.D, L = tf.L;
    const std::size_t m = std::min<std::size_t>(n, 512);
    std::vector<double> dist;
    dist.reserve(m * (m - 1) / 2);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t k = 0; k < i; ++k) {
            double s = 0.0;
            for (std::size_t a = 0; a < D; ++a) s += (x(i, a) - x(k, a)) * (x(i, a) - x(k, a));
            dist.push_back(std::sqrt(s));
        }
    sc.scale = mdlab::stats::median(dist);
    if (!(sc.scale > 0.0)) return;
    const double ell = bandwidth * sc.scale;
    for (std::size_t k = 0; k < L * D; ++k) sc.w[k] = tf.z[k] / ell;
    for (std::size_t j = 0; j < L; ++j) {
        for (std::size_t k = 0; k < L; ++k) {
            double d = 0.0;
            for (std::size_t a = 0; a < D; ++a) d += sc.w[j * D + a] * sc.w[k * D + a];
            sc.mult[j * L + k] = d;
        }
        sc.wn2[j] = sc.mult[j * L + j];
    }
}

// polynomial: m = the sample mean, s = the root-mean-square of the centred projected coordinates.
void scale_polynomial(const TestFunctions& tf, const Matrix& x, Scaling& sc) {
    const std::size_t n = mdlab::rows(x), D = tf.D, P = tf.P;
    for (std::size_t a = 0; a < D; ++a) {
        double s = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += x(i, a);
        sc.center[a] = s / double(n);
    }
    double ss = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < P; ++c) {
            double u = 0.0;
            if (tf.proj.empty()) u = x(i, c) - sc.center[c];
            else
                for (std::size_t a = 0; a < D; ++a) u += tf.proj[a * P + c] * (x(i, a) - sc.center[a]);
            ss += u * u;
        }
    sc.scale = std::sqrt(ss / double(n * P));
}

// The draws at one time and the scores there (s_true is read only for the oracle form).
struct Draws {
    const Matrix& x;
    const Matrix& s_hat;
    const Matrix& s_true;
    bool want_o;
};

// Per-draw outputs of draw i: the gradient entries q (L x E) and the summands of b, oracle and Stein.
struct DrawRow {
    double* q;
    double* bo;
    double* bs;
};

void fourier_draw(const TestFunctions& tf, const Scaling& sc, const Draws& d, std::size_t i, DrawRow out) {
    const std::size_t D = tf.D;
    for (std::size_t j = 0; j < tf.L; ++j) {
        const double* wj = sc.w.data() + j * D;
        // Separate loops per form keep the Stein figures bit-identical whether or not the oracle
        // form is computed beside them.
        double arg = tf.phase[j], ew = 0.0, sw = 0.0;
        for (std::size_t a = 0; a < D; ++a) {
            arg += wj[a] * d.x(i, a);
            sw += wj[a] * d.s_hat(i, a);
        }
        if (d.want_o)
            for (std::size_t a = 0; a < D; ++a) ew += wj[a] * (d.s_hat(i, a) - d.s_true(i, a));
        const double sn = std::sin(arg), cs = std::cos(arg);
        out.q[j] = -sn;  // grad phi_j = -sin(.) w_j
        out.bo[j] = -sn * ew;
        out.bs[j] = -sn * sw - sc.wn2[j] * cs;  // + laplacian phi_j
    }
}

// Per-thread work space of polynomial_draw.
struct PolynomialScratch {
    std::vector<double> u, eu, su, pw;  // u, the error and s_hat in u-coordinates, powers u_c^k
    explicit PolynomialScratch(std::size_t P) : u(P), eu(P), su(P) {}
};

void polynomial_draw(const TestFunctions& tf, const Scaling& sc, const Draws& d, std::size_t i, DrawRow out,
                     PolynomialScratch& w) {
    const std::size_t D = tf.D, P = tf.P, E = tf.E, deg = tf.degree;
    const double scale = sc.scale;
    // u = R^T (x - m) / s; gradients in x are R grad_u / s, laplacians laplacian_u / s^2 (R has
    // orthonormal columns).
    for (std::size_t c = 0; c < P; ++c) {
        double uc = 0.0, ec = 0.0, sc_ = 0.0;
        if (tf.proj.empty()) {
            uc = d.x(i, c) - sc.center[c];
            sc_ = d.s_hat(i, c);
            if (d.want_o) ec = d.s_hat(i, c) - d.s_true(i, c);
        } else {
            for (std::size_t a = 0; a < D; ++a) {
                const double ra = tf.proj[a * P + c];
                uc += ra * (d.x(i, a) - sc.center[a]);
                sc_ += ra * d.s_hat(i, a);
            }
            if (d.want_o)
                for (std::size_t a = 0; a < D; ++a) ec += tf.proj[a * P + c] * (d.s_hat(i, a) - d.s_true(i, a));
        }
        w.u[c] = uc / scale;
        w.eu[c] = ec / scale;
        w.su[c] = sc_ / scale;
    }
    // Powers u_c^k, k = 0..degree.
    w.pw.assign(P * (deg + 1), 1.0);
    for (std::size_t c = 0; c < P; ++c)
        for (std::size_t k = 1; k <= deg; ++k) w.pw[c * (deg + 1) + k] = w.pw[c * (deg + 1) + k - 1] * w.u[c];
    auto power = [&](std::size_t c, int k) { return k < 0 ? 0.0 : w.pw[c * (deg + 1) + std::size_t(k)]; };
    for (std::size_t j = 0; j < tf.L; ++j) {
        const Monomial& mj = tf.mono[j];
        const std::size_t nv = mj.var.size();
        double go = 0.0, gs = 0.0, lap = 0.0;
        for (std::size_t a = 0; a < E; ++a) out.q[j * E + a] = 0.0;
        for (std::size_t a = 0; a < nv; ++a) {
            double rest = 1.0;  // product of the other factors
            for (std::size_t b = 0; b < nv; ++b)
                if (b != a) rest *= power(mj.var[b], mj.exp[b]);
            const int k = mj.exp[a];
            const std::size_t c = mj.var[a];
            const double d1 = k * power(c, k - 1) * rest;
            out.q[j * E + a] = d1 / scale;
            go += d1 * w.eu[c];
            gs += d1 * w.su[c];
            lap += k * (k - 1) * power(c, k - 2) * rest;
        }
        out.bo[j] = go;
        out.bs[j] = gs + lap / (scale * scale);
    }
}

// Per-draw values of one block of at most block_rows draws.
struct Block {
    std::vector<double> q, beta_o, beta_s;
    explicit Block(const TestFunctions& tf)
        : q(block_rows * tf.L * tf.E), beta_o(block_rows * tf.L), beta_s(block_rows * tf.L) {}
    DrawRow row(std::size_t r, std::size_t L, std::size_t E) {
        return {q.data() + r * L * E, beta_o.data() + r * L, beta_s.data() + r * L};
    }
};

// Sums over draws at one time: G (before the multiplier), b and the second moments of the
// per-draw summands beta of b, for the oracle and Stein forms.
struct Sums {
    std::size_t L;
    std::vector<double> g, bo, bs, co, cs;
    explicit Sums(std::size_t l) : L(l), g(l * l, 0.0), bo(l, 0.0), bs(l, 0.0), co(l * l, 0.0), cs(l * l, 0.0) {}
};

// Adds a block of B draws to the sums, one task per function j, each (j, k) summed over draws
// in order: bit-identical for any thread count.
void add_block(const TestFunctions& tf, const Block& blk, std::size_t B, bool want_o, bool want_s, Sums& sums) {
    const std::size_t L = tf.L, E = tf.E;
    mdlab::for_chunks(L, 1, [&](std::size_t, std::size_t j, std::size_t) {
        std::size_t idx = j * (j + 1) / 2;
        for (std::size_t k = 0; k <= j; ++k, ++idx) {
            double g = 0.0, co = 0.0, cs = 0.0;
            const std::size_t p0 = tf.pair_off[idx], p1 = tf.pair_off[idx + 1];
            for (std::size_t r = 0; r < B; ++r) {
                const double* qr = blk.q.data() + r * L * E;
                for (std::size_t p = p0; p < p1; ++p) g += qr[j * E + tf.pairs[p].first] * qr[k * E + tf.pairs[p].second];
            }
            if (want_o)
                for (std::size_t r = 0; r < B; ++r) co += blk.beta_o[r * L + j] * blk.beta_o[r * L + k];
            if (want_s)
                for (std::size_t r = 0; r < B; ++r) cs += blk.beta_s[r * L + j] * blk.beta_s[r * L + k];
            sums.g[j * L + k] += g;
            sums.co[j * L + k] += co;
            sums.cs[j * L + k] += cs;
        }
        double bo = 0.0, bs = 0.0;
        for (std::size_t r = 0; r < B; ++r) {
            bo += blk.beta_o[r * L + j];
            bs += blk.beta_s[r * L + j];
        }
        sums.bo[j] += bo;
        sums.bs[j] += bs;
    });
}

// Adds |s_hat - s_true|^2 of rows b0..b0+B to err2, row by row (one running sum over all
// blocks, so the result does not depend on block_rows).
void add_squared_error(const Matrix& s_hat, const Matrix& s_true, std::size_t b0, std::size_t B, double& err2) {
    for (std::size_t r = 0; r < B; ++r) {
        double e2 = 0.0;
        for (std::size_t a = 0; a < mdlab::cols(s_hat); ++a) {
            const double v = s_hat(b0 + r, a) - s_true(b0 + r, a);
            e2 += v * v;
        }
        err2 += e2;
    }
}

// A = G + r I with G_jk = mult_jk * sums.g_jk / n and r = ridge * trace(G) / L (lower triangle
// of the sums mirrored).
Square ridged_gram(const Sums& sums, const std::vector<double>& mult, std::size_t n, double ridge) {
    const std::size_t L = sums.L;
    Square a(L, L);
    double trace = 0.0;
    for (std::size_t j = 0; j < L; ++j)
        for (std::size_t k = 0; k <= j; ++k) {
            const double g = mult[j * L + k] * sums.g[j * L + k] / double(n);
            a(j, k) = a(k, j) = g;
            if (j == k) trace += g;
        }
    const double r = ridge * trace / double(L);
    for (std::size_t j = 0; j < L; ++j) a(j, j) += r;
    return a;
}

// b^T A^{-1} b = |C^{-1} b|^2 with A = C C^T (C from the Cholesky factor `llt`).
double quad_form(const Eigen::LLT<Square>& llt, const std::vector<double>& b) {
    return llt.matrixL().solve(Eigen::Map<const Eigen::VectorXd>(b.data(), Eigen::Index(b.size()))).squaredNorm();
}

// trace(A^{-1} S) = trace(C^{-1} S C^{-T}) for symmetric S (row-major n x n).
double trace_inv(const Eigen::LLT<Square>& llt, const std::vector<double>& s) {
    const Eigen::Index n = llt.rows();
    const Square m = llt.matrixL().solve(Eigen::Map<const Square>(s.data(), n, n));  // C^{-1} S
    return llt.matrixL().solve(m.transpose()).trace();                               // C^{-1} S C^{-T}
}

struct Figures {
    double gradient = 0.0, floor = 0.0;
};

// gradient = b^T A^{-1} b with b = bsum / n, and its noise floor trace(A^{-1} Cov(beta)) / n.
Figures gradient_part(const Eigen::LLT<Square>& llt, const std::vector<double>& bsum, const std::vector<double>& csum,
                      std::size_t n) {
    const std::size_t L = bsum.size();
    const double dn = double(n);
    std::vector<double> b(L), cov(L * L);
    for (std::size_t j = 0; j < L; ++j) b[j] = bsum[j] / dn;
    for (std::size_t j = 0; j < L; ++j)
        for (std::size_t k = 0; k <= j; ++k)
            cov[j * L + k] = cov[k * L + j] = (csum[j * L + k] - dn * b[j] * b[k]) / (dn - 1.0);
    return {quad_form(llt, b), std::max(0.0, trace_inv(llt, cov) / dn)};
}

// What one grid time gives.
struct AtTime {
    double scale = 0.0, l2 = 0.0;
    Figures oracle, stein;
};

// The time averages (weights lambda(t)) and, per time, g(t)^2 times the figures for the KL bounds.
struct Totals {
    double l2 = 0.0, go = 0.0, fo = 0.0, gs = 0.0, fs = 0.0;
    std::vector<double> bound_go, bound_gs, bound_fo, bound_l2;

    void add(const AtTime& at, double lam, double g2, bool want_o) {
        l2 += lam * at.l2;
        go += lam * at.oracle.gradient;
        fo += lam * at.oracle.floor;
        gs += lam * at.stein.gradient;
        fs += lam * at.stein.floor;
        bound_go.push_back(g2 * at.oracle.gradient);
        bound_gs.push_back(g2 * at.stein.gradient);
        bound_fo.push_back(g2 * (want_o ? at.oracle.floor : at.stein.floor));
        bound_l2.push_back(g2 * at.l2);
    }
};

// (1/2) int g^2 X dt over the grid by the trapezoidal rule in log t (NaN on a one-time grid).
double half_integral(const std::vector<double>& times, const std::vector<double>& f) {
    if (times.size() < 2) return double(NAN);
    double sum = 0.0;
    for (std::size_t i = 0; i + 1 < times.size(); ++i)
        sum += 0.5 * (f[i] * times[i] + f[i + 1] * times[i + 1]) * std::log(times[i + 1] / times[i]);
    return 0.5 * sum;
}

// Columns of <node>.gradient_error.csv.
std::vector<std::string> curve_header(Form form, bool has_oracle) {
    const bool want_o = form != Form::stein, want_s = form != Form::oracle;
    std::vector<std::string> header{"t", "alpha", "sigma", "lambda", "scale"};
    if (has_oracle) header.push_back("l2");
    if (want_o) header.insert(header.end(), {"gradient", "noise_floor"});
    if (want_s) header.insert(header.end(), {form == Form::both ? "gradient_stein" : "gradient",
                                             form == Form::both ? "noise_floor_stein" : "noise_floor"});
    return header;
}

// The metric's values from the totals over the grid.
mdlab::Values summary_values(const Totals& tot, const std::vector<double>& times, Form form, bool has_oracle,
                             std::size_t L) {
    const bool want_o = form != Form::stein, want_s = form != Form::oracle;
    const double m = double(times.size());
    const double gradient = (want_o ? tot.go : tot.gs) / m, floor = (want_o ? tot.fo : tot.fs) / m;
    mdlab::Values out{{"gradient", gradient}};
    if (has_oracle) {
        const double l2 = tot.l2 / m;
        out.emplace_back("l2", l2);
        out.emplace_back("gradient_fraction", l2 > 0.0 ? gradient / l2 : NAN);
    }
    out.emplace_back("noise_floor", floor);
    if (form == Form::both) {
        out.emplace_back("gradient_stein", tot.gs / m);
        out.emplace_back("noise_floor_stein", tot.fs / m);
    }
    out.emplace_back("features", double(L));
    if (want_o) out.emplace_back("kl_bound", half_integral(times, tot.bound_go));
    if (want_s) out.emplace_back(want_o ? "kl_bound_stein" : "kl_bound", half_integral(times, tot.bound_gs));
    out.emplace_back("kl_bound_floor", half_integral(times, tot.bound_fo));
    if (has_oracle) out.emplace_back("girsanov_bound", half_integral(times, tot.bound_l2));
    return out;
}

class GradientError : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("gradient_error", "1.1.0",
                               "Helmholtz-Hodge gradient part of a score error (the part that moves the "
                               "distribution), with the oracle score or oracle-free by Stein's identity");
        spec.input("score", mdlab::ValueKind::estimator, "the score estimate s_hat under test (its process gives alpha, sigma)")
            .input("oracle", mdlab::ValueKind::estimator,
                   "an estimator of the true score (same process); without it only the Stein form is available", false)
            .input("manifold", mdlab::ValueKind::manifold, "the data manifold; draws x0 ~ mu_data");
        mdlab::noised::add_params(spec, 4000);
        spec.param(mdlab::choice("family", "fourier", {"fourier", "polynomial"},
                                 "test functions: random Fourier features cos(w.x + c), or monomials"))
            .param(mdlab::integer("features", 64,
                                  "number L of test functions (fourier), or the most monomials allowed (polynomial)")
                       .at_least(1)
                       .at_most(1024))
            .param(mdlab::real("bandwidth", 1.0,
                               "fourier: length scale ell as a multiple of the median pairwise distance of the draws at each t")
                       .greater_than(0.0))
            .param(mdlab::integer("degree", 2, "polynomial: largest total degree of the monomials").at_least(1).at_most(8))
            .param(mdlab::real("ridge", 1e-6, "ridge added to G, relative to trace(G) / L").at_least(0.0))
            .param(mdlab::choice("form", "auto", {"auto", "oracle", "stein", "both"},
                                 "how b is estimated: with the oracle score, by Stein's identity, or both; auto = "
                                 "oracle when the 'oracle' input is connected, else stein"));
        return spec;
    }

    explicit GradientError(const mdlab::Params& p)
        : settings_(p), family_(p.string("family")), features_(p.count("features")), bandwidth_(p.real("bandwidth")),
          degree_(p.count("degree")), ridge_(p.real("ridge")), form_(p.string("form")) {
        if (family_ == "polynomial" && double(degree_) > double(features_))
            throw mdlab::InputError("gradient_error: the polynomial family of degree " + std::to_string(degree_) +
                                        " needs at least " + std::to_string(degree_) +
                                        " features (the monomials of one projection)",
                                    "features");
    }

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto est = inputs.estimator("score");
        const auto manifold = inputs.manifold("manifold");
        const bool has_oracle = inputs.has("oracle");
        const Form form = resolve_form(has_oracle);
        const mdlab::ForwardProcess& proc = est->process();
        mdlab::noised::check_estimator(*est, "score", *manifold, me);
        const std::vector<double> times = settings_.grid(proc);
        std::shared_ptr<const mdlab::ScoreEstimator> oracle;
        if (has_oracle) {
            oracle = inputs.estimator("oracle");
            mdlab::noised::check_estimator(*oracle, "oracle", *manifold, me);
            mdlab::noised::check_same_process(*est, *oracle, "oracle", times, me);
        }
        const std::size_t n = settings_.n;
        const TestFunctions tf = test_functions(ctx, manifold->ambient_dim());

        const mdlab::RandomStream base = ctx.stream("draws");
        Totals totals;
        std::vector<std::vector<double>> curve;
        Matrix s_hat, s_true;
        for (std::size_t ti = 0; ti < times.size(); ++ti) {
            if (ctx.cancelled()) throw mdlab::Error(me + ": cancelled");
            const double t = times[ti];
            const Matrix x = mdlab::noised::draw(*manifold, proc, t, n, mdlab::noised::time_stream(base, ti));
            est->score(x, t, s_hat);
            mdlab::noised::check_finite(s_hat, "score", t, me);
            if (has_oracle) {
                oracle->score(x, t, s_true);
                mdlab::noised::check_finite(s_true, "oracle", t, me);
            }
            const AtTime at = at_time(tf, {x, s_hat, s_true, form != Form::stein}, t, form, has_oracle);
            const double lam = mdlab::noised::lambda(proc, t);
            totals.add(at, lam, proc.g2(t), form != Form::stein);
            curve.push_back(curve_row(at, proc, t, lam, form, has_oracle));
            ctx.progress(double(ti + 1) / double(times.size()));
        }
        mdlab::noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".gradient_error.csv"),
                                 curve_header(form, has_oracle), curve);
        return summary_values(totals, times, form, has_oracle, tf.L);
    }

private:
    inline static const std::string me = "gradient_error";

    Form resolve_form(bool has_oracle) const {
        Form form = Form::stein;
        if (form_ == "auto") form = has_oracle ? Form::oracle : Form::stein;
        else if (form_ == "oracle") form = Form::oracle;
        else if (form_ == "both") form = Form::both;
        if (form != Form::stein && !has_oracle)
            throw mdlab::InputError(me + ": form '" + form_ + "' needs the true score on the 'oracle' input; connect "
                                         "an oracle estimator or use form 'stein' (oracle-free)",
                                    "form");
        return form;
    }

    // Drawn once and reused at every time (smooth curves in t).
    TestFunctions test_functions(mdlab::Context& ctx, std::size_t D) const {
        mdlab::Rng rng = ctx.stream("features").chunk(0);
        if (family_ == "fourier") return gradient_error_detail::fourier_functions(rng, features_, D);
        return gradient_error_detail::polynomial_functions(rng, features_, degree_, D);
    }

    // The gradient parts (and the L2 error when the true score is known) at time t.
    AtTime at_time(const TestFunctions& tf, const Draws& d, double t, Form form, bool has_oracle) const {
        const bool want_o = form != Form::stein, want_s = form != Form::oracle;
        const std::size_t n = mdlab::rows(d.x), L = tf.L, E = tf.E;
        Scaling sc(L, tf.D);
        if (tf.fourier) scale_fourier(tf, d.x, bandwidth_, sc);
        else scale_polynomial(tf, d.x, sc);
        if (!(sc.scale > 0.0)) throw mdlab::Error(me + ": the draws at t = " + std::to_string(t) + " coincide");

        Sums sums(L);
        Block blk(tf);
        AtTime at;
        double err2 = 0.0;
        for (std::size_t b0 = 0; b0 < n; b0 += block_rows) {
            const std::size_t B = std::min(block_rows, n - b0);
            // Per-draw values (rows are independent).
            mdlab::for_chunks(B, 32, [&](std::size_t, std::size_t rb, std::size_t re) {
                PolynomialScratch scratch(tf.P);
                for (std::size_t r = rb; r < re; ++r) {
                    if (tf.fourier) fourier_draw(tf, sc, d, b0 + r, blk.row(r, L, E));
                    else polynomial_draw(tf, sc, d, b0 + r, blk.row(r, L, E), scratch);
                }
            });
            if (has_oracle) add_squared_error(d.s_hat, d.s_true, b0, B, err2);  // whenever the true score is known
            add_block(tf, blk, B, want_o, want_s, sums);
        }

        const Eigen::LLT<Square> llt(ridged_gram(sums, sc.mult, n, ridge_));
        if (llt.info() != Eigen::Success)
            throw mdlab::InputError(me + ": the Gram matrix G of the test-function gradients is singular at t = " +
                                        std::to_string(t) + "; use a positive ridge",
                                    "ridge");
        if (want_o) at.oracle = gradient_part(llt, sums.bo, sums.co, n);
        if (want_s) at.stein = gradient_part(llt, sums.bs, sums.cs, n);
        at.scale = tf.fourier ? bandwidth_ * sc.scale : sc.scale;
        at.l2 = err2 / double(n);
        return at;
    }

    static std::vector<double> curve_row(const AtTime& at, const mdlab::ForwardProcess& proc, double t, double lam,
                                         Form form, bool has_oracle) {
        std::vector<double> row{t, proc.alpha(t), proc.sigma(t), lam, at.scale};
        if (has_oracle) row.push_back(at.l2);
        if (form != Form::stein) row.insert(row.end(), {at.oracle.gradient, at.oracle.floor});
        if (form != Form::oracle) row.insert(row.end(), {at.stein.gradient, at.stein.floor});
        return row;
    }

    mdlab::noised::Settings settings_;
    std::string family_;
    std::size_t features_;
    double bandwidth_;
    std::size_t degree_;
    double ridge_;
    std::string form_;
};

}  // namespace

MDLAB_PLUGINS(GradientError)
