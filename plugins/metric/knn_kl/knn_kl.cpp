// knn_kl: the k-nearest-neighbour estimate of KL(q || mu_data), q the law of the generated
// samples, on the manifold (SCIENCE.md §4; Wang, Kulkarni and Verdu 2009, see
// mdlab/kernels/knn_divergence.hpp), or of KL(mu_data || q) with direction = data_samples (the
// direction of the Girsanov-type bounds, KL(true || generated); the roles of the two samples
// swap in the formula below):
//
//   KL_hat = (k_M / n) sum_i log( nu_k(i) / rho_k(i) ) + log( m / (n - 1) ),
//
// with k_M = manifold->intrinsic_dim(), n generated samples, m reference points. Both densities
// are taken with respect to the volume of M, where they exist: every point (samples, reference,
// baseline) is first projected onto M (manifold->project), and distances are the ambient
// Euclidean distances between the projected points. Those chord distances equal the intrinsic
// distances of M up to a factor 1 + O(curvature^2 r^2) for small r, and the estimator only uses
// ratios of k-th neighbour distances, which shrink as the samples grow; so it is consistent with
// d = k_M. This also handles periodic intrinsic coordinates (angles on the circle and torus)
// without special cases: near-by points across the seam theta = 0 = 2 pi are near-by in R^D.
// The reference (reference_size points, default the number of samples) comes from the stream
// "reference"; baseline_kl is the same estimate for a second fresh sample of n points (stream
// "baseline") against the same reference: a perfect generator's score, near 0 up to noise.
// Samples off M are judged by their nearest points on M: combine with manifold_distance.
// A reference sample may be given instead of the draw (input `reference`, m points): it is
// projected onto M like the rest when the manifold is connected; without the manifold nothing is
// projected, the densities are taken in R^D (k_M = D, or the `dim` parameter for data on an
// unknown k-dimensional manifold), and no baseline is reported.
// By the data-processing inequality the divergence of the projected laws is at most that of the
// laws in R^D, so an upper bound on the ambient KL also bounds this estimate (up to its error).
// Atoms: when k + 1 projected samples coincide (a memorising generator copying one training
// point several times) the samples' law has no density and kl = +inf, its true value; the run's
// log says so. A manifold whose mu_data is itself atomic (the dataset manifold: projection onto
// the nearest data point) has no density, and the metric stops with an error.
#include <cmath>
#include <string>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/kernels/knn_divergence.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>

namespace {

class KnnKl : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("knn_kl", "1.2.0",
                                 "k-nearest-neighbour estimate (Wang-Kulkarni-Verdu) of KL(samples || mu_data) on the "
                                 "manifold, beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (n x D, n > k)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: projection, intrinsic dimension, reference (unless `reference` is given) and "
                   "baseline samples",
                   false)
            .input("reference", mdlab::ValueKind::points,
                   "a given reference sample of mu_data (m x D, m >= k) instead of a fresh draw; without `manifold` the "
                   "points are not projected and no baseline is reported",
                   false)
            .param(mdlab::integer("k", 5, "neighbour rank k of the distances rho_k and nu_k")
                       .at_least(1)
                       .at_most(static_cast<double>(mdlab::kernels::max_neighbours)))
            .param(mdlab::integer("reference_size", 0,
                                  "size of the fresh reference sample of mu_data (0: as many as the samples)")
                       .at_least(0))
            .param(mdlab::choice("direction", "samples_data", {"samples_data", "data_samples"},
                                 "samples_data: KL(samples || mu_data); data_samples: KL(mu_data || samples), the "
                                 "direction of KL bounds on the generated law"))
            .param(mdlab::integer("dim", 0,
                                  "dimension k_M of the densities (0: the manifold's intrinsic dimension, or D "
                                  "without a manifold)")
                       .at_least(0));
    }

    explicit KnnKl(const mdlab::Params& p)
        : k_(p.count("k")), reference_size_(p.count("reference_size")),
          data_first_(p.string("direction") == "data_samples"), dim_(p.count("dim")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const mdlab::ReferenceSample reference(inputs, "knn_kl");
        reference.refuse_for_given("reference_size", reference_size_ != 0);
        const mdlab::Manifold* manifold = reference.manifold();
        const mdlab::Matrix& y = *samples;
        reference.require_samples(y, 0);
        const std::size_t n = mdlab::rows(y), m = reference_size_ == 0 ? n : reference_size_;
        if (n < k_ + 1)
            throw mdlab::InputError("knn_kl: " + std::to_string(n) + " samples, but the k-th nearest other sample "
                                        "needs at least k + 1 = " + std::to_string(k_ + 1),
                                    "samples");
        const std::size_t least = k_ + (data_first_ ? 1 : 0);
        const std::string needed = data_first_ ? "k + 1 = " + std::to_string(k_ + 1) + " (direction data_samples)"
                                               : "k = " + std::to_string(k_);
        if (!reference.given() && m < least)
            throw mdlab::InputError("knn_kl: reference_size = " + std::to_string(m) + " is below " + needed,
                                    "reference_size");
        const std::size_t dim = dim_ != 0 ? dim_ : manifold ? manifold->intrinsic_dim() : reference.dim();
        // On M when there is a manifold; in R^D as they are otherwise.
        const auto on_m = [&](const mdlab::Matrix& x) { return manifold ? manifold->project(x) : x; };
        const mdlab::Matrix ref = on_m(reference.points(m, ctx, least, "reference"));
        if (ctx.cancelled()) throw mdlab::Error("knn_kl: cancelled");
        ctx.progress(0.2);

        // Every point is projected onto M (when there is one), the samples and the baseline sample alike.
        const auto estimate = [&](const mdlab::Matrix& points, bool baseline) -> mdlab::Values {
            const mdlab::Matrix p = on_m(points);
            double kl = 0.0;
            try {
                kl = data_first_ ? mdlab::kernels::knn_kl_divergence(ref, p, k_, dim)
                                 : mdlab::kernels::knn_kl_divergence(p, ref, k_, dim);
            } catch (const mdlab::InputError&) {
                throw;
            } catch (const mdlab::Error& e) {
                throw mdlab::Error(std::string("knn_kl (") + (baseline ? "baseline sample" : "samples") +
                                   " projected onto the manifold): " + e.what());
            }
            if (std::isinf(kl) && !data_first_ && !baseline)
                ctx.log("knn_kl: more than k = " + std::to_string(k_) + " projected samples coincide: their law has "
                        "atoms, so KL(samples || mu_data) = +inf (memorised copies of training points?)");
            return {{"kl", kl}};
        };
        const mdlab::FreshBaseline how{"knn_kl", "baseline", mdlab::BaselineOrder::after, 0.6};
        mdlab::Values v = reference.with_baseline(y, ctx, how, estimate);
        ctx.progress(1.0);
        v.emplace_back("n_samples", static_cast<double>(n));
        v.emplace_back("n_reference", static_cast<double>(mdlab::rows(ref)));
        return v;
    }

private:
    std::size_t k_;
    std::size_t reference_size_;
    bool data_first_;
    std::size_t dim_;
};

}  // namespace

MDLAB_PLUGINS(KnnKl)
