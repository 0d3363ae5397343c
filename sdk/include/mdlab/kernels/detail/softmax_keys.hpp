// Training keys packed for the softmax score kernel (softmax_score.hpp) and the mean-shift
// kernel (mean_shift.hpp): blocks of `block` = 64 keys, transposed inside a block (for each
// coordinate j the block's 64 values are contiguous, so a register of keys is one load), the
// last block padded with zeros; optional per-key log-weights and tangent bases packed the same
// way. Pack once (for example in an estimator's prepare()) and reuse for every call: the scale a,
// the variance v and the tangent variance tau are arguments of the kernel, not of the packing.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "mdlab/array.hpp"
#include "mdlab/error.hpp"
#include "mdlab/kernels/detail/key_index.hpp"
#include "mdlab/parallel.hpp"

namespace mdlab::kernels {

namespace softmax_detail {
// Allocator of 64-byte aligned storage: a packed block then starts on a cache line, so loading a
// register of keys never straddles two lines.
template <class T>
struct CacheAligned {
    using value_type = T;
    CacheAligned() = default;
    template <class U>
    CacheAligned(const CacheAligned<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <class U>
    bool operator==(const CacheAligned<U>&) const { return true; }
    template <class U>
    bool operator!=(const CacheAligned<U>&) const { return false; }
};
}  // namespace softmax_detail

class SoftmaxKeys {
public:
    static constexpr std::size_t block = 64;  // keys per block
    static constexpr double index_tolerance = 1e-15;  // dropped weight / total weight, indexed()
    static_assert(KeyIndex::block == 64, "a packed block must be one leaf of the spatial index");

    SoftmaxKeys() = default;
    explicit SoftmaxKeys(const Matrix& keys) { pack(keys); }

    // Keys packed in the order of a spatial index (kernels/key_index.hpp) built over them: the
    // kernel then restricts each query to the blocks that carry weight (provably all but 1e-12
    // of it), which makes small noise levels cost what the nearby keys cost instead of N.
    // Per-key extras are still given in the original order; results are in query order.
    static SoftmaxKeys indexed(const Matrix& keys) {
        SoftmaxKeys k;
        if (rows(keys) <= block) {  // one block: nothing to prune
            k.pack(keys);
            return k;
        }
        // The dropped weight bound is 1e-15 of the total, not the index's default 1e-12: a dropped
        // key's component |a k - x| / v can be ~ sqrt(2 log(N / tol) / v) times larger than a score
        // whose components cancel, and the kernel promises 1e-12 relative to the full sum. It costs a
        // few per cent more kept blocks (the kept radius grows like sqrt(log(N / tol))).
        k.index_ = std::make_shared<KeyIndex>(keys, index_tolerance);
        k.pack(k.index_->keys());
        k.spread_ = spread_order(k.blocks());
        return k;
    }

    // The spatial index the keys are packed in (nullptr: packed in the given order).
    const KeyIndex* index() const { return index_.get(); }

    // The order in which a query streams over all blocks: nullptr for 0, 1, 2, ... With an index
    // the blocks in bit-reversed order (0, B/2, B/4, 3B/4, ... for B a power of two): keys
    // packed in the index's order lie along the data block after block, and a query streamed
    // over them in order meets ever nearer blocks, rescaling its sums at most of them (11% of
    // the dense time at N = 4096 on the circle, measured); in this order the first few blocks
    // already span the data. Any fixed order gives the same softmax up to rounding.
    const std::uint32_t* dense_order() const { return spread_.empty() ? nullptr : spread_.data(); }

private:
    void pack(const Matrix& keys) {
        n_ = rows(keys);
        d_ = cols(keys);
        const std::size_t nb = blocks();
        packed_.assign(nb * d_ * block, 0.0);
        std::vector<double> largest(chunk_count(nb, 16), 0.0);
        for_chunks(nb, 16, [&](std::size_t c, std::size_t b0, std::size_t b1) {
            double m = 0.0;
            for (std::size_t b = b0; b < b1; ++b) {
                double* dst = packed_.data() + b * d_ * block;
                const std::size_t first = b * block, count = std::min(block, n_ - first);
                for (std::size_t k = 0; k < count; ++k) {
                    const double* src = row(keys, first + k);
                    for (std::size_t j = 0; j < d_; ++j) {
                        dst[j * block + k] = src[j];
                        // NaN compares false: a NaN key makes max_abs() NaN (see below).
                        m = std::isnan(src[j]) || std::abs(src[j]) > m ? std::abs(src[j]) : m;
                    }
                }
            }
            largest[c] = m;
        });
        for (double m : largest) max_abs_ = std::isnan(m) || m > max_abs_ ? m : max_abs_;
    }


public:
    // Per-key log-weights l_i (N values; -inf = weight 0; at least one finite; no NaN or +inf).
    // They need not be normalised. Equal log-weights are stored as a constant only (the softmax
    // does not see them), so uniform weights cost nothing and give the plain kernel's result.
    void set_log_weights(const Vector& log_weights) {
        constexpr double inf = std::numeric_limits<double>::infinity();
        if (log_weights.size() != n_)
            throw Error("SoftmaxKeys: " + std::to_string(log_weights.size()) + " log-weights for " +
                        std::to_string(n_) + " keys");
        double top = -inf, low = inf;
        for (std::size_t i = 0; i < n_; ++i) {
            const double l = log_weights(i);
            if (std::isnan(l) || l == inf)
                throw Error("SoftmaxKeys: log-weight " + std::to_string(i) + " is " + std::to_string(l));
            top = std::max(top, l);
            low = std::min(low, l);
        }
        if (!(top > -inf)) throw Error("SoftmaxKeys: every key has weight 0 (all log-weights are -inf)");
        log_weights_.clear();
        log_weight_offset_ = top;
        if (index_) {  // the index bounds weights by their maxima: a copy of its own (copies share it)
            auto updated = std::make_shared<KeyIndex>(*index_);
            updated->set_log_weights(log_weights);
            index_ = std::move(updated);
        }
        if (low == top) return;  // uniform
        // Stored relative to the largest (all <= 0), so a weighted distance is never below the
        // plain one; padding is 0 (the padded keys' distance is set to +inf anyway).
        log_weights_.assign(blocks() * block, 0.0);
        for (std::size_t i = 0; i < n_; ++i) log_weights_[i] = log_weights(index_ ? index_->order()[i] : i) - top;
    }

