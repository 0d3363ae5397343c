// The perturbed estimator: a gradient error changes the marginals, a solenoidal one has
// div(p_t e) = 0 (SCIENCE.md section 2 'perturbed', section 5 claim 2). Checked on an isotropic
// Gaussian and a two-component Gaussian mixture with their exact scores, by Monte Carlo (Stein
// pairings E_p[e . grad phi] within their standard errors) and by finite differences. The mixed
// type is checked as the exact combination of the two pure fields, the random draw against a
// least-squares decomposition, and the linear field against e = eps J0 x.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab_test.hpp"
#include "sampler_check.hpp"
#include "error_key.hpp"

using mdlab::Matrix;
using mdlab::test::identical;
using mdlab::test::normal_matrix;

namespace {

using mdlab::test::error_key;

// alpha = 1, sigma(t) = t: the Fourier field is scaled by 1 / sigma(t) = 1 / t.
class LinearNoise : public mdlab::ForwardProcess {
public:
    double t_end() const override { return 1.0; }
    double alpha(double) const override { return 1.0; }
    double sigma(double t) const override { return t; }
    double dlog_alpha_dt(double) const override { return 0.0; }
    double dsigma_dt(double) const override { return 1.0; }
};

// A density with its exact score (the same at every t: p_t = p for these tests).
class Density : public mdlab::ScoreEstimator {
public:
    explicit Density(std::size_t d) : d_(d), p_(std::make_shared<LinearNoise>()) {}
    void prepare(const mdlab::Inputs&, mdlab::Context&) override {}
    std::size_t dim() const override { return d_; }
    const mdlab::ForwardProcess& process() const override { return *p_; }
    // Unnormalised density and score at one point.
    virtual double density(const double* x) const = 0;
    virtual void score_row(const double* x, double* s) const = 0;
    void score(const Matrix& x, double, Matrix& out) const override {
        if (mdlab::cols(x) != d_) throw mdlab::Error("Density: wrong dimension");
        out = Matrix::from_shape(x.shape());
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) score_row(mdlab::row(x, i), mdlab::row(out, i));
    }
    // n draws from p.
    virtual Matrix draw(std::size_t n, std::uint64_t seed) const = 0;

protected:
    std::size_t d_;
    std::shared_ptr<const mdlab::ForwardProcess> p_;
};

// N(0, v I_D): s = -x / v.
class IsoGaussian : public Density {
public:
    IsoGaussian(std::size_t d, double v) : Density(d), v_(v) {}
    double density(const double* x) const override {
        double s = 0;
        for (std::size_t a = 0; a < d_; ++a) s += x[a] * x[a];
        return std::exp(-s / (2 * v_));
    }
    void score_row(const double* x, double* s) const override {
        for (std::size_t a = 0; a < d_; ++a) s[a] = -x[a] / v_;
    }
    Matrix draw(std::size_t n, std::uint64_t seed) const override { return normal_matrix(n, d_, seed, std::sqrt(v_)); }
    double variance() const { return v_; }

private:
    double v_;
};

// 0.4 N((-1, 0.5), 0.3 I) + 0.6 N((1, -0.2), 0.6 I) in R^2.
class Mixture : public Density {
public:
    Mixture() : Density(2) {}
    double density(const double* x) const override {
        double p = 0;
        for (int k = 0; k < 2; ++k) p += w_[k] * component(k, x);
        return p;
    }
    void score_row(const double* x, double* s) const override {
        const double c0 = w_[0] * component(0, x), c1 = w_[1] * component(1, x), p = c0 + c1;
        for (int a = 0; a < 2; ++a) s[a] = (c0 * (m_[0][a] - x[a]) / v_[0] + c1 * (m_[1][a] - x[a]) / v_[1]) / p;
    }
    Matrix draw(std::size_t n, std::uint64_t seed) const override {
        mdlab::Rng rng(seed);
        Matrix x = Matrix::from_shape({n, 2});
        for (std::size_t i = 0; i < n; ++i) {
            const int k = rng.uniform() < w_[0] ? 0 : 1;
            for (int a = 0; a < 2; ++a) x(i, a) = m_[k][a] + std::sqrt(v_[k]) * rng.normal();
        }
        return x;
    }

private:
    double component(int k, const double* x) const {
        const double dx = x[0] - m_[k][0], dy = x[1] - m_[k][1];
        return std::exp(-(dx * dx + dy * dy) / (2 * v_[k])) / (2 * 3.141592653589793 * v_[k]);
    }
    double w_[2] = {0.4, 0.6};
    double m_[2][2] = {{-1.0, 0.5}, {1.0, -0.2}};
    double v_[2] = {0.3, 0.6};
};

