// A mixture of K isotropic Gaussians in R^D: a full-dimensional reference law whose noised
// scores are known exactly (no manifold: the support is all of R^D). Means, weights and
// per-component variances are drawn or given (mixture_parameters.hpp); the ones used are written
// to the cell folder as <node>.means.npy (K x D), <node>.weights.npy and <node>.variances.npy (K).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/npy.hpp>

#include "mixture_parameters.hpp"

namespace {

using mdlab::Matrix;
using mdlab::Vector;

class GaussianMixture : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("gaussian_mixture", "1.1.0",
                                 "mixture of K isotropic Gaussians in R^D with random or given means, weights and "
                                 "variances: exact noised scores")
            .param(mdlab::integer("ambient_dim", 2, "ambient dimension D").at_least(1))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::integer("components", 4, "number K of mixture components").at_least(1))
            .param(mdlab::real("spread", 1.0, "scale of the means: mu_k = spread * Q g_k, g_k ~ N(0, I_m)").at_least(0.0))
            .param(mdlab::real("std", default_std, "standard deviation of every component (isotropic)").greater_than(0.0))
            .param(mdlab::integer("mean_dim", 0,
                                  "dimension m of the random subspace holding the means (0: m = D, means anywhere)")
                       .at_least(0))
            .param(mdlab::real_list("weights", {},
                                    "mixture weights, K non-negative values normalised to sum 1 (empty: equal weights)")
                       .at_least(0.0))
            .param(mdlab::real_list("means", {},
                                    "given means instead of drawn ones: K = components points of ambient_dim numbers, "
                                    "[[x1, ..., xD], ...] (or the K D numbers row after row); spread and mean_dim "
                                    "then stay at their defaults"))
            .param(mdlab::path("means_file", "given means in a .npy or .csv file, one mean per row (K x D), instead of 'means'"))
            .param(mdlab::real_list("variances", {},
                                    "per-component variances, K values > 0 (empty: std^2 for every component)")
                       .greater_than(0.0))
            .param(mdlab::path("variances_file",
                               "per-component variances in a .npy or .csv file (K values in a row or a column), "
                               "instead of 'variances'"))
            .param(mdlab::normal_noise_param());
    }

    explicit GaussianMixture(const mdlab::Params& p)
        : d_(p.count("ambient_dim")),
          k_(p.count("components")),
          m_(p.count("mean_dim") == 0 ? p.count("ambient_dim") : p.count("mean_dim")),
          spread_(p.real("spread")) {
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
        weights_ = gaussian_mixture::mixture_weights(p, k_);
        spreads_ = gaussian_mixture::component_spreads(p, k_, default_std);
        given_means_ = gaussian_mixture::given_means(p, k_, d_);
        log_weights_.resize(k_);
        cumulative_.resize(k_);
        double c = 0.0;
        for (std::size_t j = 0; j < k_; ++j) {
            log_weights_[j] = weights_[j] > 0.0 ? std::log(weights_[j]) : -std::numeric_limits<double>::infinity();
            cumulative_[j] = c += weights_[j];
        }
        cumulative_.back() = 1.0;
    }

    // The given means, or drawn: Q (D x m) from the node's "embedding" stream, chunk 0; then the
    // K x m Gaussian matrix g drawn row-major from the node's "means" stream, chunk 0;
    // mu_k = spread * Q g_k. Then the parameters used are recorded in the cell folder.
    void prepare(mdlab::Context& ctx) override {
        if (given_means_) {
            means_ = *given_means_;
        } else {
            mdlab::Rng rng = ctx.stream("embedding").chunk(0);
            const mdlab::Isometry q = mdlab::Isometry::random(d_, m_, rng);
            Matrix g = Matrix::from_shape({k_, m_});
            mdlab::Rng mr = ctx.stream("means").chunk(0);
            for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = mr.normal();
            means_ = q.embed(g) * spread_;
        }
        record(ctx);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return d_; }

    // A component j with probability w_j (one uniform draw), then mu_j + std_j * N(0, I_D).
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        for (std::size_t i = 0; i < count; ++i) {
            const double u = rng.uniform();
            const std::size_t j = static_cast<std::size_t>(
                std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
            const std::size_t c = std::min(j, k_ - 1);
            const double* mu = mdlab::row(means_, c);
            for (std::size_t a = 0; a < d_; ++a) out[i * d_ + a] = mu[a] + spreads_.stds[c] * rng.normal();
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

    // alpha x0 + sigma eps ~ sum_j w_j N(alpha mu_j, v_j I), v_j = alpha^2 std_j^2 + sigma^2, whose score is
    //   sum_j p_j (alpha mu_j - x) / v_j,  p = softmax_j( log w_j - |x - alpha mu_j|^2 / (2 v_j) - (D/2) log(v_j / v_0) ),
    // with the softmax taken after subtracting the largest logit (log-sum-exp), so it neither
    // overflows nor divides 0 by 0 far from every component. Summed as v_0 / v_j times the terms,
    // divided by v_0 at the end: with equal variances v_0 / v_j is exactly 1 and the log term
    // exactly 0, the arithmetic of a single variance.
    bool noised_score(const Matrix& x, double alpha, double sigma, Matrix& out) const override {
        require_prepared();
        check(x);
        std::vector<double> v(k_), ratio(k_), log_norm(k_);
        for (std::size_t j = 0; j < k_; ++j) {
            const double s = spreads_.stds[j];  // std^2 as alpha * alpha * s * s when not given, as always
            v[j] = (spreads_.given ? alpha * alpha * spreads_.variances[j] : alpha * alpha * s * s) + sigma * sigma;
            if (!(v[j] > 0.0)) throw mdlab::Error("gaussian_mixture: noised_score needs alpha or sigma > 0");
        }
        for (std::size_t j = 0; j < k_; ++j) {
            ratio[j] = v[0] / v[j];
            log_norm[j] = v[j] == v[0] ? 0.0 : 0.5 * static_cast<double>(d_) * std::log(v[j] / v[0]);
        }
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
                    logit[j] = log_weights_[j] - r2 / (2.0 * v[j]) - log_norm[j];
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
                    const double pr = p * ratio[j];
                    for (std::size_t a = 0; a < d_; ++a) si[a] += pr * (alpha * mu[a] - xi[a]);
                }
                for (std::size_t a = 0; a < d_; ++a) si[a] /= total * v[0];
            }
        });
        return true;
    }

