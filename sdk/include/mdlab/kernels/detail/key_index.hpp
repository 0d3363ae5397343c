// A spatial index over the training keys of the softmax score kernel (kernels/softmax_score.hpp)
// that restricts the softmax sum at small noise levels. For a query x against the mixture
// sum_i e^{l_i} N(a k_i, v I) (optionally with tangent variance tau, see softmax_score.hpp) it
// lists the blocks of 64 keys that must be visited, such that the total weight of the keys in
// all other blocks is *provably* at most `tolerance` (default 1e-12) times the total weight of
// all keys. At small v almost every key has negligible weight and the list is short, so the
// cost per query follows the number of keys that carry weight rather than N.
//
// Usage (the caller packs the keys in the index's order, so packed block b is leaf b):
//   KeyIndex index(keys);                          // once per training set, O(N log N)
//   SoftmaxKeys packed(index.keys());              // the keys reordered (index.keys() = keys[order])
//   packed.set_log_weights(index.reorder(lw));     // per-key extras reordered the same way,
//   packed.set_tangents(index.reorder(bases));     //   and the log-weights also told to the index
//   index.set_log_weights(lw);                     //   (original order; it needs their maxima)
//   KeyIndex::Scratch scratch;                     // one per task, reused across queries
//   std::vector<std::uint32_t> list;
//   index.candidates(x, a, v, list, scratch, tau); // block indices, ascending
//   if (index.worth_it(list.size())) ...stream x over the blocks in `list`...
//   else ...stream x over all blocks (dense path)...
// Any superset of a query's list is also safe (for example the union over a group of queries
// that are processed together). query_order() sorts the queries by home block, so that queries
// with overlapping lists run one after another and find the key blocks still in cache.
//
// Structure. A k-d tree over the keys: a node holds a range of whole blocks; it splits its keys
// at the median of their widest coordinate (std::nth_element, ties broken by the original row),
// rounded to a block boundary (the left child gets floor(blocks / 2) blocks), down to leaves of
// exactly one block of `block` = 64 consecutive positions (only the very last block may be
// partial). order()[p] is the original row of the key at position p. Every node (leaf or not)
// has a bounding ball: centre c_B = the centre of its keys' bounding box, radius rho_B = the
// largest distance of its keys to c_B (computed exactly over the keys and rounded up). Nodes are
// numbered in pre-order (root 0, left child id + 1, right child id + 2 * left blocks), so the
// leaves appear in ascending block order. Build: O(N D log N), each level's passes and the two
// subtrees in parallel; the result does not depend on the thread count (min/max reductions are
// exact and each node's partition is a fixed sequential computation on a fixed input).
//
// The bound. Let r_i = |x - a k_i|, the logit of key i is l_i - q_i / (2v) with
//   q_i = |r|^2 - c |U_i^T r|^2,  c = tau / (v + tau),  so  (1 - c) r_i^2 <= q_i <= r_i^2
// (q_i = r_i^2 without tangents; write s = 1 - c = v / (v + tau), s = 1 for tau = 0). Log-weights
// are taken relative to their maximum (l_i <= 0), which changes no ratio of weights.
// (1) For a key i of node B (|k_i - c_B| <= rho_B), by the triangle inequality
//       r_i >= |x - a c_B| - |a| |k_i - c_B| >= |x - a c_B| - |a| rho_B,  and r_i >= 0,
//     so r_i >= L_B := max(0, |x - a c_B| - |a| rho_B). A child may also use its parent's L
//     (its keys are the parent's keys): the index uses the larger of the two.
//     Hence w_i = exp(l_i - q_i/(2v)) <= exp(-(E_B)/(2v)) with E_B := s L_B^2 - 2v lambda_B,
//     lambda_B = the largest log-weight in B (E_B = +inf if every key of B has weight 0).
// (2) For any key j, w_j >= exp(l_j - r_j^2/(2v)) = exp(-delta_j/(2v)) with
//     delta_j := r_j^2 - 2v l_j (q_j <= r_j^2). The index computes delta_j exactly for the keys
//     of one "home" leaf H (reached by descending towards the smaller E), and with
//     delta := min_{j in H} delta_j, F := sum_{j in H} exp(-(delta_j - delta)/(2v)) >= 1:
//       W = sum_i w_i >= sum_{j in H} w_j >= exp(-delta/(2v)) F.
//     Any set of keys gives a valid bound; a worse H only makes it weaker, never wrong
//     (delta >= the true minimum, F >= 1 by its j = argmin term). F is what the home leaf adds
//     over the single nearest key: up to 64 when its keys are closer together than sqrt(v).
// (3) So for a set O of omitted nodes (disjoint, n_B keys each):
//       (sum of w_i over O) / W <= sum_{B in O} t_B,  t_B := n_B exp(-(E_B - delta)/(2v)) / F.
// (4) Threshold pass: a depth-first walk omits every node with E_B >= T := delta + 2v log(N/(tol F))
//     (and does not descend into it), so t_B <= n_B tol / N for each, and since the omitted
//     nodes are disjoint, sum t_B <= tol * (sum n_B) / N <= tol. The home leaf has
//     E <= delta_j for its keys, so E < T: it is always kept.
// (5) Refinement: the threshold leaves slack (it charges every omitted key tol / N). The kept
//     leaves with the smallest t_B are dropped as well, smallest first, while the exact sum of
//     t_B over everything omitted stays <= tol. Scratch::bound reports that sum: a certified
//     upper bound on (omitted weight) / (total weight) for the last query.
//     Cost control: a node none of whose descendants could reach E >= T (checked with
//     U = |x - a c_B| + |a| rho_B >= every key's distance, so E_desc <= s U^2 - 2v lfloor_B, lfloor
//     the smallest of its leaves' lambda) is kept whole without visiting its leaves, and step 5
//     only considers the leaves that the walk reached one by one. Visiting a leaf costs about half
//     of what the kernel spends on its block, so refining every leaf does not pay (measured on the
//     circle, N = 10^6: 5-10% more blocks for 1.2-45x fewer visited nodes, a net gain at every
//     sigma from 1e-3 to 0.3).
// Rounding: every quantity above is computed as a one-sided bound in the safe direction:
// distances from FMA-formed differences (one rounding each, relative to the difference),
// multiplied by (1 -/+ m) with m = 8 (D + 8) DBL_EPSILON, which exceeds the accumulated relative
// error of a D-term sum of squares and a square root; radii are rounded up at build time; the
// logarithm carries a 1e-4 relative margin and sums of terms a 1e-6 relative margin (enough for
// 4e9 terms). So the statement holds for the exact weights of the stored keys, not only up to
// rounding, at any v (at v = 1e-12 a relative error of 1e-14 in a distance of 1 would otherwise
// move a weight by a factor e^{0.005}).
// The score error that follows: the kernel over the kept blocks sees a total weight >= (1 - tol) W
// and misses numerator terms bounded by tol W times the distance scale of the omitted keys, so
// its relative error is a small multiple of tol (about tol * sqrt(T / delta)).
//
// Cost per query: O(D) for the root test (large v: every block is a candidate, return at once),
// O(D log B) for the descent, O(64 D) and 64 exp for delta and F, then O(D) per node examined by
// the walk (the nodes on the boundary of the kept region and their siblings), one exp per leaf
// on the boundary and a sort of those, and O(1) per kept block to write the list. Measured on the
// circle in R^16 with N = 10^6 (15625 blocks), one thread: 4 us per query at sigma = 1e-3 (50
// blocks kept, 74 nodes examined), 5 us at 1e-2 (430 blocks), 10 us at 0.1 (4460), 19 us at 0.2
// (10800), 1.2 us when the root test answers (sigma >= 0.5) — against about 1 ms for one query's
// dense sum at 50% of the FMA peak (4 D N flops), so at most 2% overhead where it does not help.
// It helps when sqrt(v) is small against the extent of the data. It does not help for data
// without low-dimensional structure in high D (every ball is about as wide as the data), for
// queries far from the data at small v (a ball's radius then counts about rho |x - a c| / v in the
// exponent), nor along tangents when tau >> v (the bound uses the isotropic s = v / (v + tau):
// it prunes only at the scale of v + tau, since the components are that wide along tangents).
// Memory: the reordered keys (N x D doubles, keys(); the caller packs from them and may then drop
// its own copy), the order (N uint32), and per node a centre (D doubles) and 5 numbers
// (2 B - 1 nodes for B blocks: about 2 N (D + 5) / 64 doubles).
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <tbb/parallel_invoke.h>
#include <xtensor/xtensor.hpp>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

