// drift_score_gap: how far the mean-shift drift of drifting models is from score matching
// between smoothed distributions (SCIENCE.md section 2 'drift', section 5 claim 4).
//
// At evaluation points q (the model samples, or a random subset of them), with data X and model
// samples Y:
//   V(q)  = m_k(q; X) - m_k(q; Y)                      (the kernel's mean-shift drift),
//   G(q)  = b^2 (s_X,b(q) - s_Y,b(q))                  (its score-matching counterpart),
// s_P,b = grad log (P * N(0, b^2 I)) the score of the Gaussian-smoothed empirical measure of P
// (the softmax score with a = 1, v = b^2), at the bandwidth b = score_tau (default: b = tau).
// For the Gaussian kernel and b = tau, V = G identically (the gap is rounding); for the Laplace
// kernel V only approximates G: closely at low temperature, where both weightings pick the
// nearest points. In high dimension the distances r_j from q to the points that carry the
// weight concentrate around some R, and exp(-r_j / tau) = exp(-(r_j^2 - R^2) / (2 R tau)) up to a
// factor: the Laplace kernel acts as a Gaussian one of bandwidth b = sqrt(R tau), which
// score_tau lets one compare with. Reported:
//   relative_gap  = sqrt(mean |V - G|^2 / mean |V|^2),
//   cosine        = mean over the points of V . G / (|V| |G|) (points where either vanishes are skipped),
//   drift_rms     = sqrt(mean |V|^2),  score_gap_rms = sqrt(mean |G|^2),  n_queries.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>

namespace {

void require_points(const mdlab::Matrix& p, const std::string& port) {
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

class DriftScoreGap : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("drift_score_gap", "1.0.0",
                                 "gap between the mean-shift drift V = m_k(.; X) - m_k(.; Y) and tau^2 times the "
                                 "smoothed score difference, at the model samples (0 for the Gaussian kernel)")
            .input("samples", mdlab::ValueKind::points, "model samples Y (M x D), also the evaluation points")
            .input("data", mdlab::ValueKind::points, "data points X (N x D)")
            .param(mdlab::choice("kernel", "laplace", {"gaussian", "laplace"},
                                 "drift kernel: gaussian exp(-|x-y|^2 / (2 tau^2)) or laplace exp(-|x-y| / tau)"))
            .param(mdlab::real("tau", 0.5, "kernel bandwidth (temperature); also the smoothing of the scores")
                       .greater_than(0.0))
            .param(mdlab::real("score_tau", 0.0,
                               "bandwidth b of the score-matching counterpart b^2 (s_X,b - s_Y,b) (0: b = tau; for a "
                               "Laplace kernel in high dimension b = sqrt(R tau), R the typical distance to the data, matches)")
                       .at_least(0.0))
            .param(mdlab::integer("queries", 0,
                                  "number of evaluation points: a random subset of the samples without replacement "
                                  "(0 or more than M: all samples)")
                       .at_least(0));
    }

    explicit DriftScoreGap(const mdlab::Params& p)
        : kernel_(mdlab::kernels::mean_shift_kernel(p.string("kernel"))), tau_(p.real("tau")),
          score_tau_(p.real("score_tau") > 0.0 ? p.real("score_tau") : tau_), queries_(p.count("queries")) {
        if (!(tau_ * tau_ >= DBL_MIN) || !std::isfinite(tau_))
            throw mdlab::InputError("drift_score_gap: tau = " + std::to_string(tau_) +
                                        " is out of range (tau^2 must be a finite normal double)",
                                    "tau");
        if (!(score_tau_ * score_tau_ >= DBL_MIN) || !std::isfinite(score_tau_))
            throw mdlab::InputError("drift_score_gap: score_tau = " + std::to_string(score_tau_) +
                                        " is out of range (its square must be a finite normal double)",
                                    "score_tau");
    }

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto data = inputs.points("data");
        if (!samples || !data) throw mdlab::Error("drift_score_gap: input 'samples' or 'data' is null");
        const mdlab::Matrix& y = *samples;
        const mdlab::Matrix& x = *data;
        require_points(y, "samples");
        require_points(x, "data");
        const std::size_t d = mdlab::cols(y);
        if (mdlab::cols(x) != d)
            throw mdlab::InputError("drift_score_gap: the data has dimension " + std::to_string(mdlab::cols(x)) +
                                        ", the samples " + std::to_string(d),
                                    "data");