std::shared_ptr<mdlab::ScoreEstimator> make_perturbed(const std::string& params,
                                                      std::shared_ptr<const mdlab::ScoreEstimator> wrapped,
                                                      std::shared_ptr<const mdlab::ScoreEstimator> reference = nullptr,
                                                      std::uint64_t seed = 1) {
    auto est = mdlab::test::make<mdlab::ScoreEstimator>("perturbed", params);
    mdlab::Inputs in;
    in.set("score", std::move(wrapped));
    if (reference) in.set("reference", std::move(reference));
    mdlab::test::TestContext ctx(seed, "perturbed");
    est->prepare(in, ctx);
    return est;
}

// The error field e = s_hat - s of `est` around the wrapped estimator `base`.
Matrix error_field(const mdlab::ScoreEstimator& est, const mdlab::ScoreEstimator& base, const Matrix& x, double t) {
    Matrix a, b;
    est.score(x, t, a);
    base.score(x, t, b);
    return a - b;
}

// Finite differences (central, step h) at point x of e: the Jacobian De (D x D, De[a][b] = d e_a / d x_b),
// and div(p e) with the scale |grad p| |e| + p |De|_F of its two product-rule terms.
struct Differences {
    std::vector<double> jac;
    double div_pe = 0, div_scale = 0;
};

Differences differences(const mdlab::ScoreEstimator& est, const mdlab::ScoreEstimator& base, const Density& p,
                        const double* x, double t, double h) {
    const std::size_t d = est.dim();
    Matrix pts = Matrix::from_shape({2 * d + 1, d});
    for (std::size_t k = 0; k < 2 * d + 1; ++k)
        for (std::size_t a = 0; a < d; ++a) pts(k, a) = x[a];
    for (std::size_t b = 0; b < d; ++b) pts(2 * b, b) += h, pts(2 * b + 1, b) -= h;
    const Matrix e = error_field(est, base, pts, t);
    Differences r;
    r.jac.assign(d * d, 0.0);
    double jac_norm = 0;
    for (std::size_t b = 0; b < d; ++b) {
        for (std::size_t a = 0; a < d; ++a) {
            r.jac[a * d + b] = (e(2 * b, a) - e(2 * b + 1, a)) / (2 * h);
            jac_norm += r.jac[a * d + b] * r.jac[a * d + b];
        }
        r.div_pe += (p.density(mdlab::row(pts, 2 * b)) * e(2 * b, b) - p.density(mdlab::row(pts, 2 * b + 1)) * e(2 * b + 1, b)) /
                    (2 * h);
    }
    std::vector<double> s(d);
    p.score_row(x, s.data());
    double sn = 0, en = 0;
    for (std::size_t a = 0; a < d; ++a) sn += s[a] * s[a], en += e(2 * d, a) * e(2 * d, a);
    const double px = p.density(x);
    r.div_scale = px * std::sqrt(sn) * std::sqrt(en) + px * std::sqrt(jac_norm);
    return r;
}

// |div(p e)| / scale and |De - De^T|_F / |De|_F, worst over `m` random points of p.
struct Worst {
    double divergence = 0, asymmetry = 0;
};

Worst worst_differences(const mdlab::ScoreEstimator& est, const mdlab::ScoreEstimator& base, const Density& p,
                        std::size_t m, double t, std::uint64_t seed) {
    const Matrix x = p.draw(m, seed);
    const std::size_t d = est.dim();
    Worst w;
    for (std::size_t i = 0; i < m; ++i) {
        const Differences r = differences(est, base, p, mdlab::row(x, i), t, 1e-4);
        double asym = 0, norm = 0;
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = 0; b < d; ++b) {
                const double u = r.jac[a * d + b] - r.jac[b * d + a];
                asym += u * u, norm += r.jac[a * d + b] * r.jac[a * d + b];
            }
        w.divergence = std::max(w.divergence, std::abs(r.div_pe) / r.div_scale);
        w.asymmetry = std::max(w.asymmetry, std::sqrt(asym / norm));
    }
    return w;
}