class KeyIndex {
public:
    // Keys per leaf: must equal SoftmaxKeys::block so that packed block b is leaf b.
    static constexpr std::size_t block = 64;
    static constexpr double default_tolerance = 1e-12;
    // worth_it(): use the candidate list when it has at most this fraction of the blocks. A
    // query streamed alone over its list fills half of the kernel's 2-query register tile, so
    // the list pays off only below half of the blocks (measured with 7/8 here: the sampling
    // step at N = M = 4096, D = 16 was 25% slower than the dense path).
    static constexpr double dense_fraction = 0.5;

    // Per-task query buffers (reused across queries: no allocation once warm) and the figures
    // of the last query.
    struct Scratch {
        std::vector<std::pair<std::uint32_t, double>> stack;     // (node, inherited L^2)
        struct Kept {
            std::uint32_t b0, b1;  // blocks [b0, b1); b1 = b0 + 1 for a leaf seen on its own
            double e;              // the leaf's E; -inf for a node kept whole
        };
        std::vector<Kept> kept;                                  // after the threshold walk
        std::vector<std::pair<double, std::uint32_t>> marginal;  // (term, slot in kept)
        double bound = 0.0;        // certified bound on (omitted weight) / (total weight)
        std::size_t visited = 0;   // tree nodes examined (cost figure)
    };