    // Orthonormal tangent bases, bases(i, a, j) = coordinate a of tangent vector j at key i
    // (shape N x D x k, k >= 1, the layout of mdlab::TangentBases). Orthonormality is the
    // caller's promise (it is what makes the determinants cancel).
    void set_tangents(const xt::xtensor<double, 3>& bases) {
        const auto& s = bases.shape();
        if (s[0] != n_ || s[1] != d_ || s[2] == 0 || s[2] > d_)
            throw Error("SoftmaxKeys: tangent bases of shape " + std::to_string(s[0]) + " x " + std::to_string(s[1]) +
                        " x " + std::to_string(s[2]) + " for " + std::to_string(n_) + " keys in dimension " +
                        std::to_string(d_) + " (expected N x D x k with 1 <= k <= D)");
        kt_ = s[2];
        const std::size_t nb = blocks(), per = kt_ * d_ * block;
        tangents_.assign(nb * per, 0.0);
        for_chunks(nb, 16, [&](std::size_t, std::size_t b0, std::size_t b1) {
            for (std::size_t b = b0; b < b1; ++b) {
                double* dst = tangents_.data() + b * per;
                const std::size_t first = b * block, count = std::min(block, n_ - first);
                for (std::size_t t = 0; t < kt_; ++t)
                    for (std::size_t j = 0; j < d_; ++j)
                        for (std::size_t k = 0; k < count; ++k) dst[(t * d_ + j) * block + k] = bases(original(first + k), j, t);
            }
        });
    }

    std::size_t size() const { return n_; }
    // The original row of the key packed at position p.
    std::size_t original(std::size_t p) const { return index_ ? index_->order()[p] : p; }
    // The largest |coordinate| of any key (NaN if a key has a NaN, inf if one is infinite): the
    // fast paths of the kernel need |a k| bounded so that no squared distance overflows.
    double max_abs() const { return max_abs_; }
    std::size_t dim() const { return d_; }
    std::size_t blocks() const { return chunk_count(n_, block); }
    // Keys valid in block b (the last block may be partial; its padding is zero).
    std::size_t count(std::size_t b) const { return std::min(block, n_ - b * block); }
    // Block b: d_ rows of `block` values, coordinate j of key k of the block at [j * block + k].
    const double* data(std::size_t b) const { return packed_.data() + b * d_ * block; }

    // Non-uniform log-weights are stored (uniform ones are only the offset below).
    bool weighted() const { return !log_weights_.empty(); }
    // Block b's log-weights minus log_weight_offset(), `block` values.
    const double* log_weights(std::size_t b) const { return log_weights_.data() + b * block; }
    // The largest log-weight (0 without weights): added to log_norm.
    double log_weight_offset() const { return log_weight_offset_; }

    bool has_tangents() const { return kt_ > 0; }
    std::size_t tangent_dim() const { return kt_; }
    // Block b: coordinate j of tangent vector t of key k at [(t * D + j) * block + k].
    const double* tangents(std::size_t b) const { return tangents_.data() + b * kt_ * d_ * block; }

private:
    std::size_t n_ = 0, d_ = 0, kt_ = 0;
    std::vector<double, softmax_detail::CacheAligned<double>> packed_;
    double max_abs_ = 0.0;
    std::vector<double> log_weights_;
    double log_weight_offset_ = 0.0;
    std::vector<double> tangents_;
    std::shared_ptr<const KeyIndex> index_;
    std::vector<std::uint32_t> spread_;  // dense_order()

    static std::vector<std::uint32_t> spread_order(std::size_t blocks) {
        std::size_t bits = 0;
        while ((std::size_t(1) << bits) < blocks) ++bits;
        std::vector<std::uint32_t> order;
        order.reserve(blocks);
        for (std::size_t i = 0; i < (std::size_t(1) << bits); ++i) {
            std::size_t r = 0;
            for (std::size_t b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
            if (r < blocks) order.push_back(static_cast<std::uint32_t>(r));
        }
        return order;
    }
};

namespace softmax_detail {
// The smallest of a block's SoftmaxKeys::block values (exact whatever the order), by pairwise
// halving, which vectorises: the general softmax path and the Laplace mean shift.
inline double block_minimum(const double* dist) {
    constexpr std::size_t block = SoftmaxKeys::block, lanes = 8;
    static_assert(block == 8 * lanes, "the halving assumes block = 8 lanes");
    alignas(64) double half[block / 2];
    for (std::size_t k = 0; k < block / 2; ++k) half[k] = dist[k + block / 2] < dist[k] ? dist[k + block / 2] : dist[k];
    for (std::size_t k = 0; k < block / 4; ++k) half[k] = half[k + block / 4] < half[k] ? half[k + block / 4] : half[k];
    for (std::size_t k = 0; k < block / 8; ++k) half[k] = half[k + block / 8] < half[k] ? half[k + block / 8] : half[k];
    double bmin = half[0];
    for (std::size_t l = 1; l < lanes; ++l) bmin = half[l] < bmin ? half[l] : bmin;
    return bmin;
}
}  // namespace softmax_detail

}  // namespace mdlab::kernels
