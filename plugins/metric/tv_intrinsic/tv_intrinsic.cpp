// tv_intrinsic: total variation between histograms of the generated samples and of mu_data in
// the manifold's intrinsic coordinates (SCIENCE.md §4); mu_data's histogram comes from a fresh
// sample or, with reference = "quadrature", from the manifold's quadrature rule (its density).
//
// Every point is projected onto M (manifold->project) and mapped to its k intrinsic coordinates
// (manifold->intrinsic_coords: the angle in [0, 2 pi) on the circle, the two angles on the torus,
// the subspace coordinates of linear_subspace, ...). The manifolds do not declare the range of
// their coordinates, so the histogram box is the bounding box [min, max] of the reference
// sample's coordinates (of the quadrature nodes' coordinates widened by half a node spacing, the
// cells of a midpoint rule), or `range` = [lo, hi] for every coordinate when given, cut into
// `bins` equal bins per coordinate (bins^k cells; k <= 3). Points
// outside the box are counted in the edge bin of each coordinate they exceed (clamped), and
// their share is reported as `outside`. With p_b and q_b the fractions of the samples and of the
// reference in cell b,
//   TV = 1/2 sum_b |p_b - q_b|,
// the total variation between the binned laws: a lower bound of the TV between the laws (up to
// sampling noise) that converges to it as the bins shrink when both have densities. A finite
// sample scores TV > 0 even for a perfect generator (about sqrt((cells - 1) / (pi n)) for n
// samples and n reference points spread evenly over cells << n cells), so baseline_tv is the
// same figure for a second fresh sample of as many points as the samples (stream "baseline")
// against the same reference (stream "reference", reference_size points, default the number of
// samples): judge tv against it.
// With reference = "quadrature" the reference masses are the summed quadrature weights of the
// nodes in each cell: mu_data's exact cell masses up to the rule's error (for a midpoint rule
// whose cells tile the box, resolution a multiple of bins, only the density's variation inside
// a node's cell), so the reference adds no sampling noise and baseline_tv is the floor of the
// samples alone, about sqrt((cells - 1) / (2 pi n)).
// A reference sample may be given instead of the draw (input `reference_points`, projected and
// binned like the drawn one; the port is not named `reference`, the name of the parameter that
// chooses between a sample and the quadrature). The manifold is still needed: it gives the
// intrinsic coordinates and draws the baseline sample.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>

namespace {

constexpr std::size_t max_coords = 3;
constexpr double max_cells = 1e7;

struct Box {
    std::vector<double> lo, hi;
};

struct Histogram {
    std::vector<double> mass;  // fraction of the points in each cell
    double outside = 0.0;      // fraction of the points outside the box
};

// Cell masses: the fraction of the points in each cell, or with `weights` (quadrature nodes) the
// weights summed in each cell, divided by their total.
Histogram histogram(const mdlab::Matrix& coords, const Box& box, std::size_t bins, std::size_t cells,
                    const mdlab::Vector* weights = nullptr) {
    const std::size_t n = mdlab::rows(coords), k = mdlab::cols(coords);
    std::vector<double> count(cells, 0.0);
    double out = 0.0, total = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t cell = 0, stride = 1;
        bool outside = false;
        for (std::size_t c = 0; c < k; ++c) {
            const double v = coords(i, c), lo = box.lo[c], hi = box.hi[c];
            if (!std::isfinite(v))
                throw mdlab::Error("tv_intrinsic: the manifold returned a non-finite intrinsic coordinate");
            if (v < lo || v > hi) outside = true;
            std::size_t b = 0;
            if (hi > lo) {
                const double t = (v - lo) / (hi - lo) * static_cast<double>(bins);
                b = t <= 0.0 ? 0 : std::min(bins - 1, static_cast<std::size_t>(t));
            }
            cell += b * stride;
            stride *= bins;
        }
        const double w = weights ? (*weights)(i) : 1.0;
        count[cell] += w;
        total += w;
        if (outside) out += w;
    }
    if (!(total > 0.0)) throw mdlab::Error("tv_intrinsic: the reference has no mass");
    Histogram h;
    h.mass.resize(cells);
    for (std::size_t b = 0; b < cells; ++b) h.mass[b] = count[b] / total;
    h.outside = out / total;
    return h;
}