    KeyIndex() = default;

    // keys: N x D, N >= 1, finite. tolerance in (0, 1): the bound on the omitted weight fraction.
    explicit KeyIndex(const Matrix& keys, double tolerance = default_tolerance) : n_(rows(keys)), d_(cols(keys)) {
        if (n_ == 0) throw Error("KeyIndex: there are no keys");
        if (d_ == 0) throw Error("KeyIndex: the keys have no columns");
        if (n_ >= (std::size_t(1) << 32) - block)
            throw Error("KeyIndex: " + std::to_string(n_) + " keys is more than 32-bit positions can hold");
        if (!(tolerance > 0.0) || !(tolerance < 1.0))
            throw Error("KeyIndex: the tolerance must be in (0, 1), got " + std::to_string(tolerance));
        tol_ = tolerance;
        m_ = 8.0 * static_cast<double>(d_ + 8) * DBL_EPSILON;
        // (1 + 1e-4): the log's own rounding, and a factor (N/tol)^-1e-4 of slack for the sums.
        log_ratio_ = std::log(static_cast<double>(n_) / tol_) * (1.0 + 1e-4);

        keys_ = keys;
        for (double e : keys_)
            if (!std::isfinite(e)) throw Error("KeyIndex: the keys must be finite");
        order_.resize(n_);
        std::iota(order_.begin(), order_.end(), std::uint32_t(0));

        const std::size_t nb = blocks(), nodes = 2 * nb - 1;
        b0_.assign(nodes, 0);
        b1_.assign(nodes, 0);
        radius_.assign(nodes, 0.0);
        lmax_.assign(nodes, 0.0);
        lfloor_.assign(nodes, 0.0);
        centre_.assign(nodes * d_, 0.0);
        Matrix tmp = Matrix::from_shape({n_, d_});
        std::vector<Item> items(n_);
        build(0, 0, static_cast<std::uint32_t>(nb), keys_, tmp, items);
    }

    // Per-key log-weights in the ORIGINAL row order (the same vector given to the packed keys'
    // set_log_weights after reorder()). Same rules as SoftmaxKeys: no NaN or +inf, at least one
    // finite; -inf = weight 0. Without this call the keys are uniform.
    void set_log_weights(const Vector& log_weights) {
        constexpr double inf = std::numeric_limits<double>::infinity();
        if (log_weights.size() != n_)
            throw Error("KeyIndex: " + std::to_string(log_weights.size()) + " log-weights for " +
                        std::to_string(n_) + " keys");
        double top = -inf, low = inf;
        for (std::size_t i = 0; i < n_; ++i) {
            const double l = log_weights(i);
            if (std::isnan(l) || l == inf)
                throw Error("KeyIndex: log-weight " + std::to_string(i) + " is " + std::to_string(l));
            top = std::max(top, l);
            if (l > -inf) low = std::min(low, l);
        }
        if (!(top > -inf)) throw Error("KeyIndex: every key has weight 0 (all log-weights are -inf)");
        lw_.clear();
        lmin_ = 0.0;
        std::fill(lmax_.begin(), lmax_.end(), 0.0);
        std::fill(lfloor_.begin(), lfloor_.end(), 0.0);
        bool uniform = low == top;
        for (std::size_t i = 0; i < n_ && uniform; ++i) uniform = log_weights(i) == top;
        if (uniform) return;
        lmin_ = low - top;
        lw_.resize(n_);
        for (std::size_t p = 0; p < n_; ++p) lw_[p] = log_weights(order_[p]) - top;  // <= 0
        // Largest log-weight per node: leaves from their keys, then parents from children
        // (pre-order numbering: children have larger ids than their parent).
        for (std::size_t id = node_count(); id-- > 0;) {
            if (is_leaf(id)) {
                double mx = -inf;
                for (std::size_t p = first_key(id); p < end_key(id); ++p) mx = std::max(mx, lw_[p]);
                lmax_[id] = lfloor_[id] = mx;
            } else {
                const auto [l, r] = children(id);
                lmax_[id] = std::max(lmax_[l], lmax_[r]);
                lfloor_[id] = std::min(lfloor_[l], lfloor_[r]);
            }
        }
    }

