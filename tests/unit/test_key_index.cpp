// mdlab/kernels/detail/key_index.hpp: the k-d tree structure (permutation, leaves = blocks of 64,
// every key inside its node's ball, splits separate the children), the certified bound on the
// omitted weight against a long double brute force over all keys, and the end-to-end property
// the kernel relies on: a plain two-pass softmax score over the candidate blocks only equals the
// same computation over all keys to 1e-10 relative. The reference loops are written here.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include <mdlab/kernels/detail/key_index.hpp>
#include <mdlab/rng.hpp>

using mdlab::Matrix;
using mdlab::kernels::KeyIndex;

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();

Matrix normal_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    mdlab::Rng rng(seed);
    Matrix x = Matrix::from_shape({n, d});
    for (auto& e : x) e = scale * rng.normal();
    return x;
}

// An orthonormal pair (e1, e2) in R^d (Gram-Schmidt on Gaussian vectors).
std::vector<double> frame(std::size_t d, mdlab::Rng& rng) {
    std::vector<double> e(2 * d);
    for (auto& v : e) v = rng.normal();
    double n1 = 0.0;
    for (std::size_t j = 0; j < d; ++j) n1 += e[j] * e[j];
    for (std::size_t j = 0; j < d; ++j) e[j] /= std::sqrt(n1);
    double p = 0.0;
    for (std::size_t j = 0; j < d; ++j) p += e[j] * e[d + j];
    double n2 = 0.0;
    for (std::size_t j = 0; j < d; ++j) e[d + j] -= p * e[j], n2 += e[d + j] * e[d + j];
    for (std::size_t j = 0; j < d; ++j) e[d + j] /= std::sqrt(n2);
    return e;
}

// N uniform points on the unit circle in a random plane of R^d (offset added to every
// coordinate), and their unit tangents.
struct Circle {
    Matrix points, tangents;
};
Circle circle(std::size_t n, std::size_t d, std::uint64_t seed, double offset = 0.0) {
    mdlab::Rng rng(seed);
    const auto e = frame(d, rng);
    Circle c{Matrix::from_shape({n, d}), Matrix::from_shape({n, d})};
    for (std::size_t i = 0; i < n; ++i) {
        const double t = 2.0 * M_PI * rng.uniform();
        for (std::size_t j = 0; j < d; ++j) {
            c.points(i, j) = offset + std::cos(t) * e[j] + std::sin(t) * e[d + j];
            c.tangents(i, j) = -std::sin(t) * e[j] + std::cos(t) * e[d + j];
        }
    }
    return c;
}

// Gaussian blobs in R^2 (6 centres in [-5, 5]^2, std 0.05), with 10% exact copies of one point.
Matrix blobs(std::size_t n, std::uint64_t seed) {
    mdlab::Rng rng(seed);
    double centres[6][2];
    for (auto& c : centres) c[0] = 10.0 * rng.uniform() - 5.0, c[1] = 10.0 * rng.uniform() - 5.0;
    Matrix x = Matrix::from_shape({n, 2});
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 10 == 3) {
            x(i, 0) = 1.25, x(i, 1) = -0.5;
            continue;
        }
        const auto& c = centres[rng.below(6)];
        x(i, 0) = c[0] + 0.05 * rng.normal();
        x(i, 1) = c[1] + 0.05 * rng.normal();
    }
    return x;
}

// The mixture a query is checked against: keys (original order), optional log-weights (original
// order) and unit tangents (one per key) with tangent variance tau.
struct Mixture {
    const Matrix* keys = nullptr;
    const std::vector<double>* log_weights = nullptr;
    const Matrix* tangents = nullptr;
    double tau = 0.0;
};

// Logit of key i in long double: l_i - q_i / (2 v), q = |r - u (u.r)|^2 + (1 - c) (u.r)^2.
long double logit_ld(const Mixture& m, std::size_t i, const double* x, double a, double v) {
    const std::size_t d = mdlab::cols(*m.keys);
    long double r2 = 0.0L, ur = 0.0L;
    std::vector<long double> r(d);
    for (std::size_t j = 0; j < d; ++j) {
        r[j] = static_cast<long double>(x[j]) - static_cast<long double>(a) * (*m.keys)(i, j);
        r2 += r[j] * r[j];
        if (m.tangents) ur += r[j] * (*m.tangents)(i, j);
    }
    long double q = r2;
    if (m.tangents && m.tau > 0.0) {
        long double perp = 0.0L;
        for (std::size_t j = 0; j < d; ++j) {
            const long double t = r[j] - ur * (*m.tangents)(i, j);
            perp += t * t;
        }
        q = perp + static_cast<long double>(v) / (static_cast<long double>(v) + m.tau) * ur * ur;
    }
    const long double l = m.log_weights ? static_cast<long double>((*m.log_weights)[i]) : 0.0L;
    if (l == -std::numeric_limits<long double>::infinity()) return l;
    return l - q / (2.0L * v);
}