// Monte Carlo mean and standard error of f(i) over i < n.
struct Estimate {
    double mean = 0, se = 0;
};
template <class F>
Estimate monte_carlo(std::size_t n, F&& f) {
    double s = 0, s2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = f(i);
        s += v, s2 += v * v;
    }
    Estimate e;
    e.mean = s / double(n);
    e.se = std::sqrt(std::max(0.0, s2 / double(n) - e.mean * e.mean) / double(n - 1));
    return e;
}

// Test functions: phi_k = cos(w_k . x + c_k) (k < 4, w_k ~ N(0, I)), phi_4 = x^T B x (B symmetric),
// phi_5 = |x|^2. Returns grad phi_k at x into g.
void test_gradient(std::size_t k, const double* x, std::size_t d, double* g) {
    mdlab::Rng rng(500 + k);
    if (k < 4) {
        std::vector<double> w(d);
        for (auto& v : w) v = rng.normal();
        const double c = 6.283185307179586 * rng.uniform();
        double ph = c;
        for (std::size_t a = 0; a < d; ++a) ph += w[a] * x[a];
        for (std::size_t a = 0; a < d; ++a) g[a] = -std::sin(ph) * w[a];
    } else if (k == 4) {
        std::vector<double> b(d * d);
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t c = a; c < d; ++c) b[a * d + c] = b[c * d + a] = rng.normal();
        for (std::size_t a = 0; a < d; ++a) {
            g[a] = 0;
            for (std::size_t c = 0; c < d; ++c) g[a] += 2 * b[a * d + c] * x[c];
        }
    } else {
        for (std::size_t a = 0; a < d; ++a) g[a] = 2 * x[a];
    }
}
constexpr std::size_t test_functions = 6;

// E_p[e . grad phi_k] for every test function, by Monte Carlo over x (rows drawn from p).
std::vector<Estimate> pairings(const Matrix& e, const Matrix& x) {
    const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
    std::vector<Estimate> out;
    std::vector<double> g(d);
    for (std::size_t k = 0; k < test_functions; ++k)
        out.push_back(monte_carlo(n, [&](std::size_t i) {
            test_gradient(k, mdlab::row(x, i), d, g.data());
            double s = 0;
            for (std::size_t a = 0; a < d; ++a) s += e(i, a) * g[a];
            return s;
        }));
    return out;
}

std::string params(const std::string& type, const std::string& field, double eps = 0.5) {
    std::ostringstream s;
    s << "{\"type\": \"" << type << "\", \"field\": \"" << field << "\", \"eps\": " << eps << "}";
    return s.str();
}

}  // namespace

TEST_CASE("perturbed, solenoidal: invisible to every test function and div(p e) = 0 (Gaussian)", "[perturbed]") {
    const double t = 0.5;
    std::ostringstream report;
    for (std::size_t d : {4, 5}) {
        auto base = std::make_shared<IsoGaussian>(d, 0.7);
        const Matrix x = base->draw(20000, 31 + d);
        for (const char* field : {"score", "fourier"}) {
            INFO("D = " << d << ", field = " << field);
            auto sol = make_perturbed(params("solenoidal", field), base);
            auto grad = make_perturbed(params("gradient", field), base);
            const Matrix es = error_field(*sol, *base, x, t), eg = error_field(*grad, *base, x, t);
            const auto ps = pairings(es, x), pg = pairings(eg, x);
            double worst_z = 0, grad_z = 0;
            for (std::size_t k = 0; k < test_functions; ++k) {
                INFO("test function " << k << ": solenoidal " << ps[k].mean << " +- " << ps[k].se << ", gradient "
                                      << pg[k].mean << " +- " << pg[k].se);
                // 4.5 standard errors, plus rounding (x^T J x = 0 only up to it).
                CHECK(std::abs(ps[k].mean) <= 4.5 * ps[k].se + 1e-12);
                worst_z = std::max(worst_z, std::abs(ps[k].mean) / std::max(ps[k].se, 1e-300));
                grad_z = std::max(grad_z, std::abs(pg[k].mean) / pg[k].se);
            }
            // The same pairings detect the gradient field of the same construction.
            CHECK(grad_z >= 10.0);
            const Worst ws = worst_differences(*sol, *base, *base, 20, t, 41 + d);
            const Worst wg = worst_differences(*grad, *base, *base, 20, t, 41 + d);
            CHECK(ws.divergence <= 1e-6);
            CHECK(wg.divergence >= 1e-2);
            report << "D = " << d << ", " << field << ": largest |E e.grad phi| " << worst_z << " SE (gradient type: "
                   << grad_z << " SE); |div(p e)| / scale " << ws.divergence << " (gradient type " << wg.divergence
                   << ")\n";
        }
    }
    WARN(report.str());
}