    // The candidate blocks for query x (D values) against sum_i e^{l_i} N(a k_i, v I [+ tau U U^T]),
    // in ascending block order: the weight of all keys outside them is at most tolerance() times
    // the total (Scratch::bound holds the certified figure). Returns the count (= blocks.size()).
    // Every block is returned when nothing can be dropped and for degenerate input: a non-finite
    // query (the kernel then propagates the NaN), a = 0, v not in (0, inf), a single block.
    // Path: a type private to the caller's instruction-set path (simd::path), so that each path of
    // libmdlab_kernels gets its own copy of the walk, compiled with its flags (the std::fma of
    // dist2 is one instruction from AVX2 on and a libm call in the baseline); the results are the
    // same on every path (correctly rounded fma, no contraction).
    template <class Path = void>
    std::size_t candidates(const double* x, double a, double v, std::vector<std::uint32_t>& blocks_out,
                           Scratch& s, double tangent_variance = 0.0) const {
        constexpr double inf = std::numeric_limits<double>::infinity();
        blocks_out.clear();
        s.bound = 0.0;
        s.visited = 0;
        if (n_ == 0) return 0;
        if (blocks() == 1 || !usable(x, a, v, tangent_variance)) return all(blocks_out);
        const double two_v = 2.0 * v;
        const double sh = tangent_variance > 0.0 ? (v / (v + tangent_variance)) * (1.0 - m_) : 1.0;
        const double aa = std::fabs(a);

        // Root test (a shortcut, not part of the proof: returning every block is always safe): if
        // even the farthest possible key is within the threshold band of the nearest possible
        // one, everything is a candidate (large v).
        {
            const double d = std::sqrt(dist2<Path>(x, a, centre(0)));
            const double ar = aa * radius_[0];
            const double up = d + ar, lo = std::max(0.0, d - ar);
            ++s.visited;
            if (!(sh * up * up - two_v * lmin_ > lo * lo + two_v * log_ratio_)) return all(blocks_out);
        }

        // delta and F (step 2 of the proof) from the leaf reached by descending towards smaller E.
        const std::size_t home = descend<Path>(x, a, aa, sh, two_v, s.visited);
        const HomeBound h = home_bound<Path>(home, x, a, two_v);
        if (!(h.delta < inf)) return all(blocks_out);
        const double log_f = std::log(h.f_lo);
        // Omit nodes at E >= threshold (step 4).
        const double threshold = (h.delta + two_v * std::max(0.0, log_ratio_ - log_f)) * (1.0 + m_);
        if (!(threshold < inf)) return all(blocks_out);

        // Threshold walk (step 4), depth first, left child first: kept leaves in block order.
        // Blocks kept for good (whole nodes, and leaves at E <= delta, which step 5 never drops)
        // are counted: once they alone are more than worth_it() accepts, the answer is the dense
        // path whatever the rest of the walk finds, so it stops there (every block is returned).
        const double firm_limit = dense_fraction * static_cast<double>(blocks());
        std::size_t firm = 0;
        double omitted = 0.0;
        s.kept.clear();
        s.stack.clear();
        s.stack.emplace_back(0u, 0.0);
        while (!s.stack.empty()) {
            const auto [id, parent_l2] = s.stack.back();
            s.stack.pop_back();
            ++s.visited;
            const double dist = std::sqrt(dist2<Path>(x, a, centre(id)));
            const double l2 = std::max(parent_l2, lower2(dist, aa, id));
            const double e = energy(l2, sh, two_v, id);
            if (e >= threshold) {
                omitted += term(e, h, two_v, end_key(id) - first_key(id));
                continue;
            }
            if (is_leaf(id)) {
                s.kept.push_back({b0_[id], b1_[id], e});
                if (!(e > h.delta) && static_cast<double>(++firm) > firm_limit) return all(blocks_out);
                continue;
            }
            // Every descendant has E <= s U^2 - 2 v lfloor with U = |x - a c| + |a| rho (step 1's
            // L <= any key's distance <= U): if that is below the threshold, none of them can be
            // omitted in step 4, so keep the node whole rather than visit its leaves (a leaf visit
            // costs about half of what the kernel spends on the block; step 5 then only sees the
            // leaves that the walk reaches one by one).
            const double up = dist + aa * radius_[id];
            if (sh * up * up - two_v * lfloor_[id] < threshold) {
                s.kept.push_back({b0_[id], b1_[id], -inf});
                firm += b1_[id] - b0_[id];
                if (static_cast<double>(firm) > firm_limit) return all(blocks_out);
                continue;
            }
            const auto [l, r] = children(id);
            s.stack.emplace_back(static_cast<std::uint32_t>(r), l2);
            s.stack.emplace_back(static_cast<std::uint32_t>(l), l2);
        }

        // Refinement (step 5): drop the kept leaves with the smallest terms while the total fits.
        omitted *= 1.0 + sum_slack;
        const double budget = tol_ * (1.0 - sum_slack) - omitted;
        double dropped = 0.0;
        if (budget > 0.0) {
            s.marginal.clear();
            for (std::size_t i = 0; i < s.kept.size(); ++i) {
                const double e = s.kept[i].e;
                if (!(e > h.delta)) continue;
                const double t = term(e, h, two_v, count(s.kept[i].b0));
                if (t <= budget) s.marginal.emplace_back(t, static_cast<std::uint32_t>(i));
            }
            std::sort(s.marginal.begin(), s.marginal.end());
            for (const auto& [t, i] : s.marginal) {
                if ((dropped + t) * (1.0 + sum_slack) > budget) break;  // ascending: no later one fits
                dropped += t;
                s.kept[i].b1 = s.kept[i].b0;  // empty range: dropped
            }
        }
        s.bound = omitted + dropped * (1.0 + sum_slack);
        for (const auto& k : s.kept)
            for (std::uint32_t b = k.b0; b < k.b1; ++b) blocks_out.push_back(b);
        return blocks_out.size();
    }

