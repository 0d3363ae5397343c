// The drift field V that trains the `drifting_generator` (Deng et al. 2026, "Generative Modeling
// via Drifting", arXiv 2602.04770; SCIENCE.md section 6), as the drifting reference code computes
// it (lambertae/drifting, drift_loss). Plain C++ in double, no libtorch: the backend calls it on
// each training batch and the tests compare it with their own transcription.
//
// Generated points x_1..x_N (the network's outputs, "negatives"), data points y_1..y_M
// ("positives"), targets t = [x_1..x_N, y_1..y_M], d_ij = |x_i - t_j|:
//   scale   = mean_ij d_ij;  s = max(scale / sqrt(D), 1e-3), coordinates divided by s (so the
//             mean distance becomes sqrt(D)); distances divided by max(scale, 1e-3) (mean 1);
//   mask    : the pair (x_i, x_i), a generated point with itself, is left out (logit -inf);
//   for each radius R: logits l_ij = -d_ij / (R max(scale, 1e-3)),
//     A_ij  = sqrt(softmax_j(l)_ij * softmax_i(l)_ij): normalised over the targets (rows) and
//             over the generated points (columns) at once (= k_ij / sqrt(row sum * column sum));
//     S+_i  = sum_{j data} A_ij,  S-_i = sum_{j generated} A_ij;
//     F_i   = S-_i sum_{j data} A_ij (t_j - x_i) / s  -  S+_i sum_{j generated} A_ij (t_j - x_i) / s
//             (attraction to the data weighted by the repulsion's mass and vice versa);
//     F    /= sqrt(max(mean_{i,k} F_ik^2, 1e-8))   (each radius brings a field of RMS 1);
//   V = s sum_R F, in data units. Training regresses G(z) onto stopgrad(G(z) + V) with the loss
//   mean |G(z) - stopgrad(G(z) + V)|^2 / s^2 (the reference's loss in scaled coordinates).
// Not taken from the reference release: its floor of 1e-6 on the product of the two softmaxes
// (affinity >= 1e-3). With a collapsed start in low dimension (an untrained MLP's outputs spread
// 0.01 against a data spread of 1) every data pair sits on the floor, the floored affinities act
// as a uniform kernel whose field is pure mean matching (the x_i terms cancel), and the generator
// stays collapsed: measured W2 1.35 against a baseline of 0.10 after 3000 steps on a 2-D mixture,
// 0.14 after 1000 steps without the floor. The paper's toy demo has no floor either.
// Rows are computed in parallel over fixed chunks and every sum runs in a fixed order:
// bit-identical for any thread count.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/parallel.hpp>

namespace drifting_generator {

// Floors of the reference: on the scale (both uses) and on a radius' mean square field.
inline constexpr double scale_floor = 1e-3;
inline constexpr double field_floor = 1e-8;
// Rows per parallel chunk: fixed, so sums never depend on the thread count.
inline constexpr std::size_t field_chunk_rows = 16;

// Normalised distances between the generated points (rows of the field) and the targets.
struct Distances {
    std::size_t n = 0, m = 0;   // generated points, data points; targets = n + m
    std::vector<double> d;      // n x (n + m): d_ij / max(scale, 1e-3)
    double scale = 0.0;         // mean d_ij (self pairs included, as in the reference)
    double coordinate_scale = 1.0;  // s = max(scale / sqrt(D), 1e-3)
    std::size_t targets() const { return n + m; }
};

// The target j of a batch: generated point j for j < n, else data point j - n.
inline const double* target(const mdlab::Matrix& gen, const mdlab::Matrix& data, std::size_t j) {
    return j < mdlab::rows(gen) ? mdlab::row(gen, j) : mdlab::row(data, j - mdlab::rows(gen));
}

inline Distances normalised_distances(const mdlab::Matrix& gen, const mdlab::Matrix& data) {
    Distances out;
    out.n = mdlab::rows(gen);
    out.m = mdlab::rows(data);
    const std::size_t dim = mdlab::cols(gen), t = out.targets();
    out.d.resize(out.n * t);
    mdlab::for_chunks(out.n, field_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            const double* x = mdlab::row(gen, i);
            for (std::size_t j = 0; j < t; ++j) {
                const double* y = target(gen, data, j);
                double s = 0.0;
                for (std::size_t k = 0; k < dim; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
                out.d[i * t + j] = std::sqrt(s);
            }
        }
    });
    out.scale = mdlab::ordered_sum(out.d.size(), [&](std::size_t k) { return out.d[k]; }) / double(out.d.size());
    out.coordinate_scale = std::max(out.scale / std::sqrt(double(dim)), scale_floor);
    const double unit = std::max(out.scale, scale_floor);
    for (double& v : out.d) v /= unit;
    return out;
}

