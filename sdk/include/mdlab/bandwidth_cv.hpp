// The bandwidth of a smoothed training-set score chosen from the data (`bandwidth: "cv"` of
// kernel_smoothed and tangent_smoothed): K-fold held-out denoising score matching.
//
//   1. folds: the training points are shuffled (the node's stream "cv_split") and cut into
//      K = 5 folds; each fold is held out once while the smoother is built on the other four
//      (the fit set; tangent_smoothed also estimates its tangent bases from the fit set alone);
//   2. grid: 20 bandwidths h, geometric from half the median nearest-neighbour distance of the
//      training set to half its RMS radius (RMS distance to its mean); 8 noise levels sigma,
//      geometric from the median nearest-neighbour distance to the RMS radius;
//   3. loss: L(h) = sum over sigma of the mean over held-out x0 and noise draws eps of
//      |sigma s_h(x0 + sigma eps; sigma) + eps|^2, s_h(.; sigma) the score of the fit set smoothed
//      by h and noised by sigma (alpha = 1: the noised law at (alpha, sigma) is the one at
//      (1, sigma / alpha) rescaled, so alpha = 1 loses nothing), eps ~ N(0, I) from the node's
//      stream "cv_noise", ceil(4000 / N) draws per held-out point (at most 20), the same eps for
//      every h (common random numbers). Its expectation is sum_sigma sigma^2 E|s_h - grad log p_sigma|^2
//      plus a constant free of h, so its minimiser is the bandwidth whose noised score is closest
//      to the true one, averaged over the noise levels;
//   4. choose the h of smallest L, then build the smoother on the whole training set with it.
// The run records the grid and the losses in <cell folder>/<node>.bandwidth_cv.csv and logs h.
// Header-only: each plugin library that includes it gets its own copy.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include <mdlab/kernels/nearest.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>
#include <mdlab/stats.hpp>

namespace mdlab::bandwidth_cv {

inline constexpr std::size_t folds = 5, bandwidths = 20, noise_levels = 8;
inline constexpr std::size_t draws_total = 4000, max_draws = 20;

inline std::string short_number(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return buf;
}

// The `bandwidth` parameter: a number h >= 0, or "cv".
inline ParamSpec bandwidth_param(double def, const std::string& doc) {
    return real_or_choice("bandwidth", def, {"cv"},
                          doc + "; \"cv\": chosen by 5-fold held-out denoising score matching (docs/plugins.md)")
        .at_least(0.0);
}

// The smallest fit set of the K folds of n points (the largest fold held out).
inline std::size_t fit_size(std::size_t n) { return n - (n + folds - 1) / folds; }

// The fit set and the held-out set of one fold.
struct Split {
    Matrix fit, held_out;
};

// The K folds of a random permutation of the rows of x (fold f: rows f, f + K, ... of the permutation).
inline std::vector<Split> split(const Matrix& x, const RandomStream& stream) {
    const std::size_t n = rows(x), d = cols(x);
    if (n < folds) throw Error("bandwidth cv: needs at least " + std::to_string(folds) + " training points, got " + std::to_string(n));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng = stream.chunk(0);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);  // Fisher-Yates
    std::vector<Split> out;
    for (std::size_t f = 0; f < folds; ++f) {
        const std::size_t m = (n - f + folds - 1) / folds;
        Split s{Matrix::from_shape({n - m, d}), Matrix::from_shape({m, d})};
        std::size_t h = 0, t = 0;
        for (std::size_t i = 0; i < n; ++i) {
            Matrix& to = i % folds == f ? s.held_out : s.fit;
            const std::size_t r = i % folds == f ? h++ : t++;
            for (std::size_t a = 0; a < d; ++a) to(r, a) = x(order[i], a);
        }
        out.push_back(std::move(s));
    }
    return out;
}

// count values geometric from lo to hi (both included).
inline std::vector<double> geometric(double lo, double hi, std::size_t count) {
    std::vector<double> v(count);
    for (std::size_t j = 0; j < count; ++j)
        v[j] = count == 1 ? lo : lo * std::pow(hi / lo, static_cast<double>(j) / static_cast<double>(count - 1));
    return v;
}

struct Grid {
    std::vector<double> h, sigma;
};

// The grids of step 2, from the training set's scales.
inline Grid grid(const Matrix& fit) {
    const std::size_t n = rows(fit), d = cols(fit);
    const Vector nn = kernels::neighbour_distance(kernels::nearest_within(fit, 1), 0);
    const double spacing = stats::median(nn);
    std::vector<double> mean(d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a) mean[a] += fit(i, a) / static_cast<double>(n);
    double ss = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a) ss += (fit(i, a) - mean[a]) * (fit(i, a) - mean[a]);
    const double radius = std::sqrt(ss / static_cast<double>(n));
    if (!(spacing > 0.0) || !(radius > spacing))
        throw Error("bandwidth cv: the training set has no scale to search (median nearest-neighbour distance " +
                    short_number(spacing) + ", RMS radius " + short_number(radius) + "): coincident training points?");
    return Grid{geometric(0.5 * spacing, 0.5 * radius, bandwidths), geometric(spacing, radius, noise_levels)};
}