// Fraction of the total weight carried by keys outside the listed blocks (brute force, all keys).
long double omitted_fraction(const Mixture& m, const KeyIndex& index, const double* x, double a, double v,
                             const std::vector<std::uint32_t>& list) {
    const std::size_t n = index.size();
    std::vector<char> kept(index.blocks(), 0);
    for (auto b : list) kept[b] = 1;
    std::vector<long double> lg(n);
    long double top = -std::numeric_limits<long double>::infinity();
    for (std::size_t p = 0; p < n; ++p) top = std::max(top, lg[p] = logit_ld(m, index.order()[p], x, a, v));
    long double total = 0.0L, omitted = 0.0L;
    for (std::size_t p = 0; p < n; ++p) {
        const long double w = std::exp(lg[p] - top);
        total += w;
        if (!kept[p / KeyIndex::block]) omitted += w;
    }
    return omitted / total;
}

// Plain two-pass softmax score over the keys at positions with include(p) (positions in the
// index's order, ascending): out = sum w (a k - x - c u u.(a k - x)) / (v sum w), log_norm.
template <class Include>
void two_pass_score(const Mixture& m, const KeyIndex& index, const double* x, double a, double v, Include include,
                    std::vector<double>& out, double& log_norm) {
    const std::size_t n = index.size(), d = index.dim();
    const double c = m.tau > 0.0 ? m.tau / (v + m.tau) : 0.0, one_minus_c = m.tau > 0.0 ? v / (v + m.tau) : 1.0;
    std::vector<double> lg(n, -inf_v);
    double top = -inf_v;
    for (std::size_t p = 0; p < n; ++p) {
        if (!include(p)) continue;
        const std::size_t i = index.order()[p];
        double r2 = 0.0, ur = 0.0;
        for (std::size_t j = 0; j < d; ++j) {
            const double r = x[j] - a * (*m.keys)(i, j);
            r2 += r * r;
            if (m.tangents) ur += r * (*m.tangents)(i, j);
        }
        double q = r2;
        if (m.tangents && m.tau > 0.0) {
            double perp = 0.0;
            for (std::size_t j = 0; j < d; ++j) {
                const double t = x[j] - a * (*m.keys)(i, j) - ur * (*m.tangents)(i, j);
                perp += t * t;
            }
            q = perp + one_minus_c * ur * ur;
        }
        const double l = m.log_weights ? (*m.log_weights)[i] : 0.0;
        lg[p] = l == -inf_v ? -inf_v : l - q / (2.0 * v);
        top = std::max(top, lg[p]);
    }
    double sum = 0.0;
    out.assign(d, 0.0);
    std::vector<double> o(d);
    for (std::size_t p = 0; p < n; ++p) {
        if (!include(p) || lg[p] == -inf_v) continue;
        const std::size_t i = index.order()[p];
        const double w = std::exp(lg[p] - top);
        sum += w;
        double uo = 0.0;
        for (std::size_t j = 0; j < d; ++j) {
            o[j] = a * (*m.keys)(i, j) - x[j];
            if (m.tangents) uo += o[j] * (*m.tangents)(i, j);
        }
        for (std::size_t j = 0; j < d; ++j) out[j] += w * (o[j] - (m.tangents ? c * uo * (*m.tangents)(i, j) : 0.0));
    }
    for (auto& e : out) e /= sum * v;
    log_norm = top + std::log(sum);
}

struct Stats {
    std::size_t queries = 0;
    long double worst_fraction = 0.0L;   // largest omitted fraction seen
    double worst_bound = 0.0;            // largest certified bound seen
    double worst_score = 0.0;            // largest relative score difference
    double worst_log_norm = 0.0;         // largest absolute log_norm difference
    std::size_t min_count = ~std::size_t(0), max_count = 0, total_count = 0;
};

