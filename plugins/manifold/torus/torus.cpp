// The 2-torus in a random isometric subspace of R^D, flat (the Clifford-type product of two
// circles in R^4) or ring (the torus of revolution in R^3), with a density on each angle and
// optional Gaussian noise in the normal space.
//
//   flat: z(a, b) = (r1 cos a, r1 sin a, r2 cos b, r2 sin b),                  x = Q z, Q D x 4
//   ring: z(a, b) = ((R + r cos b) cos a, (R + r cos b) sin a, r sin b),        x = Q z, Q D x 3
//
// The data density with respect to the surface area is proportional to p(u_a) p(u_b), where
// u = angle / 2 pi and p is the CoordinateDensity (the same shape for both angles, drawn
// independently). The area element is r1 r2 da db (flat) and r (R + r cos b) da db (ring), so on
// the ring torus the law of (a, b) is p(u_a) p(u_b) (R + r cos b) / normaliser: b is drawn by
// rejection with acceptance (R + r cos b) / (R + r).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <mdlab/densities.hpp>
#include <mdlab/embedding.hpp>
#include <mdlab/mdlab.hpp>

namespace {

constexpr double two_pi = 6.283185307179586476925286766559;

class Torus : public mdlab::Manifold {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("torus", "1.0.0",
                               "2-torus in a random isometric subspace of R^D: flat (product of two circles, R^4) or "
                               "ring (torus of revolution, R^3), with the same density on each angle, independently (with respect to area)");
        spec.param(mdlab::choice("variant", "ring", {"ring", "flat"},
                                 "ring: torus of revolution ((R + r cos b) cos a, (R + r cos b) sin a, r sin b) in a "
                                 "3-subspace; flat: (r1 cos a, r1 sin a, r2 cos b, r2 sin b) in a 4-subspace"))
            .param(mdlab::integer("ambient_dim", 4, "ambient dimension D (ring: at least 3, flat: at least 4)").at_least(3))
            .role(mdlab::ParamRole::dimension)
            .param(mdlab::real("radius_1", 1.0, "ring: major radius R (centre to tube centre); flat: radius r1 of the first circle")
                       .greater_than(0.0))
            .param(mdlab::real("radius_2", 0.5, "ring: minor (tube) radius r, less than R; flat: radius r2 of the second circle")
                       .greater_than(0.0))
            .param(mdlab::normal_noise_param());
        mdlab::CoordinateDensity::declare(spec, "angle");
        return spec;
    }

    explicit Torus(const mdlab::Params& p)
        : flat_(p.string("variant") == "flat"),
          d_(static_cast<std::size_t>(p.integer("ambient_dim"))),
          r1_(p.real("radius_1")),
          r2_(p.real("radius_2")),
          density_(p) {
        const std::string& v = p.string("variant");
        if (v != "flat" && v != "ring") throw mdlab::InputError("torus: unknown variant '" + v + "'", "variant");
        if (d_ < m())
            throw mdlab::InputError("torus: the " + v + " torus needs ambient_dim >= " + std::to_string(m()) +
                                        ", got " + std::to_string(d_),
                                    "ambient_dim");
        if (!flat_ && !(r2_ < r1_))
            throw mdlab::InputError("torus: the ring torus needs the tube radius radius_2 = " + std::to_string(r2_) +
                                        " below the major radius radius_1 = " + std::to_string(r1_) +
                                        " (otherwise it intersects itself)",
                                    "radius_2");
        set_normal_noise(p.real("noise"));
    }