// A_ij of one radius (n x (n + m), row-major), the self pairs (i, i) masked.
inline std::vector<double> affinities(const Distances& dist, double radius) {
    const std::size_t n = dist.n, t = dist.targets();
    const double minus_inf = -std::numeric_limits<double>::infinity();
    auto logit = [&](std::size_t i, std::size_t j) { return i == j ? minus_inf : -dist.d[i * t + j] / radius; };
    // log-sum-exp of a row (over targets j) and of a column (over generated points i).
    std::vector<double> row_lse(n), col_lse(t);
    auto lse = [&](std::size_t count, auto&& at) {
        double top = minus_inf;
        for (std::size_t k = 0; k < count; ++k) top = std::max(top, at(k));
        if (top == minus_inf) return minus_inf;  // a column of only the masked pair (n = 1)
        double s = 0.0;
        for (std::size_t k = 0; k < count; ++k) s += std::exp(at(k) - top);
        return top + std::log(s);
    };
    mdlab::for_chunks(n, field_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) row_lse[i] = lse(t, [&](std::size_t j) { return logit(i, j); });
    });
    mdlab::for_chunks(t, field_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t j = b; j < e; ++j) col_lse[j] = lse(n, [&](std::size_t i) { return logit(i, j); });
    });
    std::vector<double> a(n * t);
    mdlab::for_chunks(n, field_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i)
            for (std::size_t j = 0; j < t; ++j) {
                const double l = logit(i, j);
                // sqrt(exp(l - row) exp(l - col)); a masked pair (l = -inf) gives 0.
                a[i * t + j] = l == minus_inf ? 0.0 : std::exp(l - 0.5 * (row_lse[i] + col_lse[j]));
            }
    });
    return a;
}

// F of one radius in scaled coordinates (n x D), before its normalisation.
inline mdlab::Matrix radius_field(const mdlab::Matrix& gen, const mdlab::Matrix& data, const Distances& dist,
                                  const std::vector<double>& a) {
    const std::size_t n = dist.n, t = dist.targets(), dim = mdlab::cols(gen);
    const double s = dist.coordinate_scale;
    mdlab::Matrix f = mdlab::Matrix::from_shape({n, dim});
    mdlab::for_chunks(n, field_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
        std::vector<double> pull(dim), push(dim);
        for (std::size_t i = b; i < e; ++i) {
            const double* x = mdlab::row(gen, i);
            const double* ai = a.data() + i * t;
            double mass_neg = 0.0, mass_pos = 0.0;
            std::fill(pull.begin(), pull.end(), 0.0);
            std::fill(push.begin(), push.end(), 0.0);
            for (std::size_t j = 0; j < t; ++j) {
                const double* y = target(gen, data, j);
                std::vector<double>& acc = j < n ? push : pull;
                (j < n ? mass_neg : mass_pos) += ai[j];
                for (std::size_t k = 0; k < dim; ++k) acc[k] += ai[j] * (y[k] - x[k]);
            }
            for (std::size_t k = 0; k < dim; ++k) f(i, k) = (mass_neg * pull[k] - mass_pos * push[k]) / s;
        }
    });
    return f;
}

// The field of a batch and the reference's diagnostics.
struct Field {
    mdlab::Matrix v;             // V (n x D), data units
    double coordinate_scale = 1.0;  // s: the loss is mean |G - stopgrad(G + V)|^2 / s^2
    std::vector<double> mean_square;  // per radius, mean_{i,k} F_ik^2 before normalisation
    // sum over the radii of mean_square: the reference's per-radius "loss_R" added up. It falls
    // as the generated law approaches the data's (the normalised loss itself stays of order 1).
    double drift() const {
        double s = 0.0;
        for (double v : mean_square) s += v;
        return s;
    }
};

inline Field drift_field(const mdlab::Matrix& gen, const mdlab::Matrix& data, const std::vector<double>& radii) {
    const Distances dist = normalised_distances(gen, data);
    const std::size_t size = gen.size();
    Field out;
    out.v = mdlab::Matrix::from_shape({mdlab::rows(gen), mdlab::cols(gen)});
    std::fill(out.v.begin(), out.v.end(), 0.0);
    out.coordinate_scale = dist.coordinate_scale;
    for (double radius : radii) {
        const mdlab::Matrix f = radius_field(gen, data, dist, affinities(dist, radius));
        const double ms = mdlab::ordered_sum(size, [&](std::size_t k) { return f.data()[k] * f.data()[k]; }) / double(size);
        out.mean_square.push_back(ms);
        const double norm = std::sqrt(std::max(ms, field_floor));
        for (std::size_t k = 0; k < size; ++k) out.v.data()[k] += f.data()[k] / norm;
    }
    for (std::size_t k = 0; k < size; ++k) out.v.data()[k] *= dist.coordinate_scale;
    return out;
}

}  // namespace drifting_generator