// One query: the bound holds against the brute force, and the restricted score equals the full.
void check_query(const Mixture& m, const KeyIndex& index, const double* x, double a, double v, Stats& st) {
    KeyIndex::Scratch scratch;
    std::vector<std::uint32_t> list;
    const std::size_t count = index.candidates(x, a, v, list, scratch, m.tau);
    REQUIRE(count == list.size());
    REQUIRE(std::is_sorted(list.begin(), list.end()));
    REQUIRE(std::adjacent_find(list.begin(), list.end()) == list.end());
    REQUIRE(!list.empty());
    REQUIRE(list.back() < index.blocks());
    const long double fraction = omitted_fraction(m, index, x, a, v, list);
    INFO("a = " << a << ", v = " << v << ", tau = " << m.tau << ", candidates " << count << " of " << index.blocks()
                << ", omitted fraction " << static_cast<double>(fraction) << ", bound " << scratch.bound);
    // The proof: omitted / total <= bound <= tolerance (1e-9 relative: long double rounding).
    CHECK(fraction <= static_cast<long double>(scratch.bound) * (1.0L + 1e-9L));
    CHECK(scratch.bound <= index.tolerance());
    if (count == index.blocks()) CHECK(scratch.bound == 0.0);

    std::vector<char> kept(index.blocks(), 0);
    for (auto b : list) kept[b] = 1;
    std::vector<double> full, part;
    double ln_full = 0.0, ln_part = 0.0;
    two_pass_score(m, index, x, a, v, [](std::size_t) { return true; }, full, ln_full);
    two_pass_score(m, index, x, a, v, [&](std::size_t p) { return kept[p / KeyIndex::block] != 0; }, part, ln_part);
    double diff = 0.0, norm = 0.0;
    for (std::size_t j = 0; j < full.size(); ++j) {
        diff += (full[j] - part[j]) * (full[j] - part[j]);
        norm += full[j] * full[j];
    }
    // 1e-10 at the default tolerance 1e-12: the score moves by a small multiple of the dropped
    // weight fraction.
    const double rel = std::sqrt(diff / norm), allowed = 100.0 * index.tolerance();
    CHECK(rel <= allowed);
    CHECK(std::fabs(ln_full - ln_part) <= allowed * std::max(1.0, std::fabs(ln_full)));

    ++st.queries;
    st.worst_fraction = std::max(st.worst_fraction, fraction);
    st.worst_bound = std::max(st.worst_bound, scratch.bound);
    st.worst_score = std::max(st.worst_score, rel);
    st.worst_log_norm = std::max(st.worst_log_norm, std::fabs(ln_full - ln_part));
    st.min_count = std::min(st.min_count, count);
    st.max_count = std::max(st.max_count, count);
    st.total_count += count;
}

// Queries x = a k_i + sigma z at v = sigma^2, a = 1 or 1 / sqrt(1 + sigma^2), for each sigma,
// plus two far-away points per sigma (at distance 30 from the origin).
void check_family(const Mixture& m, const KeyIndex& index, const std::vector<double>& sigmas, std::size_t per_sigma,
                  std::uint64_t seed, const char* name) {
    mdlab::Rng rng(seed);
    const std::size_t n = index.size(), d = index.dim();
    std::vector<double> x(d);
    for (double sigma : sigmas) {
        Stats st;
        const double v = sigma * sigma;
        for (std::size_t q = 0; q < per_sigma + 2; ++q) {
            const double a = q % 2 ? 1.0 : 1.0 / std::sqrt(1.0 + v);
            if (q < per_sigma) {
                const std::size_t i = rng.below(n);
                for (std::size_t j = 0; j < d; ++j) x[j] = a * (*m.keys)(i, j) + sigma * rng.normal();
            } else {
                double s = 0.0;
                for (std::size_t j = 0; j < d; ++j) s += (x[j] = rng.normal()) * x[j];
                for (auto& e : x) e *= 30.0 / std::sqrt(s);
            }
            check_query(m, index, x.data(), a, v, st);
        }
        WARN(name << ", sigma = " << sigma << ": candidates " << st.min_count << ".." << st.max_count << " (mean "
                  << double(st.total_count) / st.queries << ") of " << index.blocks() << " blocks; worst omitted fraction "
                  << static_cast<double>(st.worst_fraction) << " (bound " << st.worst_bound << "); score rel diff "
                  << st.worst_score << ", log_norm diff " << st.worst_log_norm);
    }
}