TEST_CASE("perturbed, gradient: curl-free and it moves the marginals", "[perturbed]") {
    const double t = 0.5, eps = 0.5;
    std::ostringstream report;
    auto gauss = std::make_shared<IsoGaussian>(4, 0.7);
    auto mixture = std::make_shared<Mixture>();
    for (const std::shared_ptr<Density>& p : {std::shared_ptr<Density>(gauss), std::shared_ptr<Density>(mixture)})
        for (const char* field : {"score", "fourier"}) {
            INFO("D = " << p->dim() << ", field = " << field);
            auto grad = make_perturbed(params("gradient", field, eps), p);
            auto sol = make_perturbed(params("solenoidal", field, eps), p);
            const Worst wg = worst_differences(*grad, *p, *p, 20, t, 51);
            const Worst ws = worst_differences(*sol, *p, *p, 20, t, 51);
            CHECK(wg.asymmetry <= 1e-6);
            CHECK(ws.asymmetry >= 1e-2);  // the solenoidal field is not a gradient
            report << "D = " << p->dim() << ", " << field << ": Jacobian asymmetry " << wg.asymmetry
                   << " (solenoidal " << ws.asymmetry << ")\n";
        }
    // phi = |x|^2 under N(0, v I): E_p[e . grad phi] = E[eps (-x / v) . 2 x] = -2 eps D.
    auto grad = make_perturbed(params("gradient", "score", eps), gauss);
    const Matrix x = gauss->draw(20000, 61);
    const auto pg = pairings(error_field(*grad, *gauss, x, t), x);
    const Estimate& sq = pg[5];
    INFO("E e.grad|x|^2 = " << sq.mean << " +- " << sq.se << ", exact " << -2 * eps * 4);
    CHECK(std::abs(sq.mean - (-2 * eps * 4)) <= 4.5 * sq.se);
    CHECK(std::abs(sq.mean) >= 20 * sq.se);
    WARN(report.str() << "gradient type, E e.grad|x|^2 = " << sq.mean << " +- " << sq.se << " (exact -4)");
}

