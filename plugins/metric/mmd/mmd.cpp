// mmd: the unbiased squared maximum mean discrepancy between the generated samples and a fresh
// sample of mu_data, with a Gaussian kernel (SCIENCE.md §4; Gretton, Borgwardt, Rasch, Schoelkopf
// and Smola, "A kernel two-sample test", JMLR 13, 2012, eq. (3), the U-statistic):
//
//   MMD_u^2 = 1/(m(m-1)) sum_{i != j} k(y_i, y_j) + 1/(n(n-1)) sum_{i != j} k(r_i, r_j)
//             - 2/(m n) sum_{i, j} k(y_i, r_j),           k(a, b) = exp(-|a - b|^2 / (2 h^2)).
//
// It is an unbiased estimate of MMD^2 (so it can be slightly negative when the laws agree).
// Bandwidth h: the `bandwidth` parameter, or when it is 0 the median heuristic: h = the median of
// the pairwise distances |a - b| (a != b as rows) of the pooled sample Y u R; beyond
// `median_points` pooled points, of the fixed subset of rows floor(s (m + n) / S), s = 0..S-1,
// S = median_points, of the pooled matrix [Y; R] (evenly spread over both samples, no randomness).
// The sums are streamed (no m x n matrix), rows in parallel chunks, partial sums added in row
// order (mdlab::ordered_sum), so the value does not depend on the thread count.
// The reference R (reference_size points, default the number of samples) comes from the stream
// "reference". baseline_mmd2 is the same statistic, same kernel, for a second fresh sample of m
// points (stream "baseline") against R: it scatters around 0 and shows the noise level of mmd2 at
// these sample sizes. A reference sample may be given instead (input `reference`, n >= 2 points):
// the statistic is then between the samples and those points, and the baseline (a fresh draw
// against the given reference) is reported only when the manifold is connected too.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>
#include <mdlab/stats.hpp>

