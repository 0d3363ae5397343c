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

#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>
#include <mdlab/stats.hpp>

namespace {

using mdlab::Matrix;
constexpr double two_pi = 6.283185307179586476925286766559;
constexpr std::size_t block_rows = 512;

// In-place Cholesky factor (lower triangle, row-major L x L) of a symmetric positive definite
// matrix; false when a pivot is not positive.
bool cholesky(std::vector<double>& a, std::size_t n) {
    for (std::size_t j = 0; j < n; ++j) {
        double d = a[j * n + j];
        for (std::size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0.0)) return false;
        d = std::sqrt(d);
        a[j * n + j] = d;
        for (std::size_t i = j + 1; i < n; ++i) {
            double s = a[i * n + j];
            for (std::size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
    }
    return true;
}

// Solves C y = b in place (C lower triangular from cholesky()).
void forward_solve(const std::vector<double>& c, std::size_t n, double* b) {
    for (std::size_t i = 0; i < n; ++i) {
        double s = b[i];
        for (std::size_t k = 0; k < i; ++k) s -= c[i * n + k] * b[k];
        b[i] = s / c[i * n + i];
    }
}

// b^T A^{-1} b = |C^{-1} b|^2 with A = C C^T.
double quad_form(const std::vector<double>& c, std::size_t n, std::vector<double> b) {
    forward_solve(c, n, b.data());
    double q = 0.0;
    for (double v : b) q += v * v;
    return q;
}

// trace(A^{-1} S) = trace(C^{-1} S C^{-T}) for symmetric S (row-major n x n).
double trace_inv(const std::vector<double>& c, std::size_t n, const std::vector<double>& s) {
    // M = C^{-1} S, column by column (columns of S are its rows, S symmetric); then
    // trace(C^{-1} M^T) since M^T = S C^{-T}.
    std::vector<double> m(n * n), col(n);
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < n; ++i) col[i] = s[i * n + j];
        forward_solve(c, n, col.data());
        for (std::size_t i = 0; i < n; ++i) m[i * n + j] = col[i];
    }
    double tr = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t i = 0; i < n; ++i) col[i] = m[j * n + i];  // column j of M^T
        forward_solve(c, n, col.data());
        tr += col[j];
    }
    return tr;
}

// Number of monomials of total degree 1..deg in p variables: C(p + deg, deg) - 1.
double monomial_count(std::size_t p, std::size_t deg) {
    double c = 1.0;
    for (std::size_t k = 1; k <= deg; ++k) c = c * double(p + k) / double(k);
    return std::round(c) - 1.0;
}

struct Monomial {
    std::vector<std::size_t> var;  // distinct variables with a positive exponent
    std::vector<int> exp;
};