// Structural checks of the tree.
void check_structure(const Matrix& keys, const KeyIndex& index) {
    const std::size_t n = mdlab::rows(keys), d = mdlab::cols(keys), nb = index.blocks();
    REQUIRE(index.size() == n);
    REQUIRE(nb == (n + 63) / 64);
    // order is a permutation, keys() is keys[order].
    std::vector<std::uint32_t> sorted = index.order();
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
    for (std::size_t p = 0; p < n; ++p)
        for (std::size_t j = 0; j < d; ++j) REQUIRE(index.keys()(p, j) == keys(index.order()[p], j));
    // Pre-order tree over blocks: leaves are single blocks in ascending order, children split
    // their parent's range at floor(blocks / 2).
    REQUIRE(index.node_count() == 2 * nb - 1);
    REQUIRE(index.node_blocks(0) == std::make_pair(std::size_t(0), nb));
    std::size_t next_leaf = 0;
    for (std::size_t id = 0; id < index.node_count(); ++id) {
        const auto [b0, b1] = index.node_blocks(id);
        REQUIRE(b0 < b1);
        REQUIRE(index.first_key(id) == b0 * 64);
        REQUIRE(index.end_key(id) == std::min(b1 * 64, n));
        if (index.is_leaf(id)) {
            REQUIRE(b0 == next_leaf);
            ++next_leaf;
            REQUIRE(index.count(b0) == (b0 + 1 < nb ? 64 : n - 64 * (nb - 1)));
        } else {
            const auto [l, r] = index.children(id);
            const std::size_t mid = b0 + (b1 - b0) / 2;
            REQUIRE(index.node_blocks(l) == std::make_pair(b0, mid));
            REQUIRE(index.node_blocks(r) == std::make_pair(mid, b1));
            // k-d split: some coordinate separates the two children.
            bool separated = false;
            for (std::size_t j = 0; j < d && !separated; ++j) {
                double lmax = -inf_v, rmin = inf_v;
                for (std::size_t p = index.first_key(l); p < index.end_key(l); ++p) lmax = std::max(lmax, index.keys()(p, j));
                for (std::size_t p = index.first_key(r); p < index.end_key(r); ++p) rmin = std::min(rmin, index.keys()(p, j));
                separated = lmax <= rmin;
            }
            REQUIRE(separated);
        }
        // Every key of the node lies in its ball (long double distances).
        for (std::size_t p = index.first_key(id); p < index.end_key(id); ++p) {
            long double s = 0.0L;
            for (std::size_t j = 0; j < d; ++j) {
                const long double e = static_cast<long double>(index.keys()(p, j)) - index.centre(id)[j];
                s += e * e;
            }
            REQUIRE(std::sqrt(s) <= static_cast<long double>(index.radius(id)));
        }
    }
    REQUIRE(next_leaf == nb);
}

}  // namespace

TEST_CASE("key index: the k-d order, leaves of 64 keys and the balls", "[key_index]") {
    for (std::size_t d : {1, 3, 16, 64})
        for (std::size_t n : {1, 5, 63, 64, 65, 130, 1000, 4097}) {
            INFO("N = " << n << ", D = " << d);
            const Matrix keys = normal_matrix(n, d, 11 * n + d);
            check_structure(keys, KeyIndex(keys));
        }
    SECTION("circle and blobs with duplicates") {
        const Circle c = circle(20000, 16, 3);
        check_structure(c.points, KeyIndex(c.points));
        const Matrix b = blobs(5000, 4);
        check_structure(b, KeyIndex(b));
        Matrix same = Matrix::from_shape({1000, 5});
        same.fill(0.25);
        const KeyIndex idx(same);
        check_structure(same, idx);
        for (std::size_t id = 0; id < idx.node_count(); ++id) CHECK(idx.radius(id) == 0.0);
    }
    SECTION("spatial coherence: blocks of the circle are short arcs") {
        // 313 blocks over a circle of length 2 pi: a contiguous arc of 64 points has radius about
        // pi * 64 / 20000 = 0.01; a block of random points would have radius about 1.
        const Circle c = circle(20000, 16, 3);
        const KeyIndex idx(c.points);
        double worst = 0.0;
        for (std::size_t id = 0; id < idx.node_count(); ++id)
            if (idx.is_leaf(id)) worst = std::max(worst, idx.radius(id));
        WARN("circle N = 20000: largest block radius " << worst);
        CHECK(worst < 0.05);
    }
}

