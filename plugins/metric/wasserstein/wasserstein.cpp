// wasserstein: exact W1 and W2 between the generated samples and a fresh sample of mu_data
// (SCIENCE.md §4).
//
// Both empirical laws have n points of weight 1/n, so an optimal plan is a permutation and
//   W_p(Y, R)^p = min_sigma (1/n) sum_i |y_i - r_sigma(i)|^p,
// an assignment problem (mdlab/kernels/assignment.hpp, shortest augmenting paths, O(n^3)).
// W1 uses the Euclidean cost, W2 the squared Euclidean cost: two different plans, two solves.
// The reference R is drawn with manifold->sample(n, ctx.stream("reference")). Even a perfect
// generator scores W_p > 0 against a finite reference (W_p between two n-samples of one law
// decays like n^{-1/k} on a k-dimensional support), so the same figures are reported for a
// second fresh sample B = manifold->sample(n, ctx.stream("baseline")) against the same R.
//
// reference_factor r > 1 takes a reference of r n points, so that the reference's own
// fluctuations weigh less (W_p(Y, R) -> W_p(Y, mu_data) as r grows; the floor left is Y's own).
// The laws are uniform on n and r n points; an optimal plan between them is an assignment of the
// r-fold copy of Y to R (the plan scaled by r n is a doubly stochastic matrix between the copies,
// and Birkhoff's theorem puts a permutation among its optima), so the same exact solver applies,
// at size r n.
//
// A reference sample may also be given (input `reference`, m = r n rows): the figures are then
// between the samples and those points, as when comparing two given point sets from Python
// (mdlab.metric("wasserstein", samples=X, reference=Y)); the baseline needs the manifold.
#include <cmath>
#include <cstdio>
#include <string>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/kernels/assignment.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

mdlab::Matrix first_rows(const mdlab::Matrix& x, std::size_t n) {
    mdlab::Matrix out = mdlab::Matrix::from_shape({n, mdlab::cols(x)});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < mdlab::cols(x); ++j) out(i, j) = x(i, j);
    return out;
}

// W1 and (when asked) W2 between the uniform laws on the rows of a (n) and of ref (r n).
mdlab::Values both(const mdlab::Matrix& a, const mdlab::Matrix& ref, bool w2) {
    const std::size_t n = mdlab::rows(a), d = mdlab::cols(a), r = mdlab::rows(ref) / n;
    mdlab::Matrix copies = mdlab::Matrix::from_shape({r * n, d});
    for (std::size_t c = 0; c < r; ++c)
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < d; ++j) copies(c * n + i, j) = a(i, j);
    mdlab::Values v{{"w1", mdlab::kernels::wasserstein_exact(copies, ref, 1.0)}};
    if (w2) v.emplace_back("w2", mdlab::kernels::wasserstein_exact(copies, ref, 2.0));
    return v;
}

class Wasserstein : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("wasserstein", "1.0.0",
                                 "exact W1 and W2 (optimal assignment) between the samples and a fresh sample of "
                                 "mu_data of the same size, beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (n x D)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold; draws the reference sample (unless `reference` is given) and the baseline",
                   false)
            .input("reference", mdlab::ValueKind::points,
                   "a given reference sample R (m x D, m a multiple of the samples used) instead of a fresh draw; "
                   "without `manifold` no baseline is reported",
                   false)
            .param(mdlab::integer("max_size", 2000,
                                  "largest n solved exactly (O(n^3) time, 8 n^2 bytes per cost matrix); above it the "
                                  "metric refuses and points to sliced_wasserstein; the size solved is "
                                  "reference_factor x n")
                       .at_least(1))
            .param(mdlab::integer("reference_factor", 1,
                                  "the reference sample of mu_data has reference_factor x n points (exact transport "
                                  "between n and r n uniform points, solved as an assignment of size r n)")
                       .at_least(1)
                       .at_most(64))
            .param(mdlab::integer("samples_used", 0,
                                  "use the first samples_used rows of the samples (0: all of them): a smaller sample of "
                                  "the same law when the sampler's n serves a cheaper metric too")
                       .at_least(0))
            .param(mdlab::boolean("w2", true, "also solve for W2 (a second assignment per pair; false: W1 only)"));
    }

    explicit Wasserstein(const mdlab::Params& p)
        : max_size_(p.count("max_size")),
          factor_(p.count("reference_factor")),
          used_(p.count("samples_used")),
          w2_(p.boolean("w2")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const mdlab::ReferenceSample reference(inputs, "wasserstein");
        const bool given = reference.given();
        reference.require_samples(*samples);
        reference.refuse_for_given("reference_factor", factor_ != 1);
        const mdlab::Matrix given_points = given ? reference.points(0, ctx) : mdlab::Matrix{};
        if (used_ > mdlab::rows(*samples))
            throw mdlab::InputError("wasserstein: samples_used = " + std::to_string(used_) + " but the sampler gave " +
                                        std::to_string(mdlab::rows(*samples)) + " samples",
                                    "samples_used");
        const mdlab::Matrix y = used_ == 0 ? *samples : first_rows(*samples, used_);
        const std::size_t n = mdlab::rows(y), size = given ? mdlab::rows(given_points) : factor_ * n;
        if (given && size % n != 0)
            throw mdlab::InputError("wasserstein: the reference has " + std::to_string(size) + " points, not a multiple "
                                        "of the " + std::to_string(n) + " samples used (uniform laws on n and r n "
                                        "points; samples_used picks a divisor)",
                                    "reference");
        if (size > max_size_) {
            // Measured: 1.5 to 8 s per solve at n = 2000 (worst for low-dimensional, shifted
            // laws), i.e. up to about (n / 1000)^3 s; four solves, two cost matrices at once.
            const double mb = 8.0 * double(size) * double(size) / 1e6;
            const double secs = (w2_ ? 4.0 : 2.0) * std::pow(double(size) / 1000.0, 3);
            throw mdlab::InputError(
                "wasserstein: " + std::to_string(n) + " samples" +
                    (factor_ > 1 ? " x reference_factor " + std::to_string(factor_) : std::string()) +
                    " exceed max_size = " + std::to_string(max_size_) + ": exact transport solves " +
                    (w2_ ? "4" : "2") + " assignment problems of " + std::to_string(size) + " x " +
                    std::to_string(size) + " costs (" + fixed(mb, 0) + " MB per cost matrix, two held at once) in O(n^3) "
                    "time, up to about " + fixed(secs, 0) + " s of CPU. Use the sliced_wasserstein metric for large "
                    "samples, pass fewer samples, or raise max_size",
                "samples");
        }
        const mdlab::Matrix ref = given ? given_points : reference.points(size, ctx);
        if (ctx.cancelled()) throw mdlab::Error("wasserstein: cancelled");
        ctx.progress(0.05);

        // The two problems are independent; each result is deterministic on its own.
        const mdlab::FreshBaseline how{"wasserstein", "baseline", mdlab::BaselineOrder::after, 1.0, true};
        const auto w = [&](const mdlab::Matrix& p) { return both(p, ref, w2_); };
        mdlab::Values v = reference.with_baseline(y, ctx, how, w);
        v.emplace_back("n_samples", static_cast<double>(n));
        v.emplace_back("n_reference", static_cast<double>(size));
        return v;
    }

private:
    std::size_t max_size_, factor_, used_;
    bool w2_;
};

}  // namespace

MDLAB_PLUGINS(Wasserstein)