TEST_CASE("perturbed: both types have the same L2 size eps^2 E|s|^2 (even D)", "[perturbed]") {
    const double eps = 0.3, v = 0.7;
    for (std::size_t d : {2, 6, 5}) {
        INFO("D = " << d);
        auto base = std::make_shared<IsoGaussian>(d, v);
        auto sol = make_perturbed(params("solenoidal", "score", eps), base);
        auto grad = make_perturbed(params("gradient", "score", eps), base);
        const Matrix x = base->draw(20000, 71 + d);
        const Matrix es = error_field(*sol, *base, x, 0.5), eg = error_field(*grad, *base, x, 0.5);
        double worst = 0;
        std::size_t shorter = 0;
        auto norm2 = [&](const Matrix& e, std::size_t i) {
            double s = 0;
            for (std::size_t a = 0; a < d; ++a) s += e(i, a) * e(i, a);
            return s;
        };
        for (std::size_t i = 0; i < 20000; ++i) {
            worst = std::max(worst, std::abs(std::sqrt(norm2(es, i)) - std::sqrt(norm2(eg, i))) / std::sqrt(norm2(eg, i)));
            shorter += norm2(es, i) < norm2(eg, i) * (1 - 1e-9);
        }
        const Estimate ls = monte_carlo(20000, [&](std::size_t i) { return norm2(es, i); });
        const Estimate lg = monte_carlo(20000, [&](std::size_t i) { return norm2(eg, i); });
        const double exact = eps * eps * double(d) / v;  // eps^2 E|x / v|^2
        INFO("E|e|^2: solenoidal " << ls.mean << " +- " << ls.se << ", gradient " << lg.mean << " +- " << lg.se
                                   << ", eps^2 E|s|^2 = " << exact << "; pointwise |e_sol| vs |e_grad| " << worst);
        CHECK(std::abs(lg.mean - exact) <= 4.5 * lg.se);
        if (d % 2 == 0) {
            CHECK(worst <= 1e-12);  // J is orthogonal: |J s| = |s| at every point
            CHECK(std::abs(ls.mean - exact) <= 4.5 * ls.se);
        } else {
            CHECK(shorter >= 19000);  // one direction is left out: |J s| < |s| almost surely
            CHECK(ls.mean < lg.mean);
        }
        WARN("D = " << d << ": E|e|^2 solenoidal " << ls.mean << " +- " << ls.se << ", gradient " << lg.mean << " +- "
                    << lg.se << ", eps^2 E|s|^2 = " << exact << "; largest pointwise relative |e_sol| - |e_grad| "
                    << worst);
    }
}

TEST_CASE("perturbed, solenoidal: divergence-free for a Gaussian mixture, also through the reference input",
          "[perturbed]") {
    auto mixture = std::make_shared<Mixture>();
    auto other = std::make_shared<IsoGaussian>(2, 1.3);  // a wrong wrapped score; the reference defines p
    std::ostringstream report;
    for (const char* field : {"score", "fourier"}) {
        INFO("field = " << field);
        auto own = make_perturbed(params("solenoidal", field, 0.8), mixture);
        auto via_ref = make_perturbed(params("solenoidal", field, 0.8), other, mixture);
        auto wrong_ref = make_perturbed(params("solenoidal", field, 0.8), mixture, other);
        const Worst a = worst_differences(*own, *mixture, *mixture, 30, 0.4, 81);
        const Worst b = worst_differences(*via_ref, *other, *mixture, 30, 0.4, 81);
        const Worst c = worst_differences(*wrong_ref, *mixture, *mixture, 30, 0.4, 81);
        CHECK(a.divergence <= 1e-6);
        CHECK(b.divergence <= 1e-6);
        CHECK(c.divergence >= 1e-3);  // built from another density's score: not divergence-free for p
        report << field << ": |div(p e)| / scale " << a.divergence << " (through reference " << b.divergence
               << ", with a wrong reference " << c.divergence << ")\n";
        // Monte Carlo: invisible to the test functions under the mixture.
        const Matrix x = mixture->draw(20000, 91);
        const auto ps = pairings(error_field(*own, *mixture, x, 0.4), x);
        for (std::size_t k = 0; k < test_functions; ++k) {
            INFO("test function " << k << ": " << ps[k].mean << " +- " << ps[k].se);
            CHECK(std::abs(ps[k].mean) <= 4.5 * ps[k].se + 1e-12);
        }
    }
    WARN(report.str());
}

