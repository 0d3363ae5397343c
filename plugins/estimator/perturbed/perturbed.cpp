// A score estimator with a controlled error (SCIENCE.md section 2 'perturbed', section 5 claim 2):
//   s_hat(x, t) = s(x, t) + e(x, t),
// s the wrapped estimator (input `score`), e a gradient or a solenoidal field of chosen size.
// s_ref (input `reference`, default: the wrapped estimator) is the score that defines p_t;
// connect the oracle there to make the solenoidal field divergence-free w.r.t. the true p_t.
//
// J = Q J0 Q^T with J0 block-diagonal with 2 x 2 blocks [[0, 1], [-1, 0]] (for odd D the last
// direction is left fixed) and Q a random orthogonal matrix drawn in prepare(). J is constant
// and antisymmetric, so for any smooth u, div(J grad u) = sum_ab J_ab d_a d_b u = 0.
//
// field = score (the default):
//   gradient:   e = eps s_ref = grad(eps log p_t): tempering p_t -> p_t^(1+eps); changes the marginals.
//   solenoidal: e = eps J s_ref, so p_t e = eps J grad p_t and div(p_t e) = 0 for ANY density:
//               invisible to the marginals (the Fokker-Planck equations of p_t are unchanged).
//   For even D, J is orthogonal (|J v| = |v|), so both types have exactly the same pointwise
//   size |e| = eps |s_ref|, hence the same L2(p_t) error eps^2 E|s_ref|^2.
// field = fourier, psi(x) = sqrt(2/L) sum_j cos(w_j . x + c_j), w_j ~ N(0, I / bandwidth^2),
// c_j ~ U[0, 2 pi) (a random smooth function of unit variance):
//   gradient:   e = (eps / sigma(t)) grad psi                  (scaled like a score, ~ 1 / sigma)
//   solenoidal: e = (eps / sigma(t)) J (grad psi + psi s_ref) = (eps / sigma) J grad(p_t psi) / p_t,
//               so div(p_t e) = (eps / sigma) div(J grad(p_t psi)) = 0.
// The random Q, w and c come from the node's stream "perturbation" in prepare(): the same node
// and seed give the same field.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;
constexpr std::size_t row_chunk = 64;  // rows per parallel task of score()

