// sliced_wasserstein: the sliced Wasserstein distance between the generated samples and a fresh
// sample of mu_data (SCIENCE.md §4), for sample sizes beyond exact transport.
//
//   SW_p(Y, R) = ( (1/L) sum_l W_p(u_l . Y, u_l . R)^p )^{1/p},
// u_1..u_L uniform on the unit sphere S^{D-1} (normalised standard Gaussian vectors, drawn from
// the node's stream "directions", chunk c giving directions 256 c .. 256 c + 255 in row order:
// for each direction D normals, then division by their norm). In one dimension the optimal plan
// is monotone: W_p(a, b)^p = int_0^1 |F_a^{-1}(t) - F_b^{-1}(t)|^p dt with the quantile functions
// of the empirical laws, F_a^{-1}(t) = a_(i) for t in (i/m, (i+1)/m] (a sorted); with m and n
// points this is a sum over the merged breakpoints {i/m} u {j/n}, computed in integer units of
// 1/(m n), so unequal sizes are exact. Equal sizes reduce to (1/n) sum_i |a_(i) - b_(i)|^p.
// The reference R (reference_size points, default the number of samples) comes from the stream
// "reference"; the baseline is the same figure for a second fresh sample of as many points as Y
// (stream "baseline") against the same R and the same directions: what a perfect generator
// scores at this sample size. A reference sample may be given instead (input `reference`, any
// number of points): the figure is then between the samples and those points, and the baseline,
// drawn from the manifold against the given reference, is reported only when the manifold is
// connected too. Directions are processed in parallel, the per-direction values
// summed in direction order (mdlab::ordered_sum), so the result does not depend on the threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/reference_sample.hpp>

namespace {

double power(double x, int p) { return p == 1 ? x : x * x; }

// int_0^1 |F_a^{-1} - F_b^{-1}|^p for sorted a (m values) and b (n values).
double wpp_sorted(const std::vector<double>& a, const std::vector<double>& b, int p) {
    const std::uint64_t m = a.size(), n = b.size();
    std::uint64_t i = 0, j = 0, at = 0;  // positions in units of 1 / (m n)
    double sum = 0.0;
    while (i < m && j < n) {
        const std::uint64_t end_a = (i + 1) * n, end_b = (j + 1) * m;
        const std::uint64_t next = std::min(end_a, end_b);
        sum += static_cast<double>(next - at) * power(std::abs(a[i] - b[j]), p);
        at = next;
        if (end_a == next) ++i;
        if (end_b == next) ++j;
    }
    return sum / (static_cast<double>(m) * static_cast<double>(n));
}

void project_sorted(const mdlab::Matrix& x, const double* u, std::vector<double>& out) {
    const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double* xi = mdlab::row(x, i);
        double s = 0.0;
        for (std::size_t c = 0; c < d; ++c) s += xi[c] * u[c];
        out[i] = s;
    }
    std::sort(out.begin(), out.end());
}

class SlicedWasserstein : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("sliced_wasserstein", "1.1.0",
                                 "sliced Wasserstein distance SW_p over random directions between the samples and a "
                                 "fresh sample of mu_data, beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold; draws the reference sample (unless `reference` is given) and the baseline", false)
            .input("reference", mdlab::ValueKind::points,
                   "a given reference sample R (any number of points) instead of a fresh draw; without `manifold` no "
                   "baseline is reported",
                   false)
            .param(mdlab::integer("directions", 256, "number L of random unit directions").at_least(1))
            .param(mdlab::integer("p", 2, "order p of the transport cost |x - y|^p (1 or 2)").at_least(1).at_most(2))
            .param(mdlab::integer("reference_size", 0,
                                  "size of the fresh reference sample of mu_data (0: as many as the samples)")
                       .at_least(0));
    }

    explicit SlicedWasserstein(const mdlab::Params& p)
        : directions_(p.count("directions")),
          p_(static_cast<int>(p.integer("p"))),
          reference_size_(p.count("reference_size")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const mdlab::ReferenceSample reference(inputs, "sliced_wasserstein");
        reference.refuse_for_given("reference_size", reference_size_ != 0);
        const mdlab::Manifold* manifold = reference.manifold();
        const mdlab::Matrix& y = *samples;
        const std::size_t d = reference.dim();
        reference.require_samples(y);
        const std::size_t m = mdlab::rows(y);
        const mdlab::Matrix ref = reference.points(reference_size_ == 0 ? m : reference_size_, ctx);
        const std::size_t n = mdlab::rows(ref);
        // Not with_fresh_baseline: both figures share each direction's sorted projection of R.
        const mdlab::Matrix base = manifold ? mdlab::fresh_sample(*manifold, m, ctx) : mdlab::Matrix{};
        const std::size_t L = directions_;

        // Directions: chunk-wise from the stream, so they do not depend on the thread count.
        mdlab::Matrix u = mdlab::Matrix::from_shape({L, d});
        const mdlab::RandomStream dir_stream = ctx.stream("directions");
        mdlab::for_chunks(L, mdlab::random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            mdlab::Rng rng = dir_stream.chunk(c);
            for (std::size_t l = b; l < e; ++l) {
                double* ul = mdlab::row(u, l);
                double s = 0.0;
                while (!(s > 0.0)) {  // a zero vector has probability 0; draw again if it happens
                    s = 0.0;
                    for (std::size_t a = 0; a < d; ++a) {
                        const double z = rng.normal();
                        ul[a] = z;
                        s += z * z;
                    }
                }
                const double inv = 1.0 / std::sqrt(s);
                for (std::size_t a = 0; a < d; ++a) ul[a] *= inv;
            }
        });
        if (ctx.cancelled()) throw mdlab::Error("sliced_wasserstein: cancelled");
        ctx.progress(0.05);

        std::vector<double> own(L), fresh(L);
        mdlab::for_chunks(L, 4, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> py, pr, pb;
            for (std::size_t l = b; l < e; ++l) {
                const double* ul = mdlab::row(u, l);
                project_sorted(y, ul, py);
                project_sorted(ref, ul, pr);
                own[l] = wpp_sorted(py, pr, p_);
                if (!manifold) continue;
                project_sorted(base, ul, pb);
                fresh[l] = wpp_sorted(pb, pr, p_);
            }
        });
        ctx.progress(1.0);
        const double inv_p = 1.0 / static_cast<double>(p_);
        const double mean_own = mdlab::ordered_sum(L, [&](std::size_t l) { return own[l]; }) / double(L);
        const mdlab::Values own_sw{{"sw", std::pow(mean_own, inv_p)}};
        mdlab::Values v = own_sw;
        if (manifold) {
            const double mean_fresh = mdlab::ordered_sum(L, [&](std::size_t l) { return fresh[l]; }) / double(L);
            v = mdlab::beside_baseline(own_sw, {{"sw", std::pow(mean_fresh, inv_p)}});
        }
        v.emplace_back("n_samples", static_cast<double>(m));
        v.emplace_back("n_reference", static_cast<double>(n));
        return v;
    }

private:
    std::size_t directions_;
    int p_;
    std::size_t reference_size_;
};

}  // namespace

MDLAB_PLUGINS(SlicedWasserstein)