TEST_CASE("key index: deterministic for any thread count", "[key_index]") {
    // Large enough for the parallel passes and the parallel subtrees.
    const Matrix keys = normal_matrix(100000, 4, 21);
    auto build = [&](int threads) {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        return KeyIndex(keys);
    };
    const KeyIndex one = build(1), many = build(8);
    REQUIRE(one.order() == many.order());
    for (std::size_t id = 0; id < one.node_count(); ++id) {
        REQUIRE(one.radius(id) == many.radius(id));
        for (std::size_t j = 0; j < 4; ++j) REQUIRE(one.centre(id)[j] == many.centre(id)[j]);
    }
    KeyIndex::Scratch s1, s2;
    std::vector<std::uint32_t> l1, l2;
    mdlab::Rng rng(5);
    for (int q = 0; q < 20; ++q) {
        double x[4];
        for (double& e : x) e = rng.normal();
        one.candidates(x, 0.9, 1e-3, l1, s1);
        many.candidates(x, 0.9, 1e-3, l2, s2);
        REQUIRE(l1 == l2);
        REQUIRE(s1.bound == s2.bound);
    }
}

TEST_CASE("key index: omitted weight below the tolerance, restricted score equals the full one",
          "[key_index]") {
    const std::vector<double> sigmas{1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0};
    SECTION("circle in R^16, N = 20000") {
        const Circle c = circle(20000, 16, 1);
        const KeyIndex index(c.points);
        Mixture m;
        m.keys = &c.points;
        check_family(m, index, sigmas, 10, 101, "circle R^16");
    }
    SECTION("circle with a looser tolerance (1e-6): fewer blocks, still within it") {
        const Circle c = circle(20000, 16, 1);
        const KeyIndex index(c.points, 1e-6);
        Mixture m;
        m.keys = &c.points;
        check_family(m, index, {1e-3, 1e-2, 0.1}, 10, 108, "circle R^16, tolerance 1e-6");
    }
    SECTION("Gaussian blobs in R^2 with duplicates") {
        const Matrix b = blobs(8000, 2);
        const KeyIndex index(b);
        Mixture m;
        m.keys = &b;
        check_family(m, index, sigmas, 12, 102, "blobs R^2");
    }
    SECTION("D = 1") {
        const Matrix k = normal_matrix(3000, 1, 3);
        const KeyIndex index(k);
        Mixture m;
        m.keys = &k;
        check_family(m, index, sigmas, 12, 103, "D = 1");
    }
    SECTION("D = 64") {
        const Matrix k = normal_matrix(1500, 64, 4, 0.3);
        const KeyIndex index(k);
        Mixture m;
        m.keys = &k;
        check_family(m, index, {1e-3, 0.03, 1.0}, 8, 104, "D = 64");
    }
    SECTION("far from the origin (circle at offset 1000), sigma down to 1e-6") {
        const Circle c = circle(5000, 8, 5, 1000.0);
        const KeyIndex index(c.points);
        Mixture m;
        m.keys = &c.points;
        check_family(m, index, {1e-6, 1e-5, 1e-3}, 10, 105, "circle at 1000");
    }
    SECTION("log-weights, with a weightless arc") {
        const Circle c = circle(5000, 16, 6);
        mdlab::Rng rng(7);
        std::vector<double> lw(5000);
        mdlab::Vector lwv = mdlab::Vector::from_shape({5000});
        for (std::size_t i = 0; i < 5000; ++i) {
            // Weight 0 on the arc with first coordinate above 0.1 (whole blocks) and on 3% of
            // the keys elsewhere; otherwise log-weights in [-8, 0] plus an offset.
            lw[i] = c.points(i, 0) > 0.1 || rng.uniform() < 0.03 ? -inf_v : 3.0 - 8.0 * rng.uniform();
            lwv(i) = lw[i];
        }
        KeyIndex index(c.points);
        index.set_log_weights(lwv);
        REQUIRE(index.weighted());
        Mixture m;
        m.keys = &c.points;
        m.log_weights = &lw;
        check_family(m, index, sigmas, 10, 106, "weighted circle");
    }
    SECTION("tangent variance") {
        const Circle c = circle(5000, 16, 8);
        const KeyIndex index(c.points);
        for (double tau : {1e-4, 1e-2}) {
            Mixture m;
            m.keys = &c.points;
            m.tangents = &c.tangents;
            m.tau = tau;
            check_family(m, index, {1e-4, 1e-3, 1e-2, 0.3}, 8, 107, tau < 1e-3 ? "tangent tau = 1e-4" : "tangent tau = 1e-2");
        }
    }
}