// The score at the rows of x of the fit set smoothed by h and noised by sigma (alpha = 1).
using SmoothedScore = std::function<void(const Matrix& x, double h, double sigma, Matrix& out)>;

struct Result {
    Grid grid;
    std::vector<double> loss;  // L(h) per bandwidth of the grid
    std::size_t best = 0, held_out = 0;  // held_out: points held out, over all folds
    double h() const { return grid.h[best]; }
};

// Step 3 on one held-out set: adds sum_sigma sum_{x0, eps} |sigma s_h + eps|^2 to sums[j] and the
// number of terms per noise level to count; `score` evaluates the smoother built on the fit set.
inline void add_losses(const Matrix& held_out, std::size_t draws, const Grid& g, const SmoothedScore& score,
                       const RandomStream& noise, std::vector<double>& sums, std::size_t& count) {
    const std::size_t m = rows(held_out) * draws, d = cols(held_out);
    for (std::size_t l = 0; l < g.sigma.size(); ++l) {
        const double s = g.sigma[l];
        Matrix eps = Matrix::from_shape({m, d}), x = Matrix::from_shape({m, d}), out;
        const RandomStream level = noise.child(std::to_string(l));
        for_chunks(m, random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = level.chunk(c);
            for (std::size_t k = b * d; k < e * d; ++k) eps.data()[k] = rng.normal();
        });
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t a = 0; a < d; ++a) x(i, a) = held_out(i % rows(held_out), a) + s * eps(i, a);
        for (std::size_t j = 0; j < g.h.size(); ++j) {
            score(x, g.h[j], s, out);
            double sum = 0.0;  // sequential: bit-identical whatever the thread count
            for (std::size_t k = 0; k < m * d; ++k) {
                const double e = s * out.data()[k] + eps.data()[k];
                sum += e * e;
            }
            sums[j] += sum;
        }
    }
    count += m;
}

// Step 4: the sums of step 3 become means over the count terms; best = their minimiser.
inline void finish(Result& r, std::size_t count) {
    for (double& v : r.loss) v /= static_cast<double>(count);
    for (std::size_t j = 1; j < r.loss.size(); ++j)
        if (r.loss[j] < r.loss[r.best]) r.best = j;
}

// Step 3 on one held-out set and step 4: L(h) and its minimiser.
inline Result choose(const Matrix& held_out, const Grid& g, const SmoothedScore& score, const RandomStream& noise,
                     std::size_t draws = 1) {
    Result r{g, std::vector<double>(g.h.size(), 0.0), 0, rows(held_out)};
    std::size_t count = 0;
    add_losses(held_out, draws, g, score, noise, r.loss, count);
    finish(r, count);
    return r;
}

// Writes the grid and losses (columns h, loss, chosen) and logs the choice.
inline void record(const Result& r, Context& ctx, const std::string& plugin) {
    std::vector<std::vector<double>> table;
    for (std::size_t j = 0; j < r.loss.size(); ++j) table.push_back({r.grid.h[j], r.loss[j], j == r.best ? 1.0 : 0.0});
    noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".bandwidth_cv.csv"), {"h", "loss", "chosen"}, table);
    const bool edge = r.best == 0 || r.best + 1 == r.loss.size();
    ctx.log(plugin + ": bandwidth cv chose h = " + short_number(r.h()) + " (grid " + short_number(r.grid.h.front()) +
            ".." + short_number(r.grid.h.back()) + ", " + std::to_string(r.held_out) + " points held out once each, " + std::to_string(folds) + " folds)" +
            (edge ? "; the minimum is at the edge of the grid" : ""));
}

// A smoother's score on a fit set: called once per fold, with the fold's fit set.
using Builder = std::function<SmoothedScore(const Matrix& fit)>;

// Steps 1 to 4 on the training set `data`, randomness from the node's streams; records the
// choice (see record) and returns h.
inline double select(const Matrix& data, Context& ctx, const std::string& plugin, const Builder& build) {
    const std::size_t n = rows(data);
    const std::size_t draws = std::min(max_draws, std::max<std::size_t>(1, (draws_total + n - 1) / n));
    Result r{grid(data), std::vector<double>(bandwidths, 0.0), 0, n};
    const std::vector<Split> parts = split(data, ctx.stream("cv_split"));
    const RandomStream noise = ctx.stream("cv_noise");
    std::size_t count = 0;
    for (std::size_t f = 0; f < parts.size(); ++f) {
        add_losses(parts[f].held_out, draws, r.grid, build(parts[f].fit), noise.child("fold" + std::to_string(f)), r.loss,
                   count);
        if (ctx.cancelled()) throw Error(plugin + ": cancelled");
    }
    finish(r, count);
    record(r, ctx, plugin);
    return r.h();
}

}  // namespace mdlab::bandwidth_cv