TEST_CASE("perturbed: field scaling, reproducibility and thread independence", "[perturbed]") {
    auto base = std::make_shared<IsoGaussian>(3, 0.7);
    const Matrix x = base->draw(500, 101);
    // eps = 0: the wrapped score itself; process and dim come from the wrapped estimator.
    auto zero = make_perturbed(params("solenoidal", "fourier", 0.0), base);
    Matrix a, b;
    zero->score(x, 0.5, a);
    base->score(x, 0.5, b);
    CHECK(identical(a, b));
    CHECK(&zero->process() == &base->process());
    CHECK(zero->dim() == 3);
    // field = score, gradient type with the wrapped score as reference: (1 + eps) s exactly in exact arithmetic.
    auto temper = make_perturbed(params("gradient", "score", 0.25), base);
    temper->score(x, 0.5, a);
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(a.data()[k] == Approx(1.25 * b.data()[k]).epsilon(1e-15));
    // field = fourier: e scales like 1 / sigma(t) (sigma(t) = t here); eps is linear.
    for (const char* type : {"gradient", "solenoidal"}) {
        auto f = make_perturbed(params(type, "fourier", 0.5), base);
        auto f2 = make_perturbed(params(type, "fourier", 1.0), base);
        const Matrix e1 = error_field(*f, *base, x, 0.25), e2 = error_field(*f, *base, x, 0.5),
                     e3 = error_field(*f2, *base, x, 0.5);
        for (std::size_t k = 0; k < e1.size(); ++k) {
            CHECK(e1.data()[k] == Approx(2 * e2.data()[k]).epsilon(1e-12).margin(1e-14));
            CHECK(e3.data()[k] == Approx(2 * e2.data()[k]).epsilon(1e-12).margin(1e-14));
        }
    }
    // The random rotation and features come from the node's stream: same seed, same field.
    for (const char* field : {"score", "fourier"}) {
        INFO(field);
        auto one = make_perturbed(params("solenoidal", field), base, nullptr, 5);
        auto same = make_perturbed(params("solenoidal", field), base, nullptr, 5);
        auto other = make_perturbed(params("solenoidal", field), base, nullptr, 6);
        Matrix o1, o2, s1, s2, s3;
        tbb::task_arena(1).execute([&] { one->score(x, 0.5, o1); });
        tbb::task_arena(2).execute([&] { one->score(x, 0.5, o2); });
        same->score(x, 0.5, s2);
        other->score(x, 0.5, s3);
        CHECK(identical(o1, o2));
        CHECK(identical(o1, s2));
        CHECK(!identical(o1, s3));
    }
}

// Least-squares coefficients (a, b) of e ~ a u + b v over all entries, and the largest residual.
struct Fit2 {
    double a, b, residual;
};
Fit2 fit_two(const Matrix& e, const Matrix& u, const Matrix& v) {
    double uu = 0, uv = 0, vv = 0, ue = 0, ve = 0;
    for (std::size_t k = 0; k < e.size(); ++k) {
        const double x = u.data()[k], y = v.data()[k], z = e.data()[k];
        uu += x * x, uv += x * y, vv += y * y, ue += x * z, ve += y * z;
    }
    const double det = uu * vv - uv * uv;
    Fit2 f{(ue * vv - ve * uv) / det, (ve * uu - ue * uv) / det, 0.0};
    for (std::size_t k = 0; k < e.size(); ++k)
        f.residual = std::max(f.residual, std::abs(e.data()[k] - f.a * u.data()[k] - f.b * v.data()[k]));
    return f;
}