    // Q (D x m, m = 4 flat or 3 ring) from the node's "embedding" stream.
    void prepare(mdlab::Context& ctx) override {
        mdlab::Rng rng = ctx.stream("embedding").chunk(0);
        q_ = mdlab::Isometry::random(d_, m(), rng);
    }

    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 2; }

    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        require_prepared();
        double z[4];
        for (std::size_t i = 0; i < count; ++i) {
            const double a = two_pi * density_.sample(rng);
            double b;
            for (;;) {
                b = two_pi * density_.sample(rng);
                if (flat_) break;
                // Area element (R + r cos b) against its maximum R + r.
                if (rng.uniform() * (r1_ + r2_) < r1_ + r2_ * std::cos(b)) break;
            }
            point(a, b, z);
            q_.embed_row(z, out + i * d_);
        }
    }

    // Exact nearest point. With z = Q^T x the normal part x - Q z is orthogonal to every point of
    // the torus, so only z matters.
    //  flat: each 2-plane pair goes to its circle, (z1, z2) r1 / |(z1, z2)| and (z3, z4) r2 / |(z3, z4)|;
    //  ring: the torus is the set at distance r from the centre circle C = {|(z1,z2)| = R, z3 = 0}:
    //        c = R (z1, z2, 0) / rho (rho = |(z1, z2)|), w = z - c, nearest point c + r w / |w|
    //        (d_C is 1-Lipschitz, so no point of the torus is closer than | |w| - r |).
    // Ties (on the axis rho = 0, on C, at the centre of a circle) go to angle 0, as intrinsic_coords.
    mdlab::Matrix project(const mdlab::Matrix& x) const override {
        require_prepared();
        check_cols(x, "project");
        mdlab::Matrix p = mdlab::Matrix::from_shape({mdlab::rows(x), d_});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[4], y[4];
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(x, i), z);
                nearest(z, y);
                q_.embed_row(y, mdlab::row(p, i));
            }
        });
        return p;
    }

    // sqrt(|x - Q z|^2 + subspace distance^2), each part from its own residual (accurate near M).
    mdlab::Vector distance(const mdlab::Matrix& x) const override {
        require_prepared();
        check_cols(x, "distance");
        mdlab::Vector d = mdlab::Vector::from_shape({mdlab::rows(x)});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[4];
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(x, i), z);
                double s2;
                if (flat_) {
                    const double e1 = std::hypot(z[0], z[1]) - r1_, e2 = std::hypot(z[2], z[3]) - r2_;
                    s2 = e1 * e1 + e2 * e2;
                } else {
                    const double e1 = std::hypot(std::hypot(z[0], z[1]) - r1_, z[2]) - r2_;
                    s2 = e1 * e1;
                }
                d(i) = std::sqrt(q_.normal_norm2_row(mdlab::row(x, i), z) + s2);
            }
        });
        return d;
    }

    // (a, b) in [0, 2 pi)^2 of the nearest point: flat a = atan2(z2, z1), b = atan2(z4, z3);
    // ring a = atan2(z2, z1), b = atan2(z3, rho - R).
    mdlab::Matrix intrinsic_coords(const mdlab::Matrix& x) const override {
        require_prepared();
        check_cols(x, "intrinsic_coords");
        mdlab::Matrix ab = mdlab::Matrix::from_shape({mdlab::rows(x), 2});
        mdlab::for_chunks(mdlab::rows(x), mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[4];
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(x, i), z);
                angles(z, ab(i, 0), ab(i, 1));
            }
        });
        return ab;
    }

    // Tensor grid a_i = 2 pi i / n, b_j = 2 pi j / n (n = resolution, n^2 nodes), weights
    // proportional to p(u_a) p(u_b) times the area element (ring: R + r cos b_j; flat: constant),
    // normalised: the periodic trapezoidal rule for E f, spectrally accurate for smooth f and p.
    mdlab::Quadrature quadrature(std::size_t resolution) const override {
        require_prepared();
        if (resolution == 0) throw mdlab::InputError("torus: quadrature needs resolution >= 1", "resolution");
        if (static_cast<double>(resolution) * static_cast<double>(resolution) * static_cast<double>(d_) > 4e8)
            throw mdlab::InputError("torus: quadrature resolution " + std::to_string(resolution) + " is too large",
                                    "resolution");
        const std::size_t n = resolution * resolution;
        std::vector<double> pa(resolution), pb(resolution);
        for (std::size_t i = 0; i < resolution; ++i) {
            const double u = static_cast<double>(i) / static_cast<double>(resolution);
            pa[i] = density_.pdf(u);
            pb[i] = pa[i] * (flat_ ? 1.0 : r1_ + r2_ * std::cos(two_pi * u));
        }
        mdlab::Quadrature q;
        q.nodes = mdlab::Matrix::from_shape({n, d_});
        q.weights = mdlab::Vector::from_shape({n});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[4];
            for (std::size_t k = b; k < e; ++k) {
                const std::size_t i = k / resolution, j = k % resolution;
                point(two_pi * static_cast<double>(i) / static_cast<double>(resolution),
                      two_pi * static_cast<double>(j) / static_cast<double>(resolution), z);
                q_.embed_row(z, mdlab::row(q.nodes, k));
                q.weights(k) = pa[i] * pb[j];
            }
        });
        double total = 0.0;
        for (std::size_t k = 0; k < n; ++k) total += q.weights(k);
        for (std::size_t k = 0; k < n; ++k) q.weights(k) /= total;
        return q;
    }

    // Unit vectors along d/da and d/db at the nearest point (orthogonal: the coordinates are):
    //  flat: (-sin a, cos a, 0, 0) and (0, 0, -sin b, cos b);
    //  ring: (-sin a, cos a, 0) and (-sin b cos a, -sin b sin a, cos b).
    void tangent_bases(const mdlab::Matrix& points, mdlab::TangentBases& out) const override {
        require_prepared();
        check_cols(points, "tangent_bases");
        const std::size_t n = mdlab::rows(points);
        out = mdlab::TangentBases::from_shape({n, d_, 2});
        mdlab::for_chunks(n, mdlab::Isometry::chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            double z[4], ta[4] = {0, 0, 0, 0}, tb[4] = {0, 0, 0, 0};
            std::vector<double> xa(d_), xb(d_);
            for (std::size_t i = b; i < e; ++i) {
                q_.coords_row(mdlab::row(points, i), z);
                double a, bb;
                angles(z, a, bb);
                const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(bb), sb = std::sin(bb);
                ta[0] = -sa;
                ta[1] = ca;
                if (flat_) {
                    tb[2] = -sb;
                    tb[3] = cb;
                } else {
                    tb[0] = -sb * ca;
                    tb[1] = -sb * sa;
                    tb[2] = cb;
                }
                q_.embed_row(ta, xa.data());
                q_.embed_row(tb, xb.data());
                for (std::size_t c = 0; c < d_; ++c) {
                    out(i, c, 0) = xa[c];
                    out(i, c, 1) = xb[c];
                }
            }
        });
    }

