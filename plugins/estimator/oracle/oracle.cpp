// The oracle score (SCIENCE.md section 2): the true score of the noised population law, the law
// of alpha(t) x0 + sigma(t) eps with x0 ~ mu_data and eps ~ N(0, I).
// - Closed form, when the manifold has one (Manifold::noised_score: Gaussian linear_subspace,
//   gaussian_mixture).
// - Otherwise quadrature over M: with nodes z_j and weights w_j (summing to 1, density included)
//   from Manifold::quadrature, p_t(x) ~ sum_j w_j N(x; alpha z_j, sigma^2 I), whose score is the
//   weighted softmax  s(x) = sum_j p_j (alpha z_j - x) / sigma^2,
//   p = softmax_j( log w_j - |x - alpha z_j|^2 / (2 sigma^2) ), computed by the streaming kernel
//   mdlab/kernels/softmax_score.hpp with per-key log-weights. The rule is built once in prepare().
// Manifolds whose data carry normal noise (`noise` > 0) are accepted only with a closed form
// (which includes the noise, see Manifold::noised_score): the law of x0 + n with n Gaussian in
// the normal space at x0 is not a mixture of isotropic Gaussians centred on M, so quadrature
// over M does not give its score.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>

#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

namespace {

// Default quadrature resolution per intrinsic dimension: 2048 nodes on a curve (the periodic
// trapezoid on a unit circle is then exact to rounding for sigma / alpha >= 0.005), and about
// 65536 nodes in all for k >= 2 (resolution floor(2^(16/k)): 256 for k = 2, 40 for k = 3).
std::size_t default_resolution(std::size_t k) {
    if (k <= 1) return 2048;
    return std::max<std::size_t>(2, static_cast<std::size_t>(std::floor(std::pow(2.0, 16.0 / static_cast<double>(k)) + 1e-9)));
}

class Oracle : public mdlab::ScoreEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("oracle", "1.0.0",
                                 "exact score of the noised population law of the manifold's data "
                                 "(closed form for Gaussians, else weighted softmax over a quadrature of M)")
            .input("manifold", mdlab::ValueKind::manifold, "data manifold M with its density (noise = 0)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(mdlab::integer("resolution", 0,
                                  "quadrature nodes per intrinsic dimension (0: automatic, 2048 for k = 1 and "
                                  "floor(2^(16/k)) for k >= 2, about 65536 nodes)")
                       .at_least(0))
            .param(mdlab::choice("method", "auto", {"auto", "closed_form", "quadrature"},
                                 "auto: the closed form when the manifold has one, else quadrature; "
                                 "closed_form: require it; quadrature: always integrate over M"));
    }

    explicit Oracle(const mdlab::Params& p)
        : resolution_(p.count("resolution")), method_(p.string("method")) {}

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        auto manifold = inputs.manifold("manifold");
        auto process = inputs.process("process");
        if (!manifold || !process) throw mdlab::Error("oracle: input 'manifold' or 'process' is null");
        const std::size_t d = manifold->ambient_dim();
        closed_form_ = false;
        if (method_ != "quadrature") {
            // Probe: does the manifold have a closed-form noised score?
            mdlab::Matrix probe = mdlab::Matrix::from_shape({1, d}), out;
            std::fill(probe.begin(), probe.end(), 0.0);
            closed_form_ = manifold->noised_score(probe, 1.0, 1.0, out);
            if (!closed_form_ && method_ == "closed_form")
                throw mdlab::InputError("oracle: method = closed_form, but this manifold has no closed-form noised "
                                        "score (only Gaussian ones do): use method = auto or quadrature",
                                        "method");
        }
        if (!closed_form_ && manifold->normal_noise() > 0.0)
            throw mdlab::InputError("oracle: the manifold's data carry normal noise (noise = " +
                                        std::to_string(manifold->normal_noise()) +
                                        "); the noised law of x0 + n, n Gaussian in the normal space at x0, is not "
                                        "a mixture of isotropic Gaussians on M, so quadrature over M does not give "
                                        "its score: set the manifold's noise to 0, or use a manifold with a closed "
                                        "form (Gaussian linear_subspace)",
                                    "manifold");
        if (closed_form_) {
            ctx.log("oracle: closed-form noised score of the manifold");
        } else {
            const std::size_t res = resolution_ > 0 ? resolution_ : default_resolution(manifold->intrinsic_dim());
            mdlab::Quadrature q;
            try {
                q = manifold->quadrature(res);
            } catch (const mdlab::InputError& e) {
                throw mdlab::InputError(std::string("oracle: the manifold's quadrature at resolution ") +
                                            std::to_string(res) + " failed: " + e.what(),
                                        "resolution");
            } catch (const mdlab::Error& e) {
                throw mdlab::InputError(std::string("oracle: no quadrature rule for this manifold (") + e.what() +
                                            "), and no closed form: the oracle needs one or the other",
                                        "manifold");
            }
            const std::size_t n = mdlab::rows(q.nodes);
            if (n == 0 || mdlab::cols(q.nodes) != d || q.weights.size() != n)
                throw mdlab::Error("oracle: the manifold's quadrature has " + std::to_string(n) + " x " +
                                   std::to_string(mdlab::cols(q.nodes)) + " nodes and " +
                                   std::to_string(q.weights.size()) + " weights (ambient dimension " +
                                   std::to_string(d) + ")");
            mdlab::Vector log_w = mdlab::Vector::from_shape({n});
            for (std::size_t i = 0; i < n; ++i) {
                const double w = q.weights(i);
                if (!(w >= 0.0) || !std::isfinite(w))
                    throw mdlab::Error("oracle: quadrature weight " + std::to_string(i) + " is " + std::to_string(w));
                log_w(i) = w > 0.0 ? std::log(w) : -std::numeric_limits<double>::infinity();
            }
            for (std::size_t k = 0; k < q.nodes.size(); ++k)
                if (!std::isfinite(q.nodes.data()[k]))
                    throw mdlab::Error("oracle: quadrature node " + std::to_string(k / d) + " is not finite");
            keys_ = mdlab::kernels::SoftmaxKeys::indexed(q.nodes);
            keys_.set_log_weights(log_w);
            ctx.log("oracle: quadrature over M with " + std::to_string(n) + " nodes (resolution " +
                    std::to_string(res) + ")");
        }
        dim_ = d;
        manifold_ = std::move(manifold);
        process_ = std::move(process);
    }

    std::size_t dim() const override {
        prepared();
        return dim_;
    }

    const mdlab::ForwardProcess& process() const override {
        prepared();
        return *process_;
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        prepared();
        if (mdlab::cols(x) != dim_)
            throw mdlab::Error("oracle: the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the manifold has ambient dimension " + std::to_string(dim_));
        const double a = process_->alpha(t), s = process_->sigma(t);
        if (!(s > 0.0) || !std::isfinite(s) || !std::isfinite(a))
            throw mdlab::Error("oracle: score asked at t = " + std::to_string(t) + " where sigma(t) = " +
                               std::to_string(s) + " and alpha(t) = " + std::to_string(a) +
                               " (the score needs sigma > 0)");
        if (closed_form_) {
            if (!manifold_->noised_score(x, a, s, out))
                throw mdlab::Error("oracle: the manifold's closed-form noised score became unavailable");
            return;
        }
        mdlab::kernels::softmax_score(x, keys_, a, s * s, out);
    }

private:
    void prepared() const {
        if (!manifold_ || !process_) throw mdlab::Error("oracle: used before prepare()");
    }

    std::size_t resolution_;
    std::string method_;
    bool closed_form_ = false;
    std::size_t dim_ = 0;
    std::shared_ptr<const mdlab::Manifold> manifold_;
    std::shared_ptr<const mdlab::ForwardProcess> process_;
    mdlab::kernels::SoftmaxKeys keys_;
};

}  // namespace

MDLAB_PLUGINS(Oracle)