TEST_CASE("perturbed, mixed: sqrt(mix) gradient + sqrt(1 - mix) solenoidal, |e| = eps |s| pointwise", "[perturbed]") {
    auto base = std::make_shared<IsoGaussian>(4, 0.7);
    const Matrix x = base->draw(2000, 111);
    const double eps = 0.8, mix = 0.3;
    for (const char* field : {"score", "fourier", "linear"}) {
        INFO("field = " << field);
        const std::string extra = std::string(", \"field\": \"") + field + "\", \"eps\": 0.8}";
        auto grad = make_perturbed(R"({"type": "gradient")" + extra, base);
        auto sol = make_perturbed(R"({"type": "solenoidal")" + extra, base);
        auto mixed = make_perturbed(R"({"type": "mixed", "mix": 0.3)" + extra, base);
        const Matrix eg = error_field(*grad, *base, x, 0.5), es = error_field(*sol, *base, x, 0.5),
                     em = error_field(*mixed, *base, x, 0.5);
        double worst = 0;
        for (std::size_t k = 0; k < em.size(); ++k)
            worst = std::max(worst, std::abs(em.data()[k] - std::sqrt(mix) * eg.data()[k] - std::sqrt(1 - mix) * es.data()[k]));
        CHECK(worst <= 1e-12);
        // mix = 1 and mix = 0 are the pure types, bit for bit.
        auto all_grad = make_perturbed(R"({"type": "mixed", "mix": 1)" + extra, base);
        auto all_sol = make_perturbed(R"({"type": "mixed", "mix": 0)" + extra, base);
        CHECK(identical(error_field(*all_grad, *base, x, 0.5), eg));
        CHECK(identical(error_field(*all_sol, *base, x, 0.5), es));
    }
    // field = score, even D: |e|^2 = eps^2 |s|^2 at every point, whatever the mix (s . J s = 0).
    auto mixed = make_perturbed(R"({"type": "mixed", "mix": 0.3, "eps": 0.8})", base);
    const Matrix em = error_field(*mixed, *base, x, 0.5);
    Matrix s;
    base->score(x, 0.5, s);
    double worst = 0;
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        double e2 = 0, s2 = 0;
        for (std::size_t a = 0; a < 4; ++a) e2 += em(i, a) * em(i, a), s2 += s(i, a) * s(i, a);
        worst = std::max(worst, std::abs(e2 - eps * eps * s2) / (eps * eps * s2));
    }
    CHECK(worst <= 1e-12);
    // Bit-identical for any thread count.
    Matrix one, two;
    tbb::task_arena(1).execute([&] { mixed->score(x, 0.5, one); });
    tbb::task_arena(2).execute([&] { mixed->score(x, 0.5, two); });
    CHECK(identical(one, two));
    // The gradient part's pairings are sqrt(mix) times those of the gradient field (the
    // solenoidal part pairs to zero): E e.grad|x|^2 = -2 eps sqrt(mix) D.
    const Matrix big = base->draw(20000, 113);
    const auto pm = pairings(error_field(*mixed, *base, big, 0.5), big);
    INFO("E e.grad|x|^2 = " << pm[5].mean << " +- " << pm[5].se);
    CHECK(std::abs(pm[5].mean - (-2 * eps * std::sqrt(mix) * 4)) <= 4.5 * pm[5].se);
}

TEST_CASE("perturbed, draw = random: eps U and mix U' from the node's stream, one member per seed", "[perturbed]") {
    auto base = std::make_shared<IsoGaussian>(4, 0.7);
    const Matrix x = base->draw(300, 121);
    const double eps = 2.0;
    std::vector<double> sizes;
    for (std::uint64_t seed : {1, 2, 3}) {
        INFO("seed " << seed);
        // The same node and seed give the same rotation J: the unit gradient and solenoidal fields.
        auto g1 = make_perturbed(R"({"type": "gradient", "eps": 1})", base, nullptr, seed);
        auto s1 = make_perturbed(R"({"type": "solenoidal", "eps": 1})", base, nullptr, seed);
        auto member = make_perturbed(R"({"type": "mixed", "draw": "random", "eps": 2})", base, nullptr, seed);
        auto again = make_perturbed(R"({"type": "mixed", "draw": "random", "eps": 2})", base, nullptr, seed);
        const Matrix em = error_field(*member, *base, x, 0.5);
        CHECK(identical(em, error_field(*again, *base, x, 0.5)));
        const Fit2 f = fit_two(em, error_field(*g1, *base, x, 0.5), error_field(*s1, *base, x, 0.5));
        INFO("a = " << f.a << ", b = " << f.b << ", residual " << f.residual);
        CHECK(f.residual <= 1e-12);
        CHECK(f.a >= 0.0);
        CHECK(f.b >= 0.0);
        CHECK(std::hypot(f.a, f.b) < eps);  // the drawn size eps U, U < 1
        sizes.push_back(std::hypot(f.a, f.b));
        // type = gradient with draw = random: only the size is drawn.
        auto gm = make_perturbed(R"({"type": "gradient", "draw": "random", "eps": 2})", base, nullptr, seed);
        const Fit2 fg = fit_two(error_field(*gm, *base, x, 0.5), error_field(*g1, *base, x, 0.5),
                                error_field(*s1, *base, x, 0.5));
        CHECK(std::abs(fg.b) <= 1e-12);
        CHECK(fg.a == Approx(sizes.back()).epsilon(1e-12));  // the same U as the mixed member
    }
    CHECK(sizes[0] != sizes[1]);
    CHECK(sizes[1] != sizes[2]);
}