namespace {

inline double squared_distance(const double* a, const double* b, std::size_t d) {
    double s = 0.0;
    for (std::size_t c = 0; c < d; ++c) {
        const double e = a[c] - b[c];
        s += e * e;
    }
    return s;
}

// sum_{i < j} exp(-g |a_i - a_j|^2)
double sum_within(const mdlab::Matrix& a, double g) {
    const std::size_t n = mdlab::rows(a), d = mdlab::cols(a);
    return mdlab::ordered_sum(
        n,
        [&](std::size_t i) {
            const double* ai = mdlab::row(a, i);
            double s = 0.0;
            for (std::size_t j = i + 1; j < n; ++j) s += std::exp(-g * squared_distance(ai, mdlab::row(a, j), d));
            return s;
        },
        16);
}

// sum_{i, j} exp(-g |a_i - b_j|^2)
double sum_between(const mdlab::Matrix& a, const mdlab::Matrix& b, double g) {
    const std::size_t n = mdlab::rows(b), d = mdlab::cols(a);
    return mdlab::ordered_sum(
        mdlab::rows(a),
        [&](std::size_t i) {
            const double* ai = mdlab::row(a, i);
            double s = 0.0;
            for (std::size_t j = 0; j < n; ++j) s += std::exp(-g * squared_distance(ai, mdlab::row(b, j), d));
            return s;
        },
        16);
}

// Median of the pairwise distances of (a subset of) the pooled sample [y; r].
double median_bandwidth(const mdlab::Matrix& y, const mdlab::Matrix& r, std::size_t max_points) {
    const std::size_t m = mdlab::rows(y), total = m + mdlab::rows(r), d = mdlab::cols(y);
    const std::size_t s = std::min(total, max_points);
    std::vector<const double*> pts(s);
    for (std::size_t k = 0; k < s; ++k) {
        const std::size_t idx = k * total / s;
        pts[k] = idx < m ? mdlab::row(y, idx) : mdlab::row(r, idx - m);
    }
    std::vector<double> dist(s * (s - 1) / 2);
    // Pair (a, b), a < b, at offset a (2 s - a - 1) / 2 + (b - a - 1): rows in parallel.
    mdlab::for_chunks(s, 32, [&](std::size_t, std::size_t lo, std::size_t hi) {
        for (std::size_t a = lo; a < hi; ++a) {
            double* out = dist.data() + a * (2 * s - a - 1) / 2;
            for (std::size_t b = a + 1; b < s; ++b) out[b - a - 1] = std::sqrt(squared_distance(pts[a], pts[b], d));
        }
    });
    return mdlab::stats::median(dist);
}

class Mmd : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("mmd", "1.1.0",
                                 "unbiased MMD^2 with a Gaussian kernel between the samples and a fresh sample of "
                                 "mu_data (median-heuristic bandwidth by default), beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D, M >= 2)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold; draws the reference sample (unless `reference` is given) and the baseline", false)
            .input("reference", mdlab::ValueKind::points,
                   "a given reference sample R (n x D, n >= 2) instead of a fresh draw; without `manifold` no baseline "
                   "is reported",
                   false)
            .param(mdlab::real("bandwidth", 0.0,
                               "kernel bandwidth h in k = exp(-|a - b|^2 / (2 h^2)); 0: the median of the pairwise "
                               "distances of the pooled sample")
                       .at_least(0.0))
            .param(mdlab::integer("median_points", 2000,
                                  "largest number of pooled points whose pairwise distances enter the median "
                                  "heuristic (a fixed evenly spaced subset beyond it; memory 4 S^2 bytes)")
                       .at_least(2)
                       .at_most(10000))
            .param(mdlab::integer("reference_size", 0,
                                  "size of the fresh reference sample of mu_data (0: as many as the samples)")
                       .at_least(0));
    }

    explicit Mmd(const mdlab::Params& p)
        : bandwidth_(p.real("bandwidth")),
          median_points_(p.count("median_points")),
          reference_size_(p.count("reference_size")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const mdlab::ReferenceSample reference(inputs, "mmd");
        reference.refuse_for_given("reference_size", reference_size_ != 0);
        const mdlab::Matrix& y = *samples;
        reference.require_samples(y, 2, "the unbiased statistic needs at least 2");
        const std::size_t m = mdlab::rows(y), drawn = reference_size_ == 0 ? m : reference_size_;
        if (!reference.given() && drawn < 2)
            throw mdlab::InputError("mmd: reference_size = " + std::to_string(drawn) +
                                        "; the unbiased statistic needs at least 2 reference points",
                                    "reference_size");
        const mdlab::Matrix ref = reference.points(drawn, ctx, 2);
        const std::size_t n = mdlab::rows(ref);

        double h = bandwidth_;
        if (h == 0.0) {
            h = median_bandwidth(y, ref, median_points_);
            if (!(h > 0.0))
                throw mdlab::InputError("mmd: the median pairwise distance of the pooled sample is 0 (more than half "
                                        "of the pairs coincide), so the median heuristic gives no bandwidth; set "
                                        "'bandwidth' explicitly",
                                        "bandwidth");
        }
        if (ctx.cancelled()) throw mdlab::Error("mmd: cancelled");
        ctx.progress(0.1);

        const double g = 1.0 / (2.0 * h * h);
        const double dm = static_cast<double>(m), dn = static_cast<double>(n);
        const double krr = 2.0 * sum_within(ref, g) / (dn * (dn - 1.0));
        ctx.progress(0.3);
        // The samples and the baseline sample (as many points) against the same reference.
        const auto mmd2 = [&](const mdlab::Matrix& p) {
            const double kpp = 2.0 * sum_within(p, g) / (dm * (dm - 1.0));
            const double kpr = sum_between(p, ref, g) / (dm * dn);
            return mdlab::Values{{"mmd2", kpp + krr - 2.0 * kpr}};
        };
        const mdlab::FreshBaseline how{"mmd", "baseline", mdlab::BaselineOrder::after, 0.65};
        mdlab::Values v = reference.with_baseline(y, ctx, how, mmd2);
        ctx.progress(1.0);
        v.emplace_back("bandwidth", h);
        v.emplace_back("n_samples", dm);
        v.emplace_back("n_reference", dn);
        return v;
    }

private:
    double bandwidth_;
    std::size_t median_points_;
    std::size_t reference_size_;
};

}  // namespace

MDLAB_PLUGINS(Mmd)
