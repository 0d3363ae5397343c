// A score estimator with a controlled error (SCIENCE.md section 2 'perturbed', section 5 claim 2):
//   s_hat(x, t) = s(x, t) + e(x, t),
// s the wrapped estimator (input `score`), e a gradient, solenoidal or mixed field of chosen size.
// s_ref (input `reference`, default: the wrapped estimator) is the score that defines p_t;
// connect the oracle there to make the solenoidal field divergence-free w.r.t. the true p_t.
//
// Every field is e = scale (a g + b J h), a gradient part a g (g = grad u) and a part b J h with
// p_t J h = J grad(something), hence div(p_t J h) = 0. type = gradient: a = 1, b = 0;
// solenoidal: a = 0, b = 1; mixed: a = sqrt(mix), b = sqrt(1 - mix). Since J is antisymmetric,
// g . J g = 0, so when h = g (field = score, linear) |e|^2 = scale^2 (mix |g|^2 + (1 - mix) |J g|^2):
// `mix` is the fraction of the squared size in the gradient part (exactly, pointwise, for even D).
//
// J = Q J0 Q^T with J0 block-diagonal with 2 x 2 blocks [[0, 1], [-1, 0]] (for odd D the last
// direction is left fixed) and Q a random orthogonal matrix drawn in prepare(). J is constant
// and antisymmetric, so for any smooth u, div(J grad u) = sum_ab J_ab d_a d_b u = 0.
//
// field = score (the default), g = h = s_ref:
//   gradient:   e = eps s_ref = grad(eps log p_t): tempering p_t -> p_t^(1+eps); changes the marginals.
//   solenoidal: e = eps J s_ref, so p_t e = eps J grad p_t and div(p_t e) = 0 for ANY density:
//               invisible to the marginals (the Fokker-Planck equations of p_t are unchanged).
//   For even D, J is orthogonal (|J v| = |v|), so all types have exactly the same pointwise
//   size |e| = eps |s_ref|, hence the same L2(p_t) error eps^2 E|s_ref|^2.
// field = fourier, psi(x) = sqrt(2/L) sum_j cos(w_j . x + c_j), w_j ~ N(0, I / bandwidth^2),
// c_j ~ U[0, 2 pi) (a random smooth function of unit variance), scale = eps / sigma(t):
//   gradient:   g = grad psi                  (scaled like a score, ~ 1 / sigma)
//   solenoidal: h = grad psi + psi s_ref = grad(p_t psi) / p_t, so div(p_t J h) = div(J grad(p_t psi)) = 0.
// field = linear, g = h = x and J = J0 in the (x_1, x_2) coordinate plane (no random Q):
//   gradient:   e = eps x = grad(eps |x|^2 / 2);
//   solenoidal: e = eps J0 x, a rotation: div e = trace(J0) = 0 in the Euclidean sense, but
//               div(p_t e) = e . grad p_t vanishes only when p_t is invariant under the rotation
//               (a uniform circle in that plane); for a von Mises circle it moves the marginals.
//               It is the control of claim 2: divergence-free, yet not solenoidal w.r.t. p_t.
// draw = random: eps is replaced by eps U and (type mixed) mix by U', with U, U' ~ U[0, 1) from the
// node's stream "perturbation/draw": each seed of a sweep gives another member of a random family.
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
        return mdlab::PluginSpec("perturbed", "1.1.0",
                                 "wraps a score estimator and adds an error field of chosen size: gradient "
                                 "(changes the marginals), solenoidal (div(p_t e) = 0, invisible to them) or a mix")
            .input("score", mdlab::ValueKind::estimator, "the estimator to perturb")
            .input("reference", mdlab::ValueKind::estimator,
                   "estimator whose score s_ref = grad log p_t defines the field (default: the wrapped one); "
                   "connect the oracle to make the solenoidal field divergence-free w.r.t. the true p_t",
                   false)
            .param(mdlab::choice("type", "solenoidal", {"gradient", "solenoidal", "mixed"},
                                 "gradient: e is a gradient (changes the marginals); solenoidal: div(p_t e) = 0 "
                                 "(leaves them unchanged); mixed: sqrt(mix) times the gradient field plus "
                                 "sqrt(1 - mix) times the solenoidal one"))
            .param(mdlab::real("eps", 0.5,
                               "size of the error: relative to |s_ref| for field = score (|e| = eps |s_ref| for even D), "
                               "eps / sigma(t) times a unit-variance random field for field = fourier, eps |x| for "
                               "field = linear; with draw = random, the largest size of the family")
                       .at_least(0.0))
            .param(mdlab::real("mix", 0.5,
                               "type = mixed: fraction of the squared size |e|^2 in the gradient part (fields score "
                               "and linear, even D: exactly, pointwise)")
                       .at_least(0.0)
                       .at_most(1.0))
            .param(mdlab::choice("draw", "none", {"none", "random"},
                                 "none: eps and mix as given; random: eps times U[0, 1) and (type mixed) mix ~ "
                                 "U[0, 1), drawn from the node's stream (each seed gives a member of a random family)"))
            .param(mdlab::choice("field", "score", {"score", "fourier", "linear"},
                                 "score: e from eps s_ref and eps J s_ref; fourier: from a random Fourier function psi, "
                                 "(eps / sigma) grad psi and (eps / sigma) J (grad psi + psi s_ref); linear: eps x and "
                                 "eps J0 x, J0 the rotation of the (x_1, x_2) plane (divergence-free, solenoidal "
                                 "w.r.t. p_t only when p_t is invariant under that rotation)"))
            .param(mdlab::integer("count", 64, "number L of random Fourier features of psi (field = fourier)").at_least(1))
            .param(mdlab::real("bandwidth", 1.0,
                               "length scale of psi: frequencies w_j ~ N(0, I / bandwidth^2) (field = fourier)")
                       .greater_than(0.0));
    }

    explicit Perturbed(const mdlab::Params& p)
        : type_(p.string("type")), eps_(p.real("eps")), mix_(p.real("mix")), random_(p.string("draw") == "random"),
          field_(p.string("field")), count_(p.count("count")), bandwidth_(p.real("bandwidth")) {
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
        if (type_ != "gradient" && d < 2)
            throw mdlab::InputError("perturbed: a " + type_ + " field needs D >= 2 (in one dimension div(p e) = 0 "
                                    "forces e = 0); use type = gradient",
                                    "type");

        const mdlab::RandomStream stream = ctx.stream("perturbation");
        eps_used_ = eps_;
        double mix = type_ == "gradient" ? 1.0 : type_ == "solenoidal" ? 0.0 : mix_;
        if (random_) {
            mdlab::Rng rng = stream.child("draw").chunk(0);
            eps_used_ = eps_ * rng.uniform();
            const double u = rng.uniform();
            if (type_ == "mixed") mix = u;
            ctx.log("perturbed: drawn eps = " + std::to_string(eps_used_) + ", mix = " + std::to_string(mix));
        }
        grad_weight_ = std::sqrt(mix);
        sol_weight_ = std::sqrt(1.0 - mix);
        if (sol_weight_ > 0.0 && field_ == "linear") {
            j_ = mdlab::zeros(d, d);
            j_(0, 1) = 1.0;
            j_(1, 0) = -1.0;
        } else if (sol_weight_ > 0.0) {
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
        if (field_ == "fourier") {
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
        if (eps_used_ == 0.0) return;

        const bool fourier = field_ == "fourier", linear = field_ == "linear";
        double scale = eps_used_;
        if (fourier) {
            const double s = wrapped_->process().sigma(t);
            if (!(s > 0.0) || !std::isfinite(s))
                throw mdlab::Error("perturbed: the Fourier field is scaled by 1 / sigma(t), but sigma(" + std::to_string(t) +
                                   ") = " + std::to_string(s));
            scale = eps_used_ / s;
        }
        const bool with_grad = grad_weight_ > 0.0, with_sol = sol_weight_ > 0.0;
        // s_ref is needed by the score field and the Fourier solenoidal part; the wrapped score is
        // reused when it is the reference (each row is copied before out is updated).
        const bool need_ref = field_ == "score" || (fourier && with_sol);
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
            std::vector<double> g(d), h(d), v(d);
            for (std::size_t i = b; i < e; ++i) {
                const double* xi = mdlab::row(x, i);
                if (fourier) {
                    // psi and grad psi at x_i; h = grad psi + psi s_ref.
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
                    for (double& u : g) u *= amp;
                    if (with_sol) {
                        const double* r = mdlab::row(*ref, i);
                        for (std::size_t a = 0; a < d; ++a) h[a] = g[a] + psi * r[a];
                    }
                } else {
                    const double* r = linear ? xi : mdlab::row(*ref, i);
                    for (std::size_t a = 0; a < d; ++a) g[a] = h[a] = r[a];
                }
                // v = a g + b J h (the pure types keep a single term: no rounding from the other).
                for (std::size_t a = 0; a < d; ++a) {
                    double s = 0.0;
                    if (with_sol) {
                        const double* ja = mdlab::row(j_, a);
                        for (std::size_t c = 0; c < d; ++c) s += ja[c] * h[c];
                        s *= sol_weight_;
                    }
                    v[a] = with_grad ? (with_sol ? grad_weight_ * g[a] + s : g[a]) : s;
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

    std::string type_;
    double eps_, mix_;
    bool random_;
    std::string field_;
    std::size_t count_;
    double bandwidth_;
    std::size_t dim_ = 0;
    double eps_used_ = 0.0, grad_weight_ = 0.0, sol_weight_ = 0.0;  // set in prepare()
    mdlab::Matrix j_;  // D x D antisymmetric (solenoidal part)
    mdlab::Matrix w_;  // L x D frequencies (fourier)
    mdlab::Vector c_;  // L phases (fourier)
    std::shared_ptr<const mdlab::ScoreEstimator> wrapped_, reference_;
};

}  // namespace

MDLAB_PLUGINS(Perturbed)
