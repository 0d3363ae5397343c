// A mixture of K isotropic Gaussians in R^D: a full-dimensional reference law whose noised
// scores are known exactly (no manifold: the support is all of R^D).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

using mdlab::Matrix;
using mdlab::Vector;

class GaussianMixture : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("gaussian_mixture", "1.0.0",
                                 "mixture of K isotropic Gaussians in R^D with random means: exact noised scores")
            .param(mdlab::integer("ambient_dim", 2, "ambient dimension D").at_least(1))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::integer("components", 4, "number K of mixture components").at_least(1))
            .param(mdlab::real("spread", 1.0, "scale of the means: mu_k = spread * Q g_k, g_k ~ N(0, I_m)").at_least(0.0))
            .param(mdlab::real("std", 0.2, "standard deviation of every component (isotropic)").greater_than(0.0))
            .param(mdlab::integer("mean_dim", 0,
                                  "dimension m of the random subspace holding the means (0: m = D, means anywhere)")
                       .at_least(0))
            .param(mdlab::real_list("weights", {},
                                    "mixture weights, K non-negative values normalised to sum 1 (empty: equal weights)")
                       .at_least(0.0))
            .param(mdlab::normal_noise_param());
    }

    explicit GaussianMixture(const mdlab::Params& p)
        : d_(p.count("ambient_dim")),
          k_(p.count("components")),
          m_(p.count("mean_dim") == 0 ? p.count("ambient_dim") : p.count("mean_dim")),
          spread_(p.real("spread")),
          std_(p.real("std")) {
        if (m_ > d_)
            throw mdlab::InputError("gaussian_mixture: mean_dim = " + std::to_string(m_) +
                                        " is larger than ambient_dim = " + std::to_string(d_),
                                    "mean_dim");
        // The law is full-dimensional: there is no normal space to add noise in.
        if (p.real("noise") > 0.0)
            throw mdlab::InputError("gaussian_mixture: noise must be 0: the mixture is full-dimensional (it has no "
                                    "normal space); widen the components with 'std' instead",
                                    "noise");
        set_normal_noise(0.0);
        const std::vector<double>& w = p.real_list("weights");
        if (w.empty()) {
            weights_.assign(k_, 1.0 / static_cast<double>(k_));
        } else {
            if (w.size() != k_)
                throw mdlab::InputError("gaussian_mixture: 'weights' has " + std::to_string(w.size()) +
                                            " values but there are components = " + std::to_string(k_),
                                        "weights");
            double total = 0.0;
            for (double v : w) {
                if (!(v >= 0.0) || !std::isfinite(v))
                    throw mdlab::InputError("gaussian_mixture: weights must be finite and non-negative", "weights");
                total += v;
            }
            if (!(total > 0.0)) throw mdlab::InputError("gaussian_mixture: the weights sum to 0", "weights");
            for (double v : w) weights_.push_back(v / total);
        }
        log_weights_.resize(k_);
        cumulative_.resize(k_);
        double c = 0.0;
        for (std::size_t j = 0; j < k_; ++j) {
            log_weights_[j] = weights_[j] > 0.0 ? std::log(weights_[j]) : -std::numeric_limits<double>::infinity();
            cumulative_[j] = c += weights_[j];
        }
        cumulative_.back() = 1.0;
    }

    // Q (D x m) from the node's "embedding" stream, chunk 0; then the K x m Gaussian matrix g
    // drawn row-major from the node's "means" stream, chunk 0; mu_k = spread * Q g_k.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        const mdlab::Isometry q = mdlab::Isometry::random(d_, m_, rng);
        Matrix g = Matrix::from_shape({k_, m_});
        mdlab::Rng mr = ctx.stream("means").chunk(0);
        for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = mr.normal();
        means_ = q.embed(g) * spread_;
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return d_; }

    // A component j with probability w_j (one uniform draw), then mu_j + std * N(0, I_D).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        for (std::size_t i = 0; i < count; ++i) {
            const double u = rng.uniform();
            const std::size_t j = static_cast<std::size_t>(
                std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
            const double* mu = mdlab::row(means_, std::min(j, k_ - 1));
            for (std::size_t a = 0; a < d_; ++a) out[i * d_ + a] = mu[a] + std_ * rng.normal();
        }
    }

    // The support is all of R^D: every point is its own projection, at distance 0.
    Matrix project(const Matrix& x) const override {
        check(x);
        return x;
    }
    Vector distance(const Matrix& x) const override {
        check(x);
        Vector d = Vector::from_shape({mdlab::rows(x)});
        std::fill(d.begin(), d.end(), 0.0);  // not from_shape * 0: uninitialised NaNs would stay NaN
        return d;
    }
    // The ambient coordinates themselves.
    Matrix intrinsic_coords(const Matrix& x) const override {
        check(x);
        return x;
    }

    mdlab::Quadrature quadrature(std::size_t) const override {
        throw mdlab::Error("gaussian_mixture has no quadrature rule: its noised scores have a closed form "
                           "(use them through noised_score, as the oracle does)");
    }

    // The standard basis of R^D at every point (k = D; there is no normal space).
    void tangent_bases(const Matrix& points, mdlab::TangentBases& out) const override {
        check(points);
        out = mdlab::TangentBases::from_shape({mdlab::rows(points), d_, d_});
        std::fill(out.begin(), out.end(), 0.0);
        for (std::size_t i = 0; i < mdlab::rows(points); ++i)
            for (std::size_t a = 0; a < d_; ++a) out(i, a, a) = 1.0;
    }

    // alpha x0 + sigma eps ~ sum_j w_j N(alpha mu_j, v I), v = alpha^2 std^2 + sigma^2, whose score is
    //   sum_j p_j (alpha mu_j - x) / v,  p = softmax_j( log w_j - |x - alpha mu_j|^2 / (2 v) ),
    // with the softmax taken after subtracting the largest logit (log-sum-exp), so it neither
    // overflows nor divides 0 by 0 far from every component.
    bool noised_score(const Matrix& x, double alpha, double sigma, Matrix& out) const override {
        require_prepared();
        check(x);
        const double v = alpha * alpha * std_ * std_ + sigma * sigma;
        if (!(v > 0.0)) throw mdlab::Error("gaussian_mixture: noised_score needs alpha or sigma > 0");
        out = Matrix::from_shape({mdlab::rows(x), d_});
        mdlab::for_chunks(mdlab::rows(x), 256, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> logit(k_);
            for (std::size_t i = b; i < e; ++i) {
                const double* xi = mdlab::row(x, i);
                double top = -std::numeric_limits<double>::infinity();
                for (std::size_t j = 0; j < k_; ++j) {
                    const double* mu = mdlab::row(means_, j);
                    double r2 = 0.0;
                    for (std::size_t a = 0; a < d_; ++a) {
                        const double r = xi[a] - alpha * mu[a];
                        r2 += r * r;
                    }
                    logit[j] = log_weights_[j] - r2 / (2.0 * v);
                    top = std::max(top, logit[j]);
                }
                double* si = mdlab::row(out, i);
                std::fill(si, si + d_, 0.0);
                double total = 0.0;
                for (std::size_t j = 0; j < k_; ++j) {
                    const double p = std::exp(logit[j] - top);  // the largest term is exp(0) = 1
                    if (p == 0.0) continue;
                    total += p;
                    const double* mu = mdlab::row(means_, j);
                    for (std::size_t a = 0; a < d_; ++a) si[a] += p * (alpha * mu[a] - xi[a]);
                }
                for (std::size_t a = 0; a < d_; ++a) si[a] /= total * v;
            }
        });
        return true;
    }

private:
    void require_prepared() const {
        if (means_.size() == 0) throw mdlab::Error("gaussian_mixture: prepare() must be called before use");
    }
    void check(const Matrix& x) const {
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("gaussian_mixture: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
    }

    std::size_t d_, k_, m_;
    double spread_, std_;
    std::vector<double> weights_, log_weights_, cumulative_;
    Matrix means_;
};

}  // namespace

MDLAB_PLUGINS(GaussianMixture)