private:
    static constexpr double default_std = 0.2;

    // <node>.means.npy, <node>.weights.npy, <node>.variances.npy in the cell folder (none when the
    // context has no folder).
    void record(mdlab::Context& ctx) const {
        const auto& dir = ctx.output_dir();
        if (dir.empty()) return;
        mdlab::npy::write(dir / (ctx.node_id() + ".means.npy"), means_);
        mdlab::npy::write_array(dir / (ctx.node_id() + ".weights.npy"), weights_.data(), {k_});
        mdlab::npy::write_array(dir / (ctx.node_id() + ".variances.npy"), spreads_.variances.data(), {k_});
    }

    void require_prepared() const {
        if (means_.size() == 0) throw mdlab::Error("gaussian_mixture: prepare() must be called before use");
    }
    void check(const Matrix& x) const {
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError("gaussian_mixture: points have " + std::to_string(mdlab::cols(x)) +
                                    " columns, expected ambient_dim = " + std::to_string(d_));
    }

    std::size_t d_, k_, m_;
    double spread_;
    std::vector<double> weights_, log_weights_, cumulative_;
    gaussian_mixture::Spreads spreads_;
    std::optional<Matrix> given_means_;
    Matrix means_;
};

}  // namespace

MDLAB_PLUGINS(GaussianMixture)