TEST_CASE("perturbed, field = linear: e = eps J0 x, divergence-free, solenoidal only for rotation-invariant p",
          "[perturbed]") {
    const double eps = 0.6;
    auto gauss = std::make_shared<IsoGaussian>(3, 0.7);
    const Matrix x = gauss->draw(200, 131);
    auto rot = make_perturbed(R"({"type": "solenoidal", "field": "linear", "eps": 0.6})", gauss);
    const Matrix e = error_field(*rot, *gauss, x, 0.5);
    for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
        CHECK(e(i, 0) == Approx(eps * x(i, 1)).epsilon(1e-14).margin(1e-14));
        CHECK(e(i, 1) == Approx(-eps * x(i, 0)).epsilon(1e-14).margin(1e-14));
        CHECK(e(i, 2) == 0.0);
    }
    auto lin = make_perturbed(R"({"type": "gradient", "field": "linear", "eps": 0.6})", gauss);
    const Matrix eg = error_field(*lin, *gauss, x, 0.5);
    for (std::size_t k = 0; k < eg.size(); ++k) CHECK(eg.data()[k] == Approx(eps * x.data()[k]).epsilon(1e-14).margin(1e-14));
    // Euclidean divergence trace(De) = 0; div(p e) = 0 under the isotropic Gaussian (invariant
    // under the rotation), but not under the mixture, whose law the rotation moves.
    auto mixture = std::make_shared<Mixture>();
    auto rot2 = make_perturbed(R"({"type": "solenoidal", "field": "linear", "eps": 0.6})", mixture);
    const Matrix pts = mixture->draw(20, 133);
    double trace = 0;
    for (std::size_t i = 0; i < 20; ++i) {
        const Differences r = differences(*rot2, *mixture, *mixture, mdlab::row(pts, i), 0.5, 1e-4);
        trace = std::max(trace, std::abs(r.jac[0] + r.jac[3]));
    }
    CHECK(trace <= 1e-9);
    CHECK(worst_differences(*rot, *gauss, *gauss, 20, 0.5, 135).divergence <= 1e-6);
    CHECK(worst_differences(*rot2, *mixture, *mixture, 20, 0.5, 135).divergence >= 1e-2);
}

TEST_CASE("perturbed refuses bad parameters and inputs, naming the key", "[perturbed]") {
    auto base = std::make_shared<IsoGaussian>(3, 0.7);
    CHECK(error_key([&] { make_perturbed(R"({"type": "curl"})", base); }) == "type");
    CHECK(error_key([&] { make_perturbed(R"({"field": "noise"})", base); }) == "field");
    CHECK(error_key([&] { make_perturbed(R"({"type": "mixed", "mix": 1.5})", base); }) == "mix");
    CHECK(error_key([&] { make_perturbed(R"({"draw": "sometimes"})", base); }) == "draw");
    CHECK(error_key([&] { make_perturbed(R"({"type": "mixed"})", std::make_shared<IsoGaussian>(1, 1.0)); }) == "type");
    CHECK(error_key([&] { make_perturbed(R"({"eps": -0.1})", base); }) == "eps");
    CHECK(error_key([&] { make_perturbed(R"({"count": 0, "field": "fourier"})", base); }) == "count");
    CHECK(error_key([&] { make_perturbed(R"({"bandwidth": 0, "field": "fourier"})", base); }) == "bandwidth");
    CHECK(error_key([&] { make_perturbed("{}", base, std::make_shared<IsoGaussian>(2, 1.0)); }) == "reference");
    CHECK(error_key([&] { make_perturbed(R"({"type": "solenoidal"})", std::make_shared<IsoGaussian>(1, 1.0)); }) ==
          "type");
    CHECK(error_key([&] { make_perturbed(R"({"type": "gradient"})", std::make_shared<IsoGaussian>(1, 1.0)); }) ==
          "<none>");
    auto p = make_perturbed("{}", base);
    Matrix out;
    CHECK_THROWS_AS(p->score(normal_matrix(4, 2, 1), 0.5, out), mdlab::Error);
    // The Fourier field needs sigma(t) > 0 (sigma(0) = 0 here).
    auto f = make_perturbed(R"({"field": "fourier"})", base);
    CHECK_THROWS_AS(f->score(normal_matrix(4, 3, 1), 0.0, out), mdlab::Error);
}
