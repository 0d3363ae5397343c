// drift_score_gap: the mean-shift drift of drifting models split exactly into a score-based
// field and a residual (Lai et al., arXiv 2603.07514; SCIENCE.md section 2 'drift', section 5
// claim 4; the decomposition is in mdlab/kernels/mean_shift_decomposition.hpp).
//
// At evaluation points q (the model samples Y, or a random subset of them), with data X:
//   m_X(q) = lambda_X s_X + R_X,   m_Y(q) = lambda_Y s_Y + R_Y,
//   V = m_X - m_Y = (lambda_X s_X - lambda_Y s_Y) + (R_X - R_Y),
// s_P the score of P smoothed by the kernel, lambda_P = 1 / E_w[g] its preconditioner and R_P
// the covariance residual (0 for the Gaussian kernel). With mask_self the query's own sample is
// left out of the model sums (the j = i term of the particle-particle kernel sum): a particle
// does not repel itself, and the Laplace score is not defined at r = 0. Reported:
//   residual_rel        = sqrt(sum |R_X|^2 / sum |m_X|^2), the data term's residual, relative;
//   model_residual_rel  = the same for the model term m_Y;
//   drift_residual_rel  = sqrt(sum |R_X - R_Y|^2 / sum |V|^2), the drift's residual, relative;
//   cosine              = mean over the points of cos(V, score-based part of V);
//   spread              = mean over the points of sd_w(g) / E_w[g] for the data term (how far
//                         the weighted 1/r is from constant; 0 for the Gaussian kernel);
//   identity_error      = sqrt(sum |m_X - lambda_X s_X - R_X|^2 / sum |m_X|^2), with m_X from the
//                         streaming mean-shift kernel (an independent code path): rounding;
//   drift_rms = sqrt(mean |V|^2), n_queries.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/kernels/mean_shift_decomposition.hpp>
#include <mdlab/mdlab.hpp>

namespace {

using mdlab::Matrix;

void require_points(const Matrix& p, const std::string& port) {
    if (mdlab::rows(p) == 0 || mdlab::cols(p) == 0)
        throw mdlab::InputError("drift_score_gap: input '" + port + "' is empty (" + std::to_string(mdlab::rows(p)) +
                                    " x " + std::to_string(mdlab::cols(p)) + " points)",
                                port);
    for (std::size_t k = 0; k < p.size(); ++k)
        if (!std::isfinite(p.data()[k]))
            throw mdlab::InputError("drift_score_gap: row " + std::to_string(k / mdlab::cols(p)) + " of '" + port +
                                        "' is not finite",
                                    port);
}

// sum over rows of |a_i - b_i|^2 (b == nullptr: |a_i|^2), in row order.
double sum_sq(const Matrix& a, const Matrix* b = nullptr) {
    const std::size_t d = mdlab::cols(a);
    return mdlab::ordered_sum(mdlab::rows(a), [&](std::size_t i) {
        double s = 0.0;
        for (std::size_t j = 0; j < d; ++j) {
            const double v = a(i, j) - (b ? (*b)(i, j) : 0.0);
            s += v * v;
        }
        return s;
    });
}

double ratio(double num, double den) {  // 0 / 0 (both fields vanish) is 0
    return den > 0.0 ? std::sqrt(num / den) : (num > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
}

class DriftScoreGap : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("drift_score_gap", "2.0.0",
                                 "exact split of the mean-shift drift V = m_k(.; X) - m_k(.; Y) into a score-based field "
                                 "(preconditioned smoothed scores) and a covariance residual, at the model samples "
                                 "(residual 0 for the Gaussian kernel)")
            .input("samples", mdlab::ValueKind::points, "model samples Y (M x D), also the evaluation points")
            .input("data", mdlab::ValueKind::points, "data points X (N x D)")
            .param(mdlab::choice("kernel", "laplace", {"gaussian", "laplace"},
                                 "drift kernel: gaussian exp(-|x-y|^2 / (2 tau^2)) or laplace exp(-|x-y| / tau)"))
            .param(mdlab::real("tau", 0.5, "kernel bandwidth (temperature)").greater_than(0.0))
            .param(mdlab::boolean("mask_self", true,
                                  "leave each evaluation point's own sample out of the model sums (no self-repulsion); "
                                  "required for the Laplace kernel, whose score is not defined at r = 0"))
            .param(mdlab::integer("queries", 0,
                                  "number of evaluation points: a random subset of the samples without replacement "
                                  "(0 or more than M: all samples)")
                       .at_least(0));
    }

