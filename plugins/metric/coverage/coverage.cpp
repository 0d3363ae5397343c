// coverage: the finest resolution at which a sample's mass agrees with mu_data's on every
// geodesic ball of M, within a factor C (issue 16, claim 1; Shen, Hsieh and He, arXiv 2603.23792:
// coarse scores reach a target whose density is comparable to mu_data's on every neighbourhood
// of size ~ N^(-beta/(4k)) along M).
//
// Points are projected onto M and placed by arc length s along it (arc_chart.hpp; closed curves,
// k = 1). Balls: `centres` centres equispaced in arc length, radii on a geometric grid of `radii`
// values from the centre spacing L / centres to L / 2 (the whole curve). The ball B(c, r) is the
// arc [c - r, c + r]; it passes when its sample fraction q and its mu_data mass p (quadrature,
// `resolution` nodes) satisfy p / C <= q <= C p. The resolution is
//   delta = the smallest grid radius r such that every ball of radius r, and of every larger grid
//           radius, passes
// (at r = L / 2 every ball is M itself and passes; delta = L / centres means every radius passed).
// Reported beside it:
//   delta_lo, delta_hi  a bootstrap percentile interval (`level`) of delta: the samples resampled
//                       with replacement `bootstrap` times from the node's stream "bootstrap";
//   delta_train         the same figure for the training set's empirical measure (input `data`,
//                       optional): the memorising reference;
//   delta_fresh         the same figure for a fresh sample of mu_data of as many points as the
//                       samples (stream "fresh"): the floor a perfect sampler of this size reaches;
//   far_fraction        the share of samples farther than `far` from M before projection.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/fresh_baseline.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/stats.hpp>

#include "arc_chart.hpp"

namespace {

using mdlab_coverage::ArcChart;

// The balls and their mu_data masses, true_mass[l * centres + j] for radius l and centre j.
struct Balls {
    std::vector<double> centres, radii, true_mass;
    double length = 0.0;

    Balls(const ArcChart& chart, std::size_t n_centres, std::size_t n_radii) : length(chart.length()) {
        for (std::size_t j = 0; j < n_centres; ++j)
            centres.push_back((static_cast<double>(j) + 0.5) * length / static_cast<double>(n_centres));
        const double lo = length / static_cast<double>(n_centres), hi = 0.5 * length;
        for (std::size_t l = 0; l < n_radii; ++l)
            radii.push_back(n_radii == 1 ? hi : lo * std::pow(hi / lo, static_cast<double>(l) / static_cast<double>(n_radii - 1)));
        for (double r : radii)
            for (double c : centres) true_mass.push_back(chart.mass(c - r, c + r));
    }
};

// Number of sorted positions (in [0, L)) below s, extended by n per turn around M.
double below(const std::vector<double>& sorted, double s, double length) {
    const double turns = std::floor(s / length);
    const double rest = s - turns * length;
    return turns * static_cast<double>(sorted.size()) +
           static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), rest) - sorted.begin());
}

// delta of the sorted positions (see the header comment).
double resolution(const std::vector<double>& sorted, const Balls& balls, double factor) {
    const double n = static_cast<double>(sorted.size());
    const std::size_t nc = balls.centres.size();
    for (std::size_t l = balls.radii.size(); l-- > 0;) {
        const double r = balls.radii[l];
        for (std::size_t j = 0; j < nc; ++j) {
            const double c = balls.centres[j];
            const double q = r >= 0.5 * balls.length ? 1.0
                                                      : (below(sorted, c + r, balls.length) - below(sorted, c - r, balls.length)) / n;
            const double p = balls.true_mass[l * nc + j];
            if (q < p / factor || q > factor * p) return l + 1 < balls.radii.size() ? balls.radii[l + 1] : balls.radii[l];
        }
    }
    return balls.radii.front();
}

std::vector<double> sorted(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v;
}