    // Whether streaming over `candidate_count` listed blocks is worth it against the dense path.
    bool worth_it(std::size_t candidate_count) const {
        return static_cast<double>(candidate_count) <= dense_fraction * static_cast<double>(blocks());
    }

    // The block reached by descending towards the nearest ball (the block that supplies delta):
    // a spatial sort key for grouping queries that share candidates. 0 for a non-finite query.
    std::uint32_t home_block(const double* x, double a) const {
        if (n_ == 0 || !usable(x, a, 1.0, 0.0)) return 0;
        std::size_t visited = 0;
        return b0_[descend(x, a, std::fabs(a), 1.0, 2.0, visited)];
    }

    // A processing order for the M queries (rows of x): rows sorted by (home block, row), so that
    // queries with overlapping candidate lists run one after another and find the key blocks
    // still in cache (at N = 10^6 a query's ~50 blocks are 400 KB of keys). Deterministic.
    std::vector<std::uint32_t> query_order(const Matrix& x, double a) const {
        if (cols(x) != d_)
            throw Error("KeyIndex::query_order: the queries have " + std::to_string(cols(x)) + " columns, the keys " +
                        std::to_string(d_));
        const std::size_t m = rows(x);
        std::vector<std::pair<std::uint32_t, std::uint32_t>> key(m);
        for_chunks(m, 256, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) key[i] = {home_block(row(x, i), a), static_cast<std::uint32_t>(i)};
        });
        std::sort(key.begin(), key.end());
        std::vector<std::uint32_t> out(m);
        for (std::size_t i = 0; i < m; ++i) out[i] = key[i].second;
        return out;
    }

    // Per-row data in the index's order: out[p] = in[order()[p]] (along the first axis).
    Vector reorder(const Vector& in) const {
        check_rows(in.shape()[0]);
        Vector out = Vector::from_shape({n_});
        for (std::size_t p = 0; p < n_; ++p) out(p) = in(order_[p]);
        return out;
    }
    Matrix reorder(const Matrix& in) const {
        check_rows(rows(in));
        const std::size_t c = cols(in);
        Matrix out = Matrix::from_shape({n_, c});
        for_chunks(n_, 4096, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p) std::copy_n(row(in, order_[p]), c, row(out, p));
        });
        return out;
    }
    xt::xtensor<double, 3> reorder(const xt::xtensor<double, 3>& in) const {
        check_rows(in.shape()[0]);
        const std::size_t per = in.shape()[1] * in.shape()[2];
        xt::xtensor<double, 3> out = xt::xtensor<double, 3>::from_shape({n_, in.shape()[1], in.shape()[2]});
        for_chunks(n_, 4096, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p) std::copy_n(in.data() + order_[p] * per, per, out.data() + p * per);
        });
        return out;
    }

    std::size_t size() const { return n_; }
    std::size_t dim() const { return d_; }
    double tolerance() const { return tol_; }
    std::size_t blocks() const { return chunk_count(n_, block); }
    std::size_t count(std::size_t b) const { return std::min(block, n_ - b * block); }
    // order()[p] = original row of the key at position p.
    const std::vector<std::uint32_t>& order() const { return order_; }
    // The keys in the index's order (N x D): pack SoftmaxKeys from this.
    const Matrix& keys() const { return keys_; }
    bool weighted() const { return !lw_.empty(); }

    // The tree (for tests and diagnostics): nodes in pre-order, node 0 the root.
    std::size_t node_count() const { return b0_.size(); }
    std::pair<std::size_t, std::size_t> node_blocks(std::size_t id) const { return {b0_[id], b1_[id]}; }
    std::size_t first_key(std::size_t id) const { return std::size_t(b0_[id]) * block; }
    std::size_t end_key(std::size_t id) const { return std::min(std::size_t(b1_[id]) * block, n_); }
    bool is_leaf(std::size_t id) const { return b1_[id] - b0_[id] == 1; }
    std::pair<std::size_t, std::size_t> children(std::size_t id) const {
        const std::size_t left_blocks = (b1_[id] - b0_[id]) / 2;
        return {id + 1, id + 2 * left_blocks};
    }
    const double* centre(std::size_t id) const { return centre_.data() + id * d_; }
    double radius(std::size_t id) const { return radius_[id]; }