TEST_CASE("key index: few candidates at small sigma, all at large sigma", "[key_index]") {
    const Circle c = circle(20000, 16, 9);
    const KeyIndex index(c.points);
    REQUIRE(index.blocks() == 313);
    mdlab::Rng rng(10);
    KeyIndex::Scratch scratch;
    std::vector<std::uint32_t> list;
    std::vector<double> x(16);
    auto counts = [&](double sigma) {
        std::size_t lo = ~std::size_t(0), hi = 0, total = 0;
        for (int q = 0; q < 50; ++q) {
            const std::size_t i = rng.below(20000);
            for (std::size_t j = 0; j < 16; ++j) x[j] = c.points(i, j) + sigma * rng.normal();
            const std::size_t k = index.candidates(x.data(), 1.0, sigma * sigma, list, scratch);
            lo = std::min(lo, k), hi = std::max(hi, k), total += k;
        }
        WARN("circle R^16, N = 20000, sigma = " << sigma << ": " << lo << ".." << hi << " candidate blocks (mean "
                                                << total / 50.0 << ") of 313");
        return std::make_pair(lo, hi);
    };
    // sigma = 1e-3: the weight is carried within about sigma sqrt(2 log(N / tol)) = 0.009 of the
    // query along the circle, shorter than one block (an arc of 0.02): a handful of blocks.
    CHECK(counts(1e-3).second <= 6);
    CHECK(counts(1e-2).second < 313 / 4);
    // sigma = 10: every weight is within a factor e^{-0.04} of the largest: nothing can go.
    CHECK(counts(10.0).first == 313);
}

TEST_CASE("key index: degenerate queries and key sets", "[key_index]") {
    const Circle c = circle(3000, 4, 12);
    const KeyIndex index(c.points);
    KeyIndex::Scratch s;
    std::vector<std::uint32_t> list;
    const std::size_t nb = index.blocks();
    double x[4] = {0.3, -0.2, 0.1, 0.5};
    CHECK(index.candidates(x, 0.0, 1e-6, list, s) == nb);  // a = 0: every key at the same place
    CHECK(index.candidates(x, 1.0, 1e300, list, s) == nb);
    CHECK(index.candidates(x, 1.0, inf_v, list, s) == nb);
    CHECK(index.candidates(x, 1.0, 0.0, list, s) == nb);
    CHECK(index.candidates(x, 1.0, nan_v, list, s) == nb);
    CHECK(index.candidates(x, nan_v, 1e-6, list, s) == nb);
    CHECK(index.candidates(x, 1.0, 1e-6, list, s, nan_v) == nb);
    x[2] = nan_v;
    CHECK(index.candidates(x, 1.0, 1e-6, list, s) == nb);
    x[2] = inf_v;
    CHECK(index.candidates(x, 1.0, 1e-6, list, s) == nb);
    for (std::uint32_t b = 0; b < nb; ++b) CHECK(list[b] == b);
    CHECK(s.bound == 0.0);

    // A negative scale: the mirrored keys; the bound still holds.
    Mixture m;
    m.keys = &c.points;
    Stats st;
    for (std::size_t i : {0, 17, 2999}) {
        double y[4];
        for (std::size_t j = 0; j < 4; ++j) y[j] = -0.7 * c.points(i, j) + 1e-3 * (j + 1);
        check_query(m, index, y, -0.7, 1e-6, st);
    }
    CHECK(st.max_count < nb);

    // N < 64 (one block), and every key identical (no key can be dropped).
    const Matrix few = normal_matrix(40, 3, 13);
    const KeyIndex small(few);
    CHECK(small.blocks() == 1);
    double z[3] = {0.1, 0.2, 0.3};
    CHECK(small.candidates(z, 1.0, 1e-8, list, s) == 1);
    CHECK(list == std::vector<std::uint32_t>{0});
    Matrix same = Matrix::from_shape({1000, 3});
    same.fill(-2.0);
    const KeyIndex dup(same);
    CHECK(dup.candidates(z, 1.0, 1e-8, list, s) == dup.blocks());
    Mixture md;
    md.keys = &same;
    check_query(md, dup, z, 0.5, 1e-6, st);

    // Input errors.
    CHECK_THROWS_AS(KeyIndex(Matrix::from_shape({0, 3})), mdlab::Error);
    Matrix bad = normal_matrix(100, 2, 14);
    bad(7, 1) = nan_v;
    CHECK_THROWS_AS(KeyIndex(bad), mdlab::Error);
    CHECK_THROWS_AS(KeyIndex(few, 0.0), mdlab::Error);
    KeyIndex w(few);
    mdlab::Vector lw = mdlab::Vector::from_shape({40});
    lw.fill(-inf_v);
    CHECK_THROWS_AS(w.set_log_weights(lw), mdlab::Error);
    lw.fill(2.0);
    w.set_log_weights(lw);
    CHECK(!w.weighted());  // uniform: nothing stored
    CHECK(w.reorder(lw).size() == 40);
    CHECK_THROWS_AS(w.reorder(mdlab::Vector::from_shape({39})), mdlab::Error);
    CHECK(w.worth_it(0));
    CHECK(!w.worth_it(w.blocks()));
}