class Coverage : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("coverage", "1.0.0",
                                 "smallest geodesic-ball radius delta at which the samples' mass is within a factor C of "
                                 "mu_data's on every ball along M (closed curves), with a bootstrap interval, beside the "
                                 "training set's and a fresh sample's delta")
            .input("samples", mdlab::ValueKind::points, "generated samples Y (M x D)")
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold (a closed curve: circle, curve): projection, arc length, quadrature of mu_data")
            .input("data", mdlab::ValueKind::points, "training set, for delta_train (optional)", false)
            .param(mdlab::real("factor", 2.0, "C: a ball passes when its sample mass is within [p / C, C p], p its mu_data mass")
                       .greater_than(1.0))
            .param(mdlab::integer("centres", 1024, "ball centres, equispaced in arc length; the smallest radius is L / centres")
                       .at_least(2)
                       .at_most(1 << 16))
            .param(mdlab::integer("radii", 64, "radii on a geometric grid from L / centres to L / 2").at_least(2).at_most(1000))
            .param(mdlab::integer("resolution", 8192, "quadrature nodes of mu_data along M (arc length and ball masses)")
                       .at_least(64)
                       .at_most(1 << 22))
            .param(mdlab::integer("bootstrap", 200, "bootstrap resamples of the samples for delta_lo, delta_hi (0: none)")
                       .at_least(0)
                       .at_most(100000))
            .param(mdlab::real("level", 0.95, "coverage probability of the bootstrap interval").greater_than(0.0).less_than(1.0))
            .param(mdlab::real("far", 0.05, "a sample farther than this from M counts in far_fraction").at_least(0.0));
    }

    explicit Coverage(const mdlab::Params& p)
        : factor_(p.real("factor")),
          centres_(p.count("centres")),
          radii_(p.count("radii")),
          resolution_(p.count("resolution")),
          bootstrap_(p.count("bootstrap")),
          level_(p.real("level")),
          far_(p.real("far")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto samples = inputs.points("samples");
        const auto manifold = inputs.manifold("manifold");
        const mdlab::Matrix& y = *samples;
        mdlab::require_points("coverage", y, manifold->ambient_dim(), "samples");
        const ArcChart chart(*manifold, resolution_);
        const Balls balls(chart, centres_, radii_);
        const std::vector<double> pos = sorted(chart.positions(y));
        const std::size_t n = pos.size();

        mdlab::Values out{{"delta", resolution(pos, balls, factor_)}};
        if (bootstrap_ > 0) {
            std::vector<double> boot(bootstrap_);
            const mdlab::RandomStream stream = ctx.stream("bootstrap");
            mdlab::for_chunks(bootstrap_, 1, [&](std::size_t b, std::size_t, std::size_t) {
                mdlab::Rng rng = stream.chunk(b);
                std::vector<double> re(n);
                for (double& v : re) v = pos[rng.below(n)];
                boot[b] = resolution(sorted(std::move(re)), balls, factor_);
            });
            const auto q = mdlab::stats::quantiles(boot, {0.5 * (1 - level_), 0.5 * (1 + level_)});
            out.push_back({"delta_lo", q[0]});
            out.push_back({"delta_hi", q[1]});
        }
        ctx.progress(0.5);
        if (inputs.has("data")) {
            const auto data = inputs.points("data");
            mdlab::require_points("coverage", *data, manifold->ambient_dim(), "data");
            out.push_back({"delta_train", resolution(sorted(chart.positions(*data)), balls, factor_)});
        }
        const mdlab::Matrix fresh = mdlab::fresh_sample(*manifold, n, ctx, "fresh");
        out.push_back({"delta_fresh", resolution(sorted(chart.positions(fresh)), balls, factor_)});
        const mdlab::Vector dist = manifold->distance(y);
        std::size_t far = 0;
        for (std::size_t i = 0; i < n; ++i) far += dist(i) > far_ ? 1 : 0;
        out.push_back({"far_fraction", static_cast<double>(far) / static_cast<double>(n)});
        out.push_back({"delta_floor", balls.radii.front()});
        out.push_back({"length", balls.length});
        out.push_back({"n_samples", static_cast<double>(n)});
        ctx.progress(1.0);
        return out;
    }

private:
    double factor_;
    std::size_t centres_, radii_, resolution_, bootstrap_;
    double level_, far_;
};

}  // namespace

MDLAB_PLUGINS(Coverage)