private:
    struct Item {
        double value;
        std::uint32_t orig, local;
    };
    static constexpr double sum_slack = 1e-6;
    static constexpr std::size_t parallel_rows = std::size_t(1) << 15;  // parallel passes above this
    static constexpr std::size_t pass_chunk = 8192;

    std::size_t all(std::vector<std::uint32_t>& out) const {
        out.resize(blocks());
        std::iota(out.begin(), out.end(), std::uint32_t(0));
        return out.size();
    }

    bool usable(const double* x, double a, double v, double tau) const {
        if (!(v > 0.0) || !std::isfinite(v) || !std::isfinite(a) || a == 0.0) return false;
        if (!(tau >= 0.0) || !std::isfinite(tau)) return false;
        for (std::size_t j = 0; j < d_; ++j)
            if (!std::isfinite(x[j])) return false;
        return true;
    }

    void check_rows(std::size_t r) const {
        if (r != n_) throw Error("KeyIndex::reorder: " + std::to_string(r) + " rows for " + std::to_string(n_) + " keys");
    }

    // |x - a c|^2 with each difference formed with one rounding, summed in 8 partial sums (a
    // fixed order, which vectorises and breaks the add latency chain; any order of a sum of
    // non-negative terms has relative error <= (D - 1) eps, inside the margin m).
    template <class Path = void>
    double dist2(const double* x, double a, const double* c) const {
        constexpr std::size_t w = 8;
        double acc[w] = {};
        std::size_t j = 0;
        for (; j + w <= d_; j += w)
            for (std::size_t l = 0; l < w; ++l) {
                const double r = std::fma(a, c[j + l], -x[j + l]);
                acc[l] += r * r;
            }
        double s = 0.0;
        for (; j < d_; ++j) {
            const double r = std::fma(a, c[j], -x[j]);
            s += r * r;
        }
        for (std::size_t l = 0; l < w; ++l) s += acc[l];
        return s;
    }

    // A lower bound on L_B^2 (step 1), rounded down, from dist = the computed |x - a c_B|.
    double lower2(double dist, double aa, std::size_t id) const {
        const double l = (dist * (1.0 - m_) - aa * radius_[id] * (1.0 + m_)) * (1.0 - m_);
        return l > 0.0 ? l * l * (1.0 - m_) : 0.0;
    }
    template <class Path = void>
    double lower2(const double* x, double a, double aa, std::size_t id) const {
        return lower2(std::sqrt(dist2<Path>(x, a, centre(id))), aa, id);
    }

    // E_B = s L^2 - 2 v lambda_B (both terms >= 0), rounded down; +inf for a weightless node.
    double energy(double l2, double sh, double two_v, std::size_t id) const {
        return (sh * l2 - two_v * lmax_[id]) * (1.0 - m_);
    }

    // Step 2's lower bound on the total weight: W >= exp(-delta / (2v)) f_lo.
    struct HomeBound {
        double delta;  // >= min over the home leaf of delta_j (rounded up)
        double f_lo;   // <= sum over the home leaf of exp(-(delta_j - delta) / (2v)), >= 1 (rounded down)
    };

    // t_B = n exp(-(E - delta) / (2 v)) / f, rounded up (inf when E <= delta). The smallest
    // subnormal is added because exp may underflow (to 0 or to a subnormal with a large relative
    // error) where the true term is positive: the bound must never claim an exact 0.
    double term(double e, const HomeBound& h, double two_v, std::size_t n) const {
        const double diff = (e - h.delta) * (1.0 - m_);
        if (!(diff > 0.0)) return std::numeric_limits<double>::infinity();
        const double arg = diff / two_v * (1.0 - m_);
        return static_cast<double>(n) *
               (std::exp(-arg) / h.f_lo * (1.0 + m_) + std::numeric_limits<double>::denorm_min());
    }

    // Greedy descent towards the child with the smaller E (ties: left); returns the leaf's id.
    template <class Path = void>
    std::size_t descend(const double* x, double a, double aa, double sh, double two_v, std::size_t& visited) const {
        std::size_t id = 0;
        double l2 = lower2<Path>(x, a, aa, 0);
        while (!is_leaf(id)) {
            const auto [l, r] = children(id);
            const double l2l = std::max(l2, lower2<Path>(x, a, aa, l));
            const double l2r = std::max(l2, lower2<Path>(x, a, aa, r));
            visited += 2;
            if (energy(l2r, sh, two_v, r) < energy(l2l, sh, two_v, l)) id = r, l2 = l2r;
            else id = l, l2 = l2l;
        }
        return id;
    }

    // delta = min over the leaf's keys of delta_j = r_j^2 - 2 v l_j, and the sum f (step 2).
    // Each delta_j is rounded up before the minimum, so every delta_j - delta below is >= the
    // difference of upper bounds; the exponentials' own rounding (relative error below
    // 745 * 2 eps + 64 eps, 1.7e-13) is covered by the factor 1 - 1e-9.
    template <class Path = void>
    HomeBound home_bound(std::size_t id, const double* x, double a, double two_v) const {
        constexpr double inf = std::numeric_limits<double>::infinity();
        double dj[block];
        double best = inf;
        const std::size_t first = first_key(id), cnt = end_key(id) - first;
        for (std::size_t q = 0; q < cnt; ++q) {
            double r2 = dist2<Path>(x, a, row(keys_, first + q));
            if (!lw_.empty()) r2 -= two_v * lw_[first + q];
            dj[q] = r2 * (1.0 + m_);
            best = std::min(best, dj[q]);
        }
        if (!(best < inf)) return {inf, 1.0};
        double f = 0.0;
        for (std::size_t q = 0; q < cnt; ++q) f += std::exp(-(dj[q] - best) / two_v);
        return {best, std::max(1.0, f * (1.0 - 1e-9))};
    }

    // Copies `count` rows of D values (a plain loop: a library call per short row costs more).
    void copy_rows(const double* src, std::size_t count, double* dst) const {
        const std::size_t total = count * d_;
        for (std::size_t q = 0; q < total; ++q) dst[q] = src[q];
    }

    // Calls f(chunk, begin, end) over [0, count): in parallel chunks for large ranges.
    template <class F>
    static std::size_t passes(std::size_t count, F&& f) {
        if (count < parallel_rows) {
            f(std::size_t(0), std::size_t(0), count);
            return 1;
        }
        for_chunks(count, pass_chunk, f);
        return chunk_count(count, pass_chunk);
    }
    static std::size_t pass_count(std::size_t count) {
        return count < parallel_rows ? 1 : chunk_count(count, pass_chunk);
    }

    // Node `id` over blocks [b0, b1), whose rows are in `cur` (keys_ or the scratch matrix, by
    // depth): its ball, then (inner node) the split, written into `other`, and the children
    // (which read `other`); a leaf moves its rows into keys_ if they are not there.
    void build(std::uint32_t id, std::uint32_t b0, std::uint32_t b1, Matrix& cur, Matrix& other,
               std::vector<Item>& items) {
        constexpr double inf = std::numeric_limits<double>::infinity();
        const std::size_t d = d_, lo = std::size_t(b0) * block, hi = std::min(std::size_t(b1) * block, n_);
        const std::size_t cnt = hi - lo;
        b0_[id] = b0;
        b1_[id] = b1;

        // Bounding box (min/max are exact: the same for any chunking).
        const std::size_t np = pass_count(cnt);
        std::vector<double> bmin(np * d, inf), bmax(np * d, -inf);
        passes(cnt, [&](std::size_t c, std::size_t b, std::size_t e) {
            double* mn = bmin.data() + c * d;
            double* mx = bmax.data() + c * d;
            for (std::size_t p = b; p < e; ++p) {
                const double* k = row(cur, lo + p);
                for (std::size_t j = 0; j < d; ++j) {
                    mn[j] = std::min(mn[j], k[j]);
                    mx[j] = std::max(mx[j], k[j]);
                }
            }
        });
        for (std::size_t c = 1; c < np; ++c)
            for (std::size_t j = 0; j < d; ++j) {
                bmin[j] = std::min(bmin[j], bmin[c * d + j]);
                bmax[j] = std::max(bmax[j], bmax[c * d + j]);
            }
        double* ctr = centre_.data() + std::size_t(id) * d;
        std::size_t widest = 0;
        for (std::size_t j = 0; j < d; ++j) {
            ctr[j] = bmin[j] + 0.5 * (bmax[j] - bmin[j]);
            if (bmax[j] - bmin[j] > bmax[widest] - bmin[widest]) widest = j;
        }

        // Radius: the largest distance to the centre, rounded up (step 1 needs |k - c| <= rho).
        std::vector<double> rmax(np, 0.0);
        passes(cnt, [&](std::size_t c, std::size_t b, std::size_t e) {
            double mx = 0.0;
            for (std::size_t p = b; p < e; ++p) {
                const double* k = row(cur, lo + p);
                double s = 0.0;
                for (std::size_t j = 0; j < d; ++j) s += (k[j] - ctr[j]) * (k[j] - ctr[j]);
                mx = std::max(mx, s);
            }
            rmax[c] = mx;
        });
        radius_[id] = std::sqrt(*std::max_element(rmax.begin(), rmax.end())) * (1.0 + m_);
        if (b1 - b0 == 1) {
            if (&cur != &keys_) copy_rows(row(cur, lo), cnt, row(keys_, lo));
            return;
        }

        // Split at the median of the widest coordinate, rounded to a block boundary; ties by the
        // original row, so the partition is unique.
        const std::uint32_t mid = b0 + (b1 - b0) / 2;
        const std::size_t split = std::size_t(mid) * block - lo;
        Item* it = items.data() + lo;
        passes(cnt, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p)
                it[p] = Item{row(cur, lo + p)[widest], order_[lo + p], static_cast<std::uint32_t>(p)};
        });
        std::nth_element(it, it + split, it + cnt, [](const Item& u, const Item& w) {
            return u.value < w.value || (u.value == w.value && u.orig < w.orig);
        });
        passes(cnt, [&](std::size_t, std::size_t b, std::size_t e) {
            for (std::size_t p = b; p < e; ++p) {
                copy_rows(row(cur, lo + it[p].local), 1, row(other, lo + p));
                order_[lo + p] = it[p].orig;
            }
        });

        const std::uint32_t left = id + 1, right = id + 2 * (mid - b0);
        if (cnt >= 8192) {
            tbb::parallel_invoke([&] { build(left, b0, mid, other, cur, items); },
                                 [&] { build(right, mid, b1, other, cur, items); });
        } else {
            build(left, b0, mid, other, cur, items);
            build(right, mid, b1, other, cur, items);
        }
    }

    std::size_t n_ = 0, d_ = 0;
    double tol_ = default_tolerance;
    double m_ = 0.0;          // relative rounding margin of distances
    double log_ratio_ = 0.0;  // log(N / tol) with margin
    double lmin_ = 0.0;       // smallest finite relative log-weight (0 if uniform)
    Matrix keys_;             // reordered keys
    std::vector<std::uint32_t> order_;
    std::vector<std::uint32_t> b0_, b1_;  // per node: block range
    std::vector<double> radius_, lmax_;   // per node: ball radius, largest relative log-weight
    std::vector<double> lfloor_;          // per node: smallest of its leaves' largest log-weights
    std::vector<double> centre_;          // per node: D coordinates
    std::vector<double> lw_;              // per position: relative log-weight (empty if uniform)
};

}  // namespace mdlab::kernels