TEST_CASE("key index: reorder helpers and the query order", "[key_index]") {
    const Circle c = circle(1000, 3, 17);
    const KeyIndex index(c.points);
    const Matrix r = index.reorder(c.tangents);
    xt::xtensor<double, 3> t = xt::xtensor<double, 3>::from_shape({1000, 3, 2});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = static_cast<double>(i);
    const auto rt = index.reorder(t);
    for (std::size_t p = 0; p < 1000; ++p) {
        const std::size_t i = index.order()[p];
        for (std::size_t j = 0; j < 3; ++j) {
            REQUIRE(r(p, j) == c.tangents(i, j));
            for (std::size_t k = 0; k < 2; ++k) REQUIRE(rt(p, j, k) == t(i, j, k));
        }
    }
    // Queries sorted by home block: a permutation, home blocks ascending, ties by row.
    const Matrix x = normal_matrix(300, 3, 18, 0.7);
    const auto qo = index.query_order(x, 0.9);
    std::vector<std::uint32_t> sorted = qo;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < 300; ++i) REQUIRE(sorted[i] == i);
    for (std::size_t k = 1; k < 300; ++k) {
        const auto h0 = index.home_block(mdlab::row(x, qo[k - 1]), 0.9), h1 = index.home_block(mdlab::row(x, qo[k]), 0.9);
        REQUIRE((h0 < h1 || (h0 == h1 && qo[k - 1] < qo[k])));
    }
    // The home block of a key itself (a = 1) holds that key, when no other key is as close.
    for (std::size_t p : {0, 333, 999}) CHECK(index.home_block(mdlab::row(index.keys(), p), 1.0) == p / 64);
}