    explicit DriftScoreGap(const mdlab::Params& p)
        : kernel_(mdlab::kernels::mean_shift_kernel(p.string("kernel"))), tau_(p.real("tau")),
          mask_self_(p.boolean("mask_self")), queries_(p.count("queries")) {
        if (!(tau_ * tau_ >= DBL_MIN) || !std::isfinite(tau_))
            throw mdlab::InputError("drift_score_gap: tau = " + std::to_string(tau_) +
                                        " is out of range (tau^2 must be a finite normal double)",
                                    "tau");
        if (kernel_ == mdlab::kernels::MeanShiftKernel::laplace && !mask_self_)
            throw mdlab::InputError("drift_score_gap: mask_self = false with the laplace kernel: each sample is at "
                                    "distance 0 from itself, where the Laplace-smoothed score is not defined",
                                    "mask_self");
    }

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto data = inputs.points("data");
        if (!samples || !data) throw mdlab::Error("drift_score_gap: input 'samples' or 'data' is null");
        const Matrix& y = *samples;
        const Matrix& x = *data;
        require_points(y, "samples");
        require_points(x, "data");
        const std::size_t d = mdlab::cols(y);
        if (mdlab::cols(x) != d)
            throw mdlab::InputError("drift_score_gap: the data has dimension " + std::to_string(mdlab::cols(x)) +
                                        ", the samples " + std::to_string(d),
                                    "data");
        if (mask_self_ && mdlab::rows(y) < 2)
            throw mdlab::InputError("drift_score_gap: mask_self needs at least 2 samples", "samples");

        const std::vector<std::size_t> idx = evaluation_indices(mdlab::rows(y), ctx);
        const std::size_t m = idx.size();
        Matrix q = Matrix::from_shape({m, d});
        for (std::size_t i = 0; i < m; ++i) std::copy(mdlab::row(y, idx[i]), mdlab::row(y, idx[i]) + d, mdlab::row(q, i));

        mdlab::kernels::MeanShiftParts to_data, to_model;
        mdlab::kernels::mean_shift_parts(q, x, kernel_, tau_, {}, to_data);
        ctx.progress(0.4);
        mdlab::kernels::mean_shift_parts(q, y, kernel_, tau_, mask_self_ ? idx : std::vector<std::size_t>{}, to_model);
        if (ctx.cancelled()) throw mdlab::Error("drift_score_gap: cancelled");
        ctx.progress(0.8);

        Matrix v = Matrix::from_shape({m, d}), rv = Matrix::from_shape({m, d}), sv = Matrix::from_shape({m, d});
        Matrix rebuilt = Matrix::from_shape({m, d});
        mdlab::for_each_index(m * d, [&](std::size_t k) {
            const std::size_t i = k / d;
            const double* sx = to_data.score.data();
            const double* sy = to_model.score.data();
            v.data()[k] = to_data.shift.data()[k] - to_model.shift.data()[k];
            rv.data()[k] = to_data.residual.data()[k] - to_model.residual.data()[k];
            sv.data()[k] = to_data.scale[i] * sx[k] - to_model.scale[i] * sy[k];
            rebuilt.data()[k] = to_data.scale[i] * sx[k] + to_data.residual.data()[k];
        });
        Matrix streamed;  // m_X by the streaming kernel the sampler and estimator use
        mdlab::kernels::mean_shift(q, x, kernel_, tau_, streamed);

        auto dot = [&](const Matrix& a, const Matrix& b, std::size_t i) {
            double s = 0.0;
            for (std::size_t j = 0; j < d; ++j) s += a(i, j) * b(i, j);
            return s;
        };
        const double cos_sum = mdlab::ordered_sum(m, [&](std::size_t i) {
            const double n = std::sqrt(dot(v, v, i) * dot(sv, sv, i));
            return n > 0.0 ? dot(v, sv, i) / n : 0.0;
        });
        const double cos_count = mdlab::ordered_sum(m, [&](std::size_t i) { return dot(v, v, i) * dot(sv, sv, i) > 0.0 ? 1.0 : 0.0; });
        const double spread_sum = mdlab::ordered_sum(m, [&](std::size_t i) { return to_data.spread[i]; });
        ctx.progress(1.0);

        const double drift2 = sum_sq(v);
        return {{"residual_rel", ratio(sum_sq(to_data.residual), sum_sq(to_data.shift))},
                {"model_residual_rel", ratio(sum_sq(to_model.residual), sum_sq(to_model.shift))},
                {"drift_residual_rel", ratio(sum_sq(rv), drift2)},
                {"cosine", cos_count > 0.0 ? cos_sum / cos_count : std::numeric_limits<double>::quiet_NaN()},
                {"spread", spread_sum / double(m)},
                {"identity_error", ratio(sum_sq(streamed, &rebuilt), sum_sq(streamed))},
                {"drift_rms", std::sqrt(drift2 / double(m))},
                {"n_queries", double(m)}};
    }

private:
    // All samples, or `queries` of them drawn without replacement (partial Fisher-Yates on one
    // generator of the node's stream "queries"), in their original order.
    std::vector<std::size_t> evaluation_indices(std::size_t n, mdlab::Context& ctx) const {
        std::vector<std::size_t> idx(n);
        std::iota(idx.begin(), idx.end(), std::size_t(0));
        if (queries_ == 0 || queries_ >= n) return idx;
        mdlab::Rng rng = ctx.stream("queries").chunk(0);
        for (std::size_t i = 0; i < queries_; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
        idx.resize(queries_);
        std::sort(idx.begin(), idx.end());
        return idx;
    }

    mdlab::kernels::MeanShiftKernel kernel_;
    double tau_;
    bool mask_self_;
    std::size_t queries_;
};

}  // namespace

MDLAB_PLUGINS(DriftScoreGap)
