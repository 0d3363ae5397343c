// One Brownian path for every step count (SCIENCE.md section 6; the Brownian tree of Gaines and
// Lyons 1997, torchsde's BrownianTree as k-diffusion's BrownianTreeNoiseSampler uses it).
//
// W on [t_begin, t_end], W(t_begin) = 0, is a deterministic function of a random stream and the
// time: W(t_end) = sqrt(t_end - t_begin) z_0, and W at the midpoint m of a dyadic interval [a, b]
// (heap number h: the root [t_begin, t_end] is 1, the halves of h are 2h and 2h + 1) is drawn from
// the Brownian bridge
//   W(m) | W(a), W(b) ~ N(((b - m) W(a) + (m - a) W(b)) / (b - a), (m - a)(b - m) / (b - a) I)
// with the normal draw z_h of stream.child("brownian_tree").child(h): each draw is seeded by the
// path of halvings that reaches its interval (the binary digits of h), never by the order of
// queries. A time t is reached by halving at most `depth` times. A time off the dyadic points
// takes, in the interval of width (t_end - t_begin) 2^-depth that holds it, the bridge draw at t
// itself with that interval's z_h (the draw its midpoint would use). Conditionally on the dyadic
// points, bridge values in different intervals are independent, so W at any set of times with at
// most one time per such interval (grids with steps wider than 2^-32 of the time range at the
// default depth) has exactly the law of Brownian motion; two times in one interval share z_h.
//
// Rows are drawn in chunks of random_chunk_rows with one generator per (draw, chunk), as
// mdlab::step_noise does, so a path never depends on the thread count, and the first rows of a
// larger batch are the rows of a smaller one. A query costs depth + 1 normal draws per entry.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/parallel.hpp"
#include "mdlab/rng.hpp"

namespace mdlab {

class BrownianTree {
public:
    // Leaves of width (t_end - t_begin) 2^-32: about 2e-8 of EDM's time range [0, 80].
    static constexpr unsigned default_depth = 32;

    BrownianTree(const RandomStream& stream, double t_begin, double t_end, unsigned depth = default_depth)
        : nodes_(stream.child("brownian_tree")), t_begin_(t_begin), t_end_(t_end), depth_(depth) {
        if (!(t_begin < t_end)) throw Error("Brownian tree: the time range must be increasing");
        if (depth > 60) throw Error("Brownian tree: depth at most 60 (node numbers are 64-bit)");
    }

    double t_begin() const { return t_begin_; }
    double t_end() const { return t_end_; }

    // W(t) in every entry of w (its shape, rows x D, is the caller's).
    void at(double t, Matrix& w) const {
        const std::vector<Draw> plan = plan_to(t);
        const std::size_t d = cols(w);
        for_chunks(rows(w), random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            const std::size_t count = (e - b) * d;
            double* out = w.data() + b * d;
            std::vector<double> left(count, 0.0), right(count, 0.0);  // W(a) = W(t_begin) = 0 to start
            for (const Draw& draw : plan) {
                Rng rng = draw.stream.chunk(c);
                double* into = draw.into == Into::left ? left.data() : draw.into == Into::right ? right.data() : out;
                for (std::size_t k = 0; k < count; ++k)
                    into[k] = draw.wa * left[k] + draw.wb * right[k] + draw.sd * rng.normal();
            }
            if (plan.empty())
                for (std::size_t k = 0; k < count; ++k) out[k] = 0.0;  // t = t_begin
        });
    }

private:
    // One bridge draw W(p) = wa W(a) + wb W(b) + sd z of the descent, stored into the interval's
    // left end, its right end, or the result.
    enum class Into { left, right, result };
    struct Draw {
        RandomStream stream;
        double wa, wb, sd;
        Into into;
    };

    Draw bridge(std::uint64_t node, double a, double p, double b, Into into) const {
        const double width = b - a;
        return Draw{nodes_.child(std::to_string(node)), (b - p) / width, (p - a) / width,
                    std::sqrt((p - a) * (b - p) / width), into};
    }

    // The draws that reach t from the root, in order.
    std::vector<Draw> plan_to(double t) const {
        if (!(t >= t_begin_ && t <= t_end_))
            throw Error("Brownian tree: time " + std::to_string(t) + " outside [" + std::to_string(t_begin_) + ", " +
                        std::to_string(t_end_) + "]");
        std::vector<Draw> plan;
        if (t == t_begin_) return plan;
        const double root_sd = std::sqrt(t_end_ - t_begin_);
        plan.push_back(Draw{nodes_.child("0"), 0.0, 0.0, root_sd, t == t_end_ ? Into::result : Into::right});
        if (t == t_end_) return plan;
        double a = t_begin_, b = t_end_;
        std::uint64_t node = 1;
        for (unsigned level = 0;; ++level) {
            if (level == depth_) {  // the leaf: the bridge at t itself
                plan.push_back(bridge(node, a, t, b, Into::result));
                return plan;
            }
            const double m = a + 0.5 * (b - a);
            if (t == m) {
                plan.push_back(bridge(node, a, m, b, Into::result));
                return plan;
            }
            const bool left = t < m;
            plan.push_back(bridge(node, a, m, b, left ? Into::right : Into::left));
            (left ? b : a) = m;
            node = 2 * node + (left ? 0 : 1);
        }
    }

    RandomStream nodes_;
    double t_begin_, t_end_;
    unsigned depth_;
};

// Normalised increments (W(from) - W(to)) / sqrt(from - to) ~ N(0, I) of the path on [0, t_end]
// keyed by a stream, for a sampler walking a grid downwards: W at the previous step's end is kept,
// so a step costs one query. The kept value is only a shortcut: the result is the same as two
// fresh queries.
class BrownianIncrements {
public:
    void draw(const RandomStream& stream, double t_end, double from, double to, Matrix& z) {
        if (!(from > to))
            throw Error("Brownian increment: the step must go down in time (from " + std::to_string(from) + " to " +
                        std::to_string(to) + ")");
        // The first draw of the tree's own stream names the path (RandomStream has no equality).
        const std::uint64_t key = stream.child("brownian_tree").chunk(0)();
        if (!tree_ || key != key_ || tree_->t_end() != t_end) {
            tree_.emplace(stream, 0.0, t_end);
            key_ = key;
            kept_ = false;
        }
        const auto shape = z.shape();
        if (!(kept_ && kept_t_ == from && w_from_.shape() == shape)) {
            w_from_ = Matrix::from_shape({rows(z), cols(z)});
            tree_->at(from, w_from_);
        }
        if (w_to_.shape() != shape) w_to_ = Matrix::from_shape({rows(z), cols(z)});
        tree_->at(to, w_to_);
        const double scale = 1.0 / std::sqrt(from - to);
        for_each_index(z.size(), [&](std::size_t k) { z.data()[k] = (w_from_.data()[k] - w_to_.data()[k]) * scale; });
        std::swap(w_from_, w_to_);
        kept_t_ = to;
        kept_ = true;
    }

private:
    std::optional<BrownianTree> tree_;
    std::uint64_t key_ = 0;
    Matrix w_from_, w_to_;
    double kept_t_ = 0.0;
    bool kept_ = false;
};

}  // namespace mdlab