        const mdlab::Matrix q = evaluation_points(y, ctx);
        const std::size_t m = mdlab::rows(q);
        const mdlab::kernels::SoftmaxKeys data_keys(x), model_keys(y);

        mdlab::Matrix v, to_data, to_model;
        mdlab::kernels::drift_field(q, data_keys, &model_keys, kernel_, tau_, v);
        if (ctx.cancelled()) throw mdlab::Error("drift_score_gap: cancelled");
        ctx.progress(0.5);
        const double v2 = score_tau_ * score_tau_;
        mdlab::kernels::softmax_score(q, data_keys, 1.0, v2, to_data);
        mdlab::kernels::softmax_score(q, model_keys, 1.0, v2, to_model);
        mdlab::Matrix g = mdlab::Matrix::from_shape({m, d});
        mdlab::for_each_index(m * d, [&](std::size_t k) { g.data()[k] = v2 * (to_data.data()[k] - to_model.data()[k]); });

        auto dot = [&](const mdlab::Matrix& a, const mdlab::Matrix& b, std::size_t i) {
            double s = 0.0;
            for (std::size_t j = 0; j < d; ++j) s += a(i, j) * b(i, j);
            return s;
        };
        const double drift2 = mdlab::ordered_sum(m, [&](std::size_t i) { return dot(v, v, i); });
        const double score2 = mdlab::ordered_sum(m, [&](std::size_t i) { return dot(g, g, i); });
        const double gap2 = mdlab::ordered_sum(m, [&](std::size_t i) {
            double s = 0.0;
            for (std::size_t j = 0; j < d; ++j) s += (v(i, j) - g(i, j)) * (v(i, j) - g(i, j));
            return s;
        });
        // Cosine per point, skipping points where either field vanishes (no direction).
        const double cos_sum = mdlab::ordered_sum(m, [&](std::size_t i) {
            const double n = std::sqrt(dot(v, v, i)) * std::sqrt(dot(g, g, i));
            return n > 0.0 ? dot(v, g, i) / n : 0.0;
        });
        const double cos_count = mdlab::ordered_sum(m, [&](std::size_t i) {
            return std::sqrt(dot(v, v, i)) * std::sqrt(dot(g, g, i)) > 0.0 ? 1.0 : 0.0;
        });
        ctx.progress(1.0);

        const double nan = std::numeric_limits<double>::quiet_NaN();
        // 0 / 0 (V = G = 0 everywhere, e.g. samples equal to the data) is a gap of 0.
        const double relative =
            drift2 > 0.0 ? std::sqrt(gap2 / drift2) : (gap2 > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
        return {{"relative_gap", relative},
                {"cosine", cos_count > 0.0 ? cos_sum / cos_count : nan},
                {"drift_rms", std::sqrt(drift2 / double(m))},
                {"score_gap_rms", std::sqrt(score2 / double(m))},
                {"n_queries", double(m)}};
    }

private:
    // All samples, or `queries` of them drawn without replacement (partial Fisher-Yates on one
    // generator of the node's stream "queries"), kept in their original order.
    mdlab::Matrix evaluation_points(const mdlab::Matrix& y, mdlab::Context& ctx) const {
        const std::size_t n = mdlab::rows(y), d = mdlab::cols(y);
        if (queries_ == 0 || queries_ >= n) return y;
        std::vector<std::size_t> idx(n);
        std::iota(idx.begin(), idx.end(), std::size_t(0));
        mdlab::Rng rng = ctx.stream("queries").chunk(0);
        for (std::size_t i = 0; i < queries_; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
        idx.resize(queries_);
        std::sort(idx.begin(), idx.end());
        mdlab::Matrix q = mdlab::Matrix::from_shape({queries_, d});
        for (std::size_t i = 0; i < queries_; ++i) std::copy(mdlab::row(y, idx[i]), mdlab::row(y, idx[i]) + d, mdlab::row(q, i));
        return q;
    }

    mdlab::kernels::MeanShiftKernel kernel_;
    double tau_, score_tau_;
    std::size_t queries_;
};

}  // namespace

MDLAB_PLUGINS(DriftScoreGap)