// Figures for the report (not run by default: `tests/unit_test_key_index "[.bench]"`).
TEST_CASE("key index: build and query cost at N = 10^6", "[.bench]") {
    using clock = std::chrono::steady_clock;
    const std::size_t n = 1000000, d = 16;
    const Circle c = circle(n, d, 15);
    auto t0 = clock::now();
    const KeyIndex index(c.points);
    const double build_s = std::chrono::duration<double>(clock::now() - t0).count();
    const std::size_t nb = index.blocks();

    // Keys packed as the kernel does (block-major, coordinate rows of 64), for a plain streaming
    // softmax over a list of blocks: the same loop for the dense and the restricted sums.
    std::vector<double> packed(nb * d * 64, 0.0);
    for (std::size_t p = 0; p < n; ++p)
        for (std::size_t j = 0; j < d; ++j) packed[(p / 64) * d * 64 + j * 64 + p % 64] = index.keys()(p, j);
    auto stream = [&](const double* x, double a, double v, const std::uint32_t* list, std::size_t count, double* out) {
        double dmin = inf_v, sum = 0.0, acc[16] = {};
        alignas(64) double dist[64], e[64];
        for (std::size_t q = 0; q < count; ++q) {
            const std::size_t b = list[q];
            const double* kb = packed.data() + b * d * 64;
            for (std::size_t k = 0; k < 64; ++k) dist[k] = 0.0;
            for (std::size_t j = 0; j < d; ++j)
                for (std::size_t k = 0; k < 64; ++k) {
                    const double r = a * kb[j * 64 + k] - x[j];
                    dist[k] += r * r;
                }
            for (std::size_t k = index.count(b); k < 64; ++k) dist[k] = inf_v;
            double bmin = *std::min_element(dist, dist + 64);
            if (bmin < dmin) {
                const double s = std::exp((bmin - dmin) / (2 * v));
                sum *= s;
                for (auto& z : acc) z *= s;
                dmin = bmin;
            }
            for (std::size_t k = 0; k < 64; ++k) e[k] = std::exp((dmin - dist[k]) / (2 * v));
            for (std::size_t k = 0; k < 64; ++k) sum += e[k];
            for (std::size_t j = 0; j < d; ++j)
                for (std::size_t k = 0; k < 64; ++k) acc[j] += e[k] * (a * kb[j * 64 + k] - x[j]);
        }
        for (std::size_t j = 0; j < d; ++j) out[j] = acc[j] / (sum * v);
    };
    std::vector<std::uint32_t> all(nb);
    std::iota(all.begin(), all.end(), 0u);
    mdlab::Rng rng(16);
    KeyIndex::Scratch scratch;
    std::vector<std::uint32_t> list;
    std::vector<double> x(d), o1(d), o2(d);
    for (double sigma : {1e-3, 1e-2, 0.1, 1.0}) {
        const double v = sigma * sigma, a = 1.0;
        const int nq = 2000, nd = 10;
        std::vector<double> xs(nq * d);
        for (int q = 0; q < nq; ++q) {
            const std::size_t i = rng.below(n);
            for (std::size_t j = 0; j < d; ++j) xs[q * d + j] = c.points(i, j) + sigma * rng.normal();
        }
        std::size_t total = 0, visited = 0;
        t0 = clock::now();
        for (int q = 0; q < nq; ++q) {
            total += index.candidates(xs.data() + q * d, a, v, list, scratch);
            visited += scratch.visited;
        }
        const double query_s = std::chrono::duration<double>(clock::now() - t0).count() / nq;
        const int nr = total / nq > 1000 ? 100 : nq;  // keep the run short when little is pruned
        t0 = clock::now();
        for (int q = 0; q < nr; ++q) {
            index.candidates(xs.data() + q * d, a, v, list, scratch);
            stream(xs.data() + q * d, a, v, list.data(), list.size(), o1.data());
        }
        const double restricted_s = std::chrono::duration<double>(clock::now() - t0).count() / nr;
        t0 = clock::now();
        for (int q = 0; q < nd; ++q) stream(xs.data() + q * d, a, v, all.data(), nb, o2.data());
        const double dense_s = std::chrono::duration<double>(clock::now() - t0).count() / nd;
        double worst = 0.0;
        for (int q = 0; q < nd; ++q) {
            stream(xs.data() + q * d, a, v, all.data(), nb, o2.data());
            index.candidates(xs.data() + q * d, a, v, list, scratch);
            stream(xs.data() + q * d, a, v, list.data(), list.size(), o1.data());
            double df = 0.0, nm = 0.0;
            for (std::size_t j = 0; j < d; ++j) df += (o1[j] - o2[j]) * (o1[j] - o2[j]), nm += o2[j] * o2[j];
            worst = std::max(worst, std::sqrt(df / nm));
        }
        WARN("N = 10^6, D = 16, sigma = " << sigma << ": build " << build_s << " s; candidates " << double(total) / nq
                                          << " of " << nb << " blocks, nodes visited " << double(visited) / nq
                                          << "; candidates() " << query_s * 1e6 << " us/query, restricted sum "
                                          << restricted_s * 1e6 << " us/query, dense sum (same loop) ~"
                                          << dense_s * 1e6 << " us/query (speed-up " << dense_s / restricted_s
                                          << "x, index overhead " << 100 * query_s / dense_s
                                          << "% of dense); worst score rel diff " << worst);
    }
}