// [min, max] of each coordinate; with `cells_per_side` > 0 (midpoint-rule nodes, that many per
// coordinate) widened by half the node spacing, so the box is the union of the rule's cells.
Box bounding_box(const mdlab::Matrix& c, std::size_t cells_per_side) {
    Box box;
    for (std::size_t j = 0; j < mdlab::cols(c); ++j) {
        double lo = c(0, j), hi = c(0, j);
        for (std::size_t i = 1; i < mdlab::rows(c); ++i) {
            lo = std::min(lo, c(i, j));
            hi = std::max(hi, c(i, j));
        }
        if (cells_per_side > 1) {
            const double half = 0.5 * (hi - lo) / static_cast<double>(cells_per_side - 1);
            lo -= half, hi += half;
        }
        box.lo.push_back(lo);
        box.hi.push_back(hi);
    }
    return box;
}

double total_variation(const Histogram& p, const Histogram& q) {
    double s = 0.0;
    for (std::size_t b = 0; b < p.mass.size(); ++b) s += std::abs(p.mass[b] - q.mass[b]);
    return 0.5 * s;
}

class TvIntrinsic : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("tv_intrinsic", "1.1.0",
                                 "total variation between histograms of the samples and of a fresh sample of mu_data "
                                 "in the manifold's intrinsic coordinates (k <= 3), beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: projection, intrinsic coordinates, reference (unless `reference_points` is "
                   "given) and baseline samples")
            .input("reference_points", mdlab::ValueKind::points,
                   "a given reference sample of mu_data (n x D) instead of a fresh draw (with reference = sample)",
                   false)
            .param(mdlab::integer("bins", 32, "bins per intrinsic coordinate (bins^k cells in all)").at_least(1))
            .param(mdlab::integer("reference_size", 0,
                                  "size of the fresh reference sample of mu_data (0: as many as the samples)")
                       .at_least(0))
            .param(mdlab::choice("reference", "sample", {"sample", "quadrature"},
                                 "mu_data's histogram: from a fresh sample, or from the manifold's quadrature rule "
                                 "(exact cell masses up to the rule's error; no sampling noise)"))
            .param(mdlab::integer("quadrature_resolution", 256,
                                  "reference = quadrature: nodes per intrinsic coordinate (a multiple of bins aligns "
                                  "a midpoint rule's cells with the bins)")
                       .at_least(1))
            .param(mdlab::real_list("range", {},
                                    "[lo, hi]: the histogram box in every intrinsic coordinate; empty: the bounding "
                                    "box of the reference"));
    }

    explicit TvIntrinsic(const mdlab::Params& p)
        : bins_(p.count("bins")),
          reference_size_(p.count("reference_size")),
          quadrature_(p.string("reference") == "quadrature"),
          resolution_(p.count("quadrature_resolution")),
          range_(p.real_list("range")) {
        if (!range_.empty() && (range_.size() != 2 || !std::isfinite(range_[0]) || !std::isfinite(range_[1]) ||
                                !(range_[0] < range_[1])))
            throw mdlab::InputError("tv_intrinsic: range must be empty (the reference's bounding box) or two finite "
                                    "numbers [lo, hi] with lo < hi",
                                    "range");
    }

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto manifold = inputs.manifold("manifold");
        const mdlab::Matrix& y = *samples;
        mdlab::require_points("tv_intrinsic", y, manifold->ambient_dim(), "samples");
        const std::size_t k = manifold->intrinsic_dim();
        if (k > max_coords)
            throw mdlab::InputError("tv_intrinsic: the manifold has intrinsic dimension " + std::to_string(k) +
                                        "; histograms need bins^k cells (" + std::to_string(bins_) + "^" +
                                        std::to_string(k) + ") and about as many points per cell, so they are "
                                        "offered for k <= 3 only (use knn_kl, mmd or sliced_wasserstein)",
                                    "manifold");
        const std::size_t m = mdlab::rows(y);
        const auto coords_of = [&](const mdlab::Matrix& x) { return manifold->intrinsic_coords(manifold->project(x)); };
        mdlab::Quadrature rule;
        if (quadrature_ && inputs.has("reference_points"))
            throw mdlab::InputError("tv_intrinsic: reference = quadrature takes mu_data's masses from the manifold's "
                                    "rule; given reference_points need reference = sample",
                                    "reference");
        if (quadrature_) rule = manifold->quadrature(resolution_);
        const mdlab::Matrix cr = coords_of(quadrature_ ? rule.nodes : reference_sample(inputs, *manifold, m, ctx));
        const std::size_t n = mdlab::rows(cr);
        const std::size_t kc = mdlab::cols(cr);
        const auto check_coords = [&](const mdlab::Matrix& c) {
            if (kc == 0 || kc > max_coords || mdlab::cols(c) != kc)
                throw mdlab::Error("tv_intrinsic: the manifold returned " + std::to_string(mdlab::cols(c)) +
                                   " intrinsic coordinates (expected 1 to 3)");
        };
        check_coords(cr);
        double cells_d = 1.0;
        for (std::size_t c = 0; c < kc; ++c) cells_d *= static_cast<double>(bins_);
        if (cells_d > max_cells)
            throw mdlab::InputError("tv_intrinsic: bins = " + std::to_string(bins_) + " in " + std::to_string(kc) +
                                        " intrinsic coordinates makes " + std::to_string(cells_d) +
                                        " cells, more than 1e7; lower bins",
                                    "bins");
        const std::size_t cells = static_cast<std::size_t>(cells_d);
        if (ctx.cancelled()) throw mdlab::Error("tv_intrinsic: cancelled");

        const Box box = range_.empty() ? bounding_box(cr, quadrature_ ? resolution_ : 0) : Box{
            std::vector<double>(kc, range_[0]), std::vector<double>(kc, range_[1])};
        const Histogram hr = quadrature_ ? histogram(cr, box, bins_, cells, &rule.weights) : histogram(cr, box, bins_, cells);
        // The samples and the baseline sample (as many points), binned alike, against the same reference.
        const auto tv = [&](const mdlab::Matrix& points) {
            const mdlab::Matrix c = coords_of(points);
            check_coords(c);
            const Histogram h = histogram(c, box, bins_, cells);
            return mdlab::Values{{"tv", total_variation(h, hr)}, {"outside", h.outside}};
        };
        const mdlab::FreshBaseline how{"tv_intrinsic", "baseline", mdlab::BaselineOrder::paired};
        mdlab::Values v = mdlab::with_fresh_baseline(y, *manifold, ctx, how, tv);
        ctx.progress(1.0);
        v.emplace_back("n_samples", static_cast<double>(m));
        v.emplace_back("n_reference", quadrature_ ? 0.0 : static_cast<double>(n));
        return v;
    }

private:
    // The given reference_points, or reference_size (0: m) points drawn from the manifold.
    mdlab::Matrix reference_sample(const mdlab::Inputs& inputs, const mdlab::Manifold& manifold, std::size_t m,
                                   mdlab::Context& ctx) const {
        if (!inputs.has("reference_points"))
            return manifold.sample(reference_size_ == 0 ? m : reference_size_, ctx.stream("reference"));
        if (reference_size_ != 0)
            throw mdlab::InputError("tv_intrinsic: reference_size sizes a drawn reference; the given reference_points "
                                    "set their own size",
                                    "reference_size");
        const auto given = inputs.points("reference_points");
        mdlab::require_points("tv_intrinsic", *given, manifold.ambient_dim(), "reference_points");
        return *given;
    }

    std::size_t bins_;
    std::size_t reference_size_;
    bool quadrature_;
    std::size_t resolution_;
    std::vector<double> range_;
};

}  // namespace

MDLAB_PLUGINS(TvIntrinsic)
