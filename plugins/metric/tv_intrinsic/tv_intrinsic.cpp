// tv_intrinsic: total variation between histograms of the generated samples and of a fresh
// sample of mu_data in the manifold's intrinsic coordinates (SCIENCE.md §4).
//
// Every point is projected onto M (manifold->project) and mapped to its k intrinsic coordinates
// (manifold->intrinsic_coords: the angle in [0, 2 pi) on the circle, the two angles on the torus,
// the subspace coordinates of linear_subspace, ...). The manifolds do not declare the range of
// their coordinates, so the histogram box is the bounding box [min, max] of the reference
// sample's coordinates, cut into `bins` equal bins per coordinate (bins^k cells; k <= 3). Points
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
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

Histogram histogram(const mdlab::Matrix& coords, const Box& box, std::size_t bins, std::size_t cells) {
    const std::size_t n = mdlab::rows(coords), k = mdlab::cols(coords);
    std::vector<std::size_t> count(cells, 0);
    std::size_t out = 0;
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
        ++count[cell];
        if (outside) ++out;
    }
    Histogram h;
    h.mass.resize(cells);
    for (std::size_t b = 0; b < cells; ++b) h.mass[b] = static_cast<double>(count[b]) / static_cast<double>(n);
    h.outside = static_cast<double>(out) / static_cast<double>(n);
    return h;
}

double total_variation(const Histogram& p, const Histogram& q) {
    double s = 0.0;
    for (std::size_t b = 0; b < p.mass.size(); ++b) s += std::abs(p.mass[b] - q.mass[b]);
    return 0.5 * s;
}

}  // namespace

class TvIntrinsic : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("tv_intrinsic", "0.1.0",
                                 "total variation between histograms of the samples and of a fresh sample of mu_data "
                                 "in the manifold's intrinsic coordinates (k <= 3), beside the fresh-sample baseline")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: projection, intrinsic coordinates, reference and baseline samples")
            .param(mdlab::integer("bins", 32, "bins per intrinsic coordinate (bins^k cells in all)").at_least(1))
            .param(mdlab::integer("reference_size", 0,
                                  "size of the fresh reference sample of mu_data (0: as many as the samples)")
                       .at_least(0));
    }

    explicit TvIntrinsic(const mdlab::Params& p) : bins_(p.count("bins")), reference_size_(p.count("reference_size")) {}

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
        const std::size_t m = mdlab::rows(y), n = reference_size_ == 0 ? m : reference_size_;
        const auto coords_of = [&](const mdlab::Matrix& x) { return manifold->intrinsic_coords(manifold->project(x)); };
        const mdlab::Matrix cr = coords_of(manifold->sample(n, ctx.stream("reference")));
        const mdlab::Matrix cb = coords_of(manifold->sample(m, ctx.stream("baseline")));
        const mdlab::Matrix cy = coords_of(y);
        const std::size_t kc = mdlab::cols(cr);
        if (kc == 0 || kc > max_coords || mdlab::cols(cy) != kc || mdlab::cols(cb) != kc)
            throw mdlab::Error("tv_intrinsic: the manifold returned " + std::to_string(mdlab::cols(cy)) +
                               " intrinsic coordinates (expected 1 to 3)");
        double cells_d = 1.0;
        for (std::size_t c = 0; c < kc; ++c) cells_d *= static_cast<double>(bins_);
        if (cells_d > max_cells)
            throw mdlab::InputError("tv_intrinsic: bins = " + std::to_string(bins_) + " in " + std::to_string(kc) +
                                        " intrinsic coordinates makes " + std::to_string(cells_d) +
                                        " cells, more than 1e7; lower bins",
                                    "bins");
        const std::size_t cells = static_cast<std::size_t>(cells_d);
        if (ctx.cancelled()) throw mdlab::Error("tv_intrinsic: cancelled");
        ctx.progress(0.5);

        Box box;
        for (std::size_t c = 0; c < kc; ++c) {
            double lo = cr(0, c), hi = cr(0, c);
            for (std::size_t i = 1; i < n; ++i) {
                lo = std::min(lo, cr(i, c));
                hi = std::max(hi, cr(i, c));
            }
            box.lo.push_back(lo);
            box.hi.push_back(hi);
        }
        const Histogram hr = histogram(cr, box, bins_, cells);
        const Histogram hy = histogram(cy, box, bins_, cells);
        const Histogram hb = histogram(cb, box, bins_, cells);
        ctx.progress(1.0);
        return {{"tv", total_variation(hy, hr)},
                {"baseline_tv", total_variation(hb, hr)},
                {"outside", hy.outside},
                {"baseline_outside", hb.outside},
                {"n_samples", static_cast<double>(m)},
                {"n_reference", static_cast<double>(n)}};
    }

private:
    std::size_t bins_;
    std::size_t reference_size_;
};

MDLAB_PLUGINS(TvIntrinsic)