class Perturbed : public mdlab::ScoreEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("perturbed", "1.0.0",
                                 "wraps a score estimator and adds an error field of chosen size: gradient "
                                 "(changes the marginals) or solenoidal (div(p_t e) = 0, invisible to them)")
            .input("score", mdlab::ValueKind::estimator, "the estimator to perturb")
            .input("reference", mdlab::ValueKind::estimator,
                   "estimator whose score s_ref = grad log p_t defines the field (default: the wrapped one); "
                   "connect the oracle to make the solenoidal field divergence-free w.r.t. the true p_t",
                   false)
            .param(mdlab::choice("type", "solenoidal", {"gradient", "solenoidal"},
                                 "gradient: e is a gradient (changes the marginals); solenoidal: div(p_t e) = 0 "
                                 "(leaves them unchanged)"))
            .param(mdlab::real("eps", 0.5,
                               "size of the error: relative to |s_ref| for field = score (|e| = eps |s_ref| for even D), "
                               "eps / sigma(t) times a unit-variance random field for field = fourier")
                       .at_least(0.0))
            .param(mdlab::choice("field", "score", {"score", "fourier"},
                                 "score: e = eps s_ref or eps J s_ref; fourier: e from a random Fourier function psi, "
                                 "(eps / sigma) grad psi or (eps / sigma) J (grad psi + psi s_ref)"))
            .param(mdlab::integer("count", 64, "number L of random Fourier features of psi (field = fourier)").at_least(1))
            .param(mdlab::real("bandwidth", 1.0,
                               "length scale of psi: frequencies w_j ~ N(0, I / bandwidth^2) (field = fourier)")
                       .greater_than(0.0));
    }

    explicit Perturbed(const mdlab::Params& p)
        : solenoidal_(p.string("type") == "solenoidal"), eps_(p.real("eps")), fourier_(p.string("field") == "fourier"),
          count_(p.count("count")), bandwidth_(p.real("bandwidth")) {
        if (!std::isfinite(eps_)) throw mdlab::InputError("perturbed: eps must be finite", "eps");
        if (!std::isfinite(bandwidth_)) throw mdlab::InputError("perturbed: bandwidth must be finite", "bandwidth");
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        auto wrapped = inputs.estimator("score");
        if (!wrapped) throw mdlab::Error("perturbed: input 'score' is null");
        auto reference = inputs.has("reference") ? inputs.estimator("reference") : wrapped;
        if (!reference) throw mdlab::Error("perturbed: input 'reference' is null");
        const std::size_t d = wrapped->dim();
        if (d == 0) throw mdlab::InputError("perturbed: the wrapped estimator has dimension 0", "score");
        if (reference->dim() != d)
            throw mdlab::InputError("perturbed: the reference estimator has dimension " + std::to_string(reference->dim()) +
                                        ", the wrapped one " + std::to_string(d),
                                    "reference");
        if (solenoidal_ && d < 2)
            throw mdlab::InputError("perturbed: a solenoidal field needs D >= 2 (in one dimension div(p e) = 0 forces "
                                    "e = 0); use type = gradient",
                                    "type");

        const mdlab::RandomStream stream = ctx.stream("perturbation");
        if (solenoidal_) {
            // J = Q J0 Q^T: J_ab = sum_k Q_a,2k Q_b,2k+1 - Q_a,2k+1 Q_b,2k, filled as an exactly
            // antisymmetric matrix (J_ba = -J_ab, J_aa = 0 in floating point too).
            mdlab::Rng rng = stream.child("rotation").chunk(0);
            const mdlab::Matrix q = mdlab::Isometry::random(d, d, rng).matrix();  // Haar-random orthogonal
            j_ = mdlab::zeros(d, d);
            for (std::size_t a = 0; a < d; ++a)
                for (std::size_t b = a + 1; b < d; ++b) {
                    double s = 0.0;
                    for (std::size_t k = 0; 2 * k + 1 < d; ++k) s += q(a, 2 * k) * q(b, 2 * k + 1) - q(a, 2 * k + 1) * q(b, 2 * k);
                    j_(a, b) = s;
                    j_(b, a) = -s;
                }
        }
        if (fourier_) {
            mdlab::Rng rng = stream.child("fourier").chunk(0);
            w_ = mdlab::Matrix::from_shape({count_, d});
            c_ = mdlab::Vector::from_shape({count_});
            for (std::size_t j = 0; j < count_; ++j) {
                for (std::size_t a = 0; a < d; ++a) w_(j, a) = rng.normal() / bandwidth_;
                c_(j) = two_pi * rng.uniform();
            }
        }
        wrapped_ = std::move(wrapped);
        reference_ = std::move(reference);
        dim_ = d;
    }

    std::size_t dim() const override {
        prepared();
        return dim_;
    }

    const mdlab::ForwardProcess& process() const override {
        prepared();
        return wrapped_->process();
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        prepared();
        if (mdlab::cols(x) != dim_)
            throw mdlab::Error("perturbed: the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the estimator has dimension " + std::to_string(dim_));
        wrapped_->score(x, t, out);
        if (eps_ == 0.0) return;

        double scale = eps_;
        if (fourier_) {
            const double s = wrapped_->process().sigma(t);
            if (!(s > 0.0) || !std::isfinite(s))
                throw mdlab::Error("perturbed: the Fourier field is scaled by 1 / sigma(t), but sigma(" + std::to_string(t) +
                                   ") = " + std::to_string(s));
            scale = eps_ / s;
        }
        // s_ref is needed except by the Fourier gradient field; the wrapped score is reused when
        // it is the reference (each row is copied before out is updated).
        const bool need_ref = !fourier_ || solenoidal_;
        mdlab::Matrix ref_scores;
        const mdlab::Matrix* ref = &out;
        if (need_ref && reference_ != wrapped_) {
            reference_->score(x, t, ref_scores);
            if (ref_scores.shape() != out.shape())
                throw mdlab::Error("perturbed: the reference estimator returned a score of another shape");
            ref = &ref_scores;
        }

        const std::size_t d = dim_;
        const double amp = std::sqrt(2.0 / double(count_));
        mdlab::for_chunks(mdlab::rows(x), row_chunk, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> g(d), dir(d);
            for (std::size_t i = b; i < e; ++i) {
                const double* xi = mdlab::row(x, i);
                if (fourier_) {
                    // psi and grad psi at x_i.
                    double psi = 0.0;
                    std::fill(g.begin(), g.end(), 0.0);
                    for (std::size_t j = 0; j < count_; ++j) {
                        const double* wj = mdlab::row(w_, j);
                        double phase = c_(j);
                        for (std::size_t a = 0; a < d; ++a) phase += wj[a] * xi[a];
                        psi += std::cos(phase);
                        const double sn = std::sin(phase);
                        for (std::size_t a = 0; a < d; ++a) g[a] -= sn * wj[a];
                    }
                    psi *= amp;
                    for (double& v : g) v *= amp;
                    if (solenoidal_) {
                        const double* r = mdlab::row(*ref, i);
                        for (std::size_t a = 0; a < d; ++a) g[a] += psi * r[a];
                    }
                } else {
                    const double* r = mdlab::row(*ref, i);
                    for (std::size_t a = 0; a < d; ++a) g[a] = r[a];
                }
                const double* v = g.data();
                if (solenoidal_) {
                    for (std::size_t a = 0; a < d; ++a) {
                        const double* ja = mdlab::row(j_, a);
                        double s = 0.0;
                        for (std::size_t c = 0; c < d; ++c) s += ja[c] * g[c];
                        dir[a] = s;
                    }
                    v = dir.data();
                }
                double* o = mdlab::row(out, i);
                for (std::size_t a = 0; a < d; ++a) o[a] += scale * v[a];
            }
        });
    }

private:
    void prepared() const {
        if (!wrapped_) throw mdlab::Error("perturbed: used before prepare()");
    }

    bool solenoidal_;
    double eps_;
    bool fourier_;
    std::size_t count_;
    double bandwidth_;
    std::size_t dim_ = 0;
    mdlab::Matrix j_;  // D x D antisymmetric (solenoidal)
    mdlab::Matrix w_;  // L x D frequencies (fourier)
    mdlab::Vector c_;  // L phases (fourier)
    std::shared_ptr<const mdlab::ScoreEstimator> wrapped_, reference_;
};

}  // namespace

MDLAB_PLUGINS(Perturbed)