private:
    std::size_t m() const { return flat_ ? 4 : 3; }

    void point(double a, double b, double* z) const {
        if (flat_) {
            z[0] = r1_ * std::cos(a);
            z[1] = r1_ * std::sin(a);
            z[2] = r2_ * std::cos(b);
            z[3] = r2_ * std::sin(b);
        } else {
            const double rho = r1_ + r2_ * std::cos(b);
            z[0] = rho * std::cos(a);
            z[1] = rho * std::sin(a);
            z[2] = r2_ * std::sin(b);
        }
    }

    void angles(const double* z, double& a, double& b) const {
        a = mdlab::angle_0_2pi(z[1], z[0]);
        b = flat_ ? mdlab::angle_0_2pi(z[3], z[2]) : mdlab::angle_0_2pi(z[2], std::hypot(z[0], z[1]) - r1_);
    }

    // Nearest point y (subspace coordinates) to z.
    void nearest(const double* z, double* y) const {
        if (flat_) {
            circle_point(z[0], z[1], r1_, y[0], y[1]);
            circle_point(z[2], z[3], r2_, y[2], y[3]);
            return;
        }
        double c0, c1;
        circle_point(z[0], z[1], r1_, c0, c1);  // nearest point of the centre circle
        const double rho = std::hypot(z[0], z[1]);
        // w = z - c in the half-plane (radial, z3): radial part rho - R along (c0, c1) / R.
        double wr = rho - r1_, wz = z[2];
        const double nw = std::hypot(wr, wz);
        if (nw > 0.0) {
            wr /= nw;
            wz /= nw;
        } else {
            wr = 1.0;
            wz = 0.0;
        }
        y[0] = c0 + r2_ * wr * c0 / r1_;
        y[1] = c1 + r2_ * wr * c1 / r1_;
        y[2] = r2_ * wz;
    }

    // Nearest point of the circle of radius r about 0 in a plane (angle 0 at the centre).
    static void circle_point(double u, double v, double r, double& pu, double& pv) {
        const double n = std::hypot(u, v);
        if (n > 0.0) {
            pu = r * u / n;
            pv = r * v / n;
        } else {
            pu = r;
            pv = 0.0;
        }
    }

    void check_cols(const mdlab::Matrix& x, const char* what) const {
        if (mdlab::cols(x) != d_)
            throw mdlab::InputError(std::string("torus: ") + what + ": points have " + std::to_string(mdlab::cols(x)) +
                                        " columns, expected ambient_dim = " + std::to_string(d_),
                                    "points");
    }
    void require_prepared() const {
        if (q_.empty()) throw mdlab::Error("torus: prepare() must be called before use");
    }

    bool flat_;
    std::size_t d_;
    double r1_, r2_;
    mdlab::CoordinateDensity density_;
    mdlab::Isometry q_;
};

}  // namespace

MDLAB_PLUGINS(Torus)