// All monomials of total degree 1..deg in p variables, by degree, then lexicographically.
std::vector<Monomial> monomials(std::size_t p, std::size_t deg) {
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

enum class Form { oracle, stein, both };

// Sums over draws at one time: G (before the multiplier), b and the second moments of the
// per-draw summands beta of b, for the oracle and Stein forms.
struct Sums {
    std::size_t L;
    std::vector<double> g, bo, bs, co, cs;
    explicit Sums(std::size_t l) : L(l), g(l * l, 0.0), bo(l, 0.0), bs(l, 0.0), co(l * l, 0.0), cs(l * l, 0.0) {}
};

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
        const std::string me = "gradient_error";
        const auto est = inputs.estimator("score");
        const auto manifold = inputs.manifold("manifold");
        const bool has_oracle = inputs.has("oracle");
        Form form = Form::stein;
        if (form_ == "auto") form = has_oracle ? Form::oracle : Form::stein;
        else if (form_ == "oracle") form = Form::oracle;
        else if (form_ == "both") form = Form::both;
        if (form != Form::stein && !has_oracle)
            throw mdlab::InputError(me + ": form '" + form_ + "' needs the true score on the 'oracle' input; connect "
                                         "an oracle estimator or use form 'stein' (oracle-free)",
                                    "form");
        const bool want_o = form != Form::stein, want_s = form != Form::oracle;
        const mdlab::ForwardProcess& proc = est->process();
        mdlab::noised::check_estimator(*est, "score", *manifold, me);
        const std::vector<double> times = settings_.grid(proc);
        std::shared_ptr<const mdlab::ScoreEstimator> oracle;
        if (has_oracle) {
            oracle = inputs.estimator("oracle");
            mdlab::noised::check_estimator(*oracle, "oracle", *manifold, me);
            mdlab::noised::check_same_process(*est, *oracle, "oracle", times, me);
        }

        const std::size_t n = settings_.n, D = manifold->ambient_dim();
        const bool fourier = family_ == "fourier";

        // Test functions, drawn once and reused at every time (smooth curves in t).
        std::size_t L = features_, P = D, E = 1;  // E: nonzero gradient entries per feature
        std::vector<double> z, phase, proj;  // fourier: z (L x D), phase; polynomial: R (D x P) or empty
        std::vector<Monomial> mono;
        {
            mdlab::Rng rng = ctx.stream("features").chunk(0);
            if (fourier) {
                z.resize(L * D);
                phase.resize(L);
                for (auto& v : z) v = rng.normal();
                for (auto& v : phase) v = two_pi * rng.uniform();
            } else {
                if (monomial_count(D, degree_) > double(features_)) {
                    P = 1;
                    while (P + 1 < D && monomial_count(P + 1, degree_) <= double(features_)) ++P;
                    // P random orthonormal directions: Gram-Schmidt of Gaussian vectors (columns).
                    proj.assign(D * P, 0.0);
                    for (std::size_t c = 0; c < P; ++c) {
                        for (;;) {
                            for (std::size_t a = 0; a < D; ++a) proj[a * P + c] = rng.normal();
                            for (int pass = 0; pass < 2; ++pass)
                                for (std::size_t c2 = 0; c2 < c; ++c2) {
                                    double dot = 0.0;
                                    for (std::size_t a = 0; a < D; ++a) dot += proj[a * P + c] * proj[a * P + c2];
                                    for (std::size_t a = 0; a < D; ++a) proj[a * P + c] -= dot * proj[a * P + c2];
                                }
                            double nrm = 0.0;
                            for (std::size_t a = 0; a < D; ++a) nrm += proj[a * P + c] * proj[a * P + c];
                            if (nrm > 1e-12) {
                                nrm = std::sqrt(nrm);
                                for (std::size_t a = 0; a < D; ++a) proj[a * P + c] /= nrm;
                                break;
                            }
                        }
                    }
                }
                mono = monomials(P, degree_);
                L = mono.size();
                E = degree_;
            }
        }

        // Pairs of gradient entries that share a coordinate, per feature pair (j, k <= j), in
        // CSR form: G_jk = mult_jk * sum_draws sum_pairs q_ja q_kb.
        std::vector<std::size_t> pair_off(L * (L + 1) / 2 + 1, 0);
        std::vector<std::pair<unsigned, unsigned>> pairs;
        for (std::size_t j = 0, idx = 0; j < L; ++j)
            for (std::size_t k = 0; k <= j; ++k, ++idx) {
                if (fourier) pairs.emplace_back(0u, 0u);
                else
                    for (std::size_t a = 0; a < mono[j].var.size(); ++a)
                        for (std::size_t b = 0; b < mono[k].var.size(); ++b)
                            if (mono[j].var[a] == mono[k].var[b]) pairs.emplace_back(unsigned(a), unsigned(b));
                pair_off[idx + 1] = pairs.size();
            }

        const mdlab::RandomStream base = ctx.stream("draws");
        double sum_l2 = 0.0, sum_go = 0.0, sum_gs = 0.0, sum_fo = 0.0, sum_fs = 0.0;
        std::vector<std::vector<double>> curve;
        Matrix s_hat, s_true;
        std::vector<double> w(L * D), wn2(L), mult(L * L, 1.0), center(D, 0.0);
        std::vector<double> q(block_rows * L * E), beta_o(block_rows * L), beta_s(block_rows * L);
        // Per time, for the KL bounds: g(t)^2 times the gradient parts, their floor and the L2 error.
        std::vector<double> bound_go, bound_gs, bound_fo, bound_l2;
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

            // Per-time scale of the test functions.
            double scale = 0.0;
            if (fourier) {
                const std::size_t m = std::min<std::size_t>(n, 512);
                std::vector<double> dist;
                dist.reserve(m * (m - 1) / 2);
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t k = 0; k < i; ++k) {
                        double s = 0.0;
                        for (std::size_t a = 0; a < D; ++a) s += (x(i, a) - x(k, a)) * (x(i, a) - x(k, a));
                        dist.push_back(std::sqrt(s));
                    }
                scale = mdlab::stats::median(dist);
                if (!(scale > 0.0)) throw mdlab::Error(me + ": the draws at t = " + std::to_string(t) + " coincide");
                const double ell = bandwidth_ * scale;
                for (std::size_t k = 0; k < L * D; ++k) w[k] = z[k] / ell;
                for (std::size_t j = 0; j < L; ++j) {
                    for (std::size_t k = 0; k < L; ++k) {
                        double d = 0.0;
                        for (std::size_t a = 0; a < D; ++a) d += w[j * D + a] * w[k * D + a];
                        mult[j * L + k] = d;
                    }
                    wn2[j] = mult[j * L + j];
                }
            } else {
                for (std::size_t a = 0; a < D; ++a) {
                    double s = 0.0;
                    for (std::size_t i = 0; i < n; ++i) s += x(i, a);
                    center[a] = s / double(n);
                }
                double ss = 0.0;
                for (std::size_t i = 0; i < n; ++i)
                    for (std::size_t c = 0; c < P; ++c) {
                        double u = 0.0;
                        if (proj.empty()) u = x(i, c) - center[c];
                        else
                            for (std::size_t a = 0; a < D; ++a) u += proj[a * P + c] * (x(i, a) - center[a]);
                        ss += u * u;
                    }
                scale = std::sqrt(ss / double(n * P));
                if (!(scale > 0.0)) throw mdlab::Error(me + ": the draws at t = " + std::to_string(t) + " coincide");
            }

            Sums sums(L);
            double err2 = 0.0;
            for (std::size_t b0 = 0; b0 < n; b0 += block_rows) {
                const std::size_t B = std::min(block_rows, n - b0);
                // Per-draw gradient entries q and summands beta (rows are independent).
                mdlab::for_chunks(B, 32, [&](std::size_t, std::size_t rb, std::size_t re) {
                    std::vector<double> u(P), eu(P), su(P), pw;
                    for (std::size_t r = rb; r < re; ++r) {
                        const std::size_t i = b0 + r;
                        double* qr = q.data() + r * L * E;
                        double* bo = beta_o.data() + r * L;
                        double* bs = beta_s.data() + r * L;
                        if (fourier) {
                            for (std::size_t j = 0; j < L; ++j) {
                                const double* wj = w.data() + j * D;
                                // Separate loops per form keep the Stein figures bit-identical
                                // whether or not the oracle form is computed beside them.
                                double arg = phase[j], ew = 0.0, sw = 0.0;
                                for (std::size_t a = 0; a < D; ++a) {
                                    arg += wj[a] * x(i, a);
                                    sw += wj[a] * s_hat(i, a);
                                }
                                if (want_o)
                                    for (std::size_t a = 0; a < D; ++a) ew += wj[a] * (s_hat(i, a) - s_true(i, a));
                                const double sn = std::sin(arg), cs = std::cos(arg);
                                qr[j] = -sn;  // grad phi_j = -sin(.) w_j
                                bo[j] = -sn * ew;
                                bs[j] = -sn * sw - wn2[j] * cs;  // + laplacian phi_j
                            }
                        } else {
                            // u = R^T (x - m) / s; gradients in x are R grad_u / s, laplacians
                            // laplacian_u / s^2 (R has orthonormal columns).
                            for (std::size_t c = 0; c < P; ++c) {
                                double uc = 0.0, ec = 0.0, sc = 0.0;
                                if (proj.empty()) {
                                    uc = x(i, c) - center[c];
                                    sc = s_hat(i, c);
                                    if (want_o) ec = s_hat(i, c) - s_true(i, c);
                                } else {
                                    for (std::size_t a = 0; a < D; ++a) {
                                        const double ra = proj[a * P + c];
                                        uc += ra * (x(i, a) - center[a]);
                                        sc += ra * s_hat(i, a);
                                    }
                                    if (want_o)
                                        for (std::size_t a = 0; a < D; ++a) ec += proj[a * P + c] * (s_hat(i, a) - s_true(i, a));
                                }
                                u[c] = uc / scale;
                                eu[c] = ec / scale;
                                su[c] = sc / scale;
                            }
                            // Powers u_c^k, k = 0..degree.
                            pw.assign(P * (degree_ + 1), 1.0);
                            for (std::size_t c = 0; c < P; ++c)
                                for (std::size_t k = 1; k <= degree_; ++k)
                                    pw[c * (degree_ + 1) + k] = pw[c * (degree_ + 1) + k - 1] * u[c];
                            auto power = [&](std::size_t c, int k) { return k < 0 ? 0.0 : pw[c * (degree_ + 1) + std::size_t(k)]; };
                            for (std::size_t j = 0; j < L; ++j) {
                                const Monomial& mj = mono[j];
                                const std::size_t nv = mj.var.size();
                                double go = 0.0, gs = 0.0, lap = 0.0;
                                for (std::size_t a = 0; a < E; ++a) qr[j * E + a] = 0.0;
                                for (std::size_t a = 0; a < nv; ++a) {
                                    double rest = 1.0;  // product of the other factors
                                    for (std::size_t b = 0; b < nv; ++b)
                                        if (b != a) rest *= power(mj.var[b], mj.exp[b]);
                                    const int k = mj.exp[a];
                                    const std::size_t c = mj.var[a];
                                    const double d1 = k * power(c, k - 1) * rest;
                                    qr[j * E + a] = d1 / scale;
                                    go += d1 * eu[c];
                                    gs += d1 * su[c];
                                    lap += k * (k - 1) * power(c, k - 2) * rest;
                                }
                                bo[j] = go;
                                bs[j] = gs + lap / (scale * scale);
                            }
                        }
                    }
                });
                if (has_oracle)  // the full L2 error, whenever the true score is known
                    for (std::size_t r = 0; r < B; ++r) {
                        double e2 = 0.0;
                        for (std::size_t a = 0; a < D; ++a) {
                            const double v = s_hat(b0 + r, a) - s_true(b0 + r, a);
                            e2 += v * v;
                        }
                        err2 += e2;
                    }
                // Block sums, one task per feature j, each (j, k) summed over draws in order:
                // bit-identical for any thread count.
                mdlab::for_chunks(L, 1, [&](std::size_t, std::size_t j, std::size_t) {
                    std::size_t idx = j * (j + 1) / 2;
                    for (std::size_t k = 0; k <= j; ++k, ++idx) {
                        double g = 0.0, co = 0.0, cs = 0.0;
                        const std::size_t p0 = pair_off[idx], p1 = pair_off[idx + 1];
                        for (std::size_t r = 0; r < B; ++r) {
                            const double* qr = q.data() + r * L * E;
                            for (std::size_t p = p0; p < p1; ++p) g += qr[j * E + pairs[p].first] * qr[k * E + pairs[p].second];
                        }
                        if (want_o)
                            for (std::size_t r = 0; r < B; ++r) co += beta_o[r * L + j] * beta_o[r * L + k];
                        if (want_s)
                            for (std::size_t r = 0; r < B; ++r) cs += beta_s[r * L + j] * beta_s[r * L + k];
                        sums.g[j * L + k] += g;
                        sums.co[j * L + k] += co;
                        sums.cs[j * L + k] += cs;
                    }
                    double bo = 0.0, bs = 0.0;
                    for (std::size_t r = 0; r < B; ++r) {
                        bo += beta_o[r * L + j];
                        bs += beta_s[r * L + j];
                    }
                    sums.bo[j] += bo;
                    sums.bs[j] += bs;
                });
            }

            // Finish: A = G + r I, the quadratic forms and the noise floors.
            const double dn = double(n);
            std::vector<double> a(L * L);
            double trace = 0.0;
            for (std::size_t j = 0; j < L; ++j)
                for (std::size_t k = 0; k <= j; ++k) {
                    const double g = mult[j * L + k] * sums.g[j * L + k] / dn;
                    a[j * L + k] = a[k * L + j] = g;
                    if (j == k) trace += g;
                }
            const double r = ridge_ * trace / double(L);
            for (std::size_t j = 0; j < L; ++j) a[j * L + j] += r;
            if (!cholesky(a, L))
                throw mdlab::InputError(me + ": the Gram matrix G of the test-function gradients is singular at t = " +
                                            std::to_string(t) + "; use a positive ridge",
                                        "ridge");
            auto finish = [&](const std::vector<double>& bsum, const std::vector<double>& csum, double& grad, double& floor) {
                std::vector<double> b(L), cov(L * L);
                for (std::size_t j = 0; j < L; ++j) b[j] = bsum[j] / dn;
                for (std::size_t j = 0; j < L; ++j)
                    for (std::size_t k = 0; k <= j; ++k)
                        cov[j * L + k] = cov[k * L + j] = (csum[j * L + k] - dn * b[j] * b[k]) / (dn - 1.0);
                grad = quad_form(a, L, b);
                floor = std::max(0.0, trace_inv(a, L, cov) / dn);
            };
            double go = 0.0, fo = 0.0, gs = 0.0, fs = 0.0;
            if (want_o) finish(sums.bo, sums.co, go, fo);
            if (want_s) finish(sums.bs, sums.cs, gs, fs);
            const double lam = mdlab::noised::lambda(proc, t), l2 = err2 / dn;
            sum_l2 += lam * l2;
            sum_go += lam * go;
            sum_fo += lam * fo;
            sum_gs += lam * gs;
            sum_fs += lam * fs;
            const double g2 = proc.g2(t);
            bound_go.push_back(g2 * go);
            bound_gs.push_back(g2 * gs);
            bound_fo.push_back(g2 * (want_o ? fo : fs));
            bound_l2.push_back(g2 * l2);
            std::vector<double> row{t, proc.alpha(t), proc.sigma(t), lam, fourier ? bandwidth_ * scale : scale};
            if (has_oracle) row.push_back(l2);
            if (want_o) row.insert(row.end(), {go, fo});
            if (want_s) row.insert(row.end(), {gs, fs});
            curve.push_back(std::move(row));
            ctx.progress(double(ti + 1) / double(times.size()));
        }

        std::vector<std::string> header{"t", "alpha", "sigma", "lambda", "scale"};
        if (has_oracle) header.push_back("l2");
        if (want_o) header.insert(header.end(), {"gradient", "noise_floor"});
        if (want_s) header.insert(header.end(), {form == Form::both ? "gradient_stein" : "gradient",
                                                 form == Form::both ? "noise_floor_stein" : "noise_floor"});
        mdlab::noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".gradient_error.csv"), header, curve);

        const double m = double(times.size());
        const double gradient = (want_o ? sum_go : sum_gs) / m, floor = (want_o ? sum_fo : sum_fs) / m;
        mdlab::Values out{{"gradient", gradient}};
        if (has_oracle) {
            const double l2 = sum_l2 / m;
            out.emplace_back("l2", l2);
            out.emplace_back("gradient_fraction", l2 > 0.0 ? gradient / l2 : NAN);
        }
        out.emplace_back("noise_floor", floor);
        if (form == Form::both) {
            out.emplace_back("gradient_stein", sum_gs / m);
            out.emplace_back("noise_floor_stein", sum_fs / m);
        }
        out.emplace_back("features", double(L));
        // (1/2) int g^2 X dt over the grid (NaN on a one-time grid).
        const auto half_integral = [&](const std::vector<double>& f) {
            if (times.size() < 2) return double(NAN);
            double sum = 0.0;
            for (std::size_t i = 0; i + 1 < times.size(); ++i)
                sum += 0.5 * (f[i] * times[i] + f[i + 1] * times[i + 1]) * std::log(times[i + 1] / times[i]);
            return 0.5 * sum;
        };
        if (want_o) out.emplace_back("kl_bound", half_integral(bound_go));
        if (want_s) out.emplace_back(want_o ? "kl_bound_stein" : "kl_bound", half_integral(bound_gs));
        out.emplace_back("kl_bound_floor", half_integral(bound_fo));
        if (has_oracle) out.emplace_back("girsanov_bound", half_integral(bound_l2));
        return out;
    }

private:
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
