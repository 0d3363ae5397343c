// The drift field that trains the `drifting_generator` (plugins/sampler/drifting_generator/
// drift_field.hpp, plain C++: these tests need no libtorch and always run) against an
// independent transcription of the drifting reference code's drift_loss (lambertae/drifting,
// torch/drift_loss.py: targets = [generated, data], row and column softmaxes, coefficient
// matrix, per-radius RMS normalisation), written here with dense matrices, the self pairs masked
// by a huge added distance as the reference does; and its properties: the mask, the sum over
// radii, equivariance under scaling and translation, independence of the thread count.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <tbb/task_arena.h>

#include "../../../plugins/sampler/drifting_generator/drift_field.hpp"

namespace {

using mdlab::Matrix;
using Dense = std::vector<std::vector<double>>;

Matrix random_points(std::size_t n, std::size_t d, double shift, double spread, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    Matrix m = Matrix::from_shape({n, d});
    for (std::size_t k = 0; k < n * d; ++k) m.data()[k] = shift + spread * normal(gen);
    return m;
}

struct Transcribed {
    Matrix v;
    std::vector<double> mean_square;
};

// The reference's computation, step by step, for one batch (no batch axis, unit weights, no
// fixed negatives; without its 1e-6 floor on the affinity product, see drift_field.hpp).
Transcribed transcription(const Matrix& gen, const Matrix& pos, const std::vector<double>& radii, bool mask = true) {
    const std::size_t cg = mdlab::rows(gen), cp = mdlab::rows(pos), s_dim = mdlab::cols(gen), t = cg + cp;
    Dense targets;
    for (std::size_t i = 0; i < cg; ++i) targets.emplace_back(mdlab::row(gen, i), mdlab::row(gen, i) + s_dim);
    for (std::size_t j = 0; j < cp; ++j) targets.emplace_back(mdlab::row(pos, j), mdlab::row(pos, j) + s_dim);
    Dense dist(cg, std::vector<double>(t));
    double total = 0.0;
    for (std::size_t i = 0; i < cg; ++i)
        for (std::size_t j = 0; j < t; ++j) {
            double q = 0.0;
            for (std::size_t k = 0; k < s_dim; ++k) q += std::pow(targets[i][k] - targets[j][k], 2);
            dist[i][j] = std::sqrt(q);
            total += dist[i][j];
        }
    const double scale = total / double(cg * t);
    const double scale_inputs = std::max(scale / std::sqrt(double(s_dim)), 1e-3);
    Dense dist_normed = dist;
    for (std::size_t i = 0; i < cg; ++i) {
        for (double& v : dist_normed[i]) v /= std::max(scale, 1e-3);
        if (mask) dist_normed[i][i] += 1e6;  // exp(-1e6 / R) is exactly 0
    }
    Transcribed out;
    out.v = Matrix::from_shape({cg, s_dim});
    std::fill(out.v.begin(), out.v.end(), 0.0);
    for (double r : radii) {
        Dense logits(cg, std::vector<double>(t)), row(cg, std::vector<double>(t)), col = row, aff = row, coeff = row;
        for (std::size_t i = 0; i < cg; ++i)
            for (std::size_t j = 0; j < t; ++j) logits[i][j] = -dist_normed[i][j] / r;
        for (std::size_t i = 0; i < cg; ++i) {  // softmax over the last axis (targets)
            double z = 0.0;
            for (std::size_t j = 0; j < t; ++j) z += std::exp(logits[i][j]);
            for (std::size_t j = 0; j < t; ++j) row[i][j] = std::exp(logits[i][j]) / z;
        }
        for (std::size_t j = 0; j < t; ++j) {  // softmax over the generated axis
            double z = 0.0;
            for (std::size_t i = 0; i < cg; ++i) z += std::exp(logits[i][j]);
            for (std::size_t i = 0; i < cg; ++i) col[i][j] = std::exp(logits[i][j]) / z;
        }
        std::vector<double> force(cg * s_dim, 0.0);
        for (std::size_t i = 0; i < cg; ++i) {
            double sum_pos = 0.0, sum_neg = 0.0;
            for (std::size_t j = 0; j < t; ++j) {
                aff[i][j] = std::sqrt(row[i][j] * col[i][j]);
                (j < cg ? sum_neg : sum_pos) += aff[i][j];
            }
            double coeff_total = 0.0;
            for (std::size_t j = 0; j < t; ++j) {
                coeff[i][j] = j < cg ? -aff[i][j] * sum_pos : aff[i][j] * sum_neg;
                coeff_total += coeff[i][j];
            }
            for (std::size_t k = 0; k < s_dim; ++k) {
                double f = 0.0;
                for (std::size_t j = 0; j < t; ++j) f += coeff[i][j] * targets[j][k] / scale_inputs;
                force[i * s_dim + k] = f - coeff_total * targets[i][k] / scale_inputs;
            }
        }
        double f_norm = 0.0;
        for (double f : force) f_norm += f * f;
        f_norm /= double(force.size());
        out.mean_square.push_back(f_norm);
        for (std::size_t k = 0; k < force.size(); ++k) out.v.data()[k] += force[k] / std::sqrt(std::max(f_norm, 1e-8));
    }
    for (double& v : out.v) v *= scale_inputs;  // goal - gen, back in data units
    return out;
}

double max_abs(const Matrix& m) {
    double a = 0.0;
    for (double v : m) a = std::max(a, std::abs(v));
    return a;
}

double max_diff(const Matrix& a, const Matrix& b) {
    double e = 0.0;
    for (std::size_t k = 0; k < a.size(); ++k) e = std::max(e, std::abs(a.data()[k] - b.data()[k]));
    return e;
}

const std::vector<double> radii = {0.05, 0.2, 1.0};

}  // namespace

TEST_CASE("drifting_generator: the drift field equals a transcription of the reference on a tiny batch") {
    const Matrix gen = random_points(5, 3, 0.0, 0.3, 1), data = random_points(7, 3, 0.8, 1.0, 2);
    const auto field = drifting_generator::drift_field(gen, data, radii);
    const Transcribed ref = transcription(gen, data, radii);
    REQUIRE(field.v.shape() == ref.v.shape());
    INFO("max |V| " << max_abs(ref.v) << ", max difference " << max_diff(field.v, ref.v));
    CHECK(max_diff(field.v, ref.v) <= 1e-12 * max_abs(ref.v));
    REQUIRE(field.mean_square.size() == radii.size());
    for (std::size_t r = 0; r < radii.size(); ++r) CHECK(field.mean_square[r] == Approx(ref.mean_square[r]).epsilon(1e-12));
    CHECK(field.drift() == Approx(ref.mean_square[0] + ref.mean_square[1] + ref.mean_square[2]).epsilon(1e-12));
    // More data than generated points, and the other way round, in one dimension.
    for (auto [n, m] : {std::pair<std::size_t, std::size_t>{3, 9}, {9, 3}}) {
        const Matrix g = random_points(n, 1, -0.5, 0.5, 3), x = random_points(m, 1, 0.5, 0.5, 4);
        CHECK(max_diff(drifting_generator::drift_field(g, x, radii).v, transcription(g, x, radii).v) <=
              1e-12 * max_abs(transcription(g, x, radii).v));
    }
}

TEST_CASE("drifting_generator: a generated point's interaction with itself is masked") {
    const Matrix gen = random_points(6, 2, 0.0, 0.5, 5), data = random_points(6, 2, 0.3, 1.0, 6);
    const auto dist = drifting_generator::normalised_distances(gen, data);
    for (double r : radii) {
        const std::vector<double> a = drifting_generator::affinities(dist, r);
        for (std::size_t i = 0; i < 6; ++i) {
            INFO("radius " << r << ", point " << i);
            CHECK(a[i * dist.targets() + i] == 0.0);  // exactly left out
            for (std::size_t j = 0; j < dist.targets(); ++j)
                if (j != i) CHECK(a[i * dist.targets() + j] > 0.0);
        }
    }
    // Unmasked, the self pair (distance 0, the largest logit) would take most of each row at a
    // small radius: the field would differ by far.
    const Matrix masked = drifting_generator::drift_field(gen, data, {0.05}).v;
    const Matrix unmasked = transcription(gen, data, {0.05}, false).v;
    CHECK(max_diff(masked, transcription(gen, data, {0.05}).v) <= 1e-12 * max_abs(masked));
    CHECK(max_diff(masked, unmasked) > 0.1 * max_abs(masked));
}

TEST_CASE("drifting_generator: radii add RMS-normalised fields; V is equivariant; bit-identical on any thread count") {
    const Matrix gen = random_points(20, 2, 0.0, 0.2, 7), data = random_points(30, 2, 1.0, 1.0, 8);
    const auto all = drifting_generator::drift_field(gen, data, radii);
    Matrix sum = Matrix::from_shape(gen.shape());
    std::fill(sum.begin(), sum.end(), 0.0);
    for (double r : radii) {
        const auto one = drifting_generator::drift_field(gen, data, {r});
        double ms = 0.0;
        for (double v : one.v) ms += v * v;
        // Each radius' field has RMS s (RMS 1 in the scaled coordinates).
        CHECK(std::sqrt(ms / double(one.v.size())) == Approx(one.coordinate_scale).epsilon(1e-12));
        for (std::size_t k = 0; k < sum.size(); ++k) sum.data()[k] += one.v.data()[k];
    }
    CHECK(max_diff(all.v, sum) <= 1e-13 * max_abs(sum));

    // Distances are measured in units of their mean: V(c x + a, c y + a) = c V(x, y).
    const double c = 3.5, shift = -2.0;
    Matrix gen2 = gen, data2 = data;
    for (double& v : gen2) v = c * v + shift;
    for (double& v : data2) v = c * v + shift;
    const auto moved = drifting_generator::drift_field(gen2, data2, radii);
    Matrix scaled = all.v;
    for (double& v : scaled) v *= c;
    CHECK(max_diff(moved.v, scaled) <= 1e-11 * max_abs(scaled));
    CHECK(moved.coordinate_scale == Approx(c * all.coordinate_scale).epsilon(1e-12));

    // One thread or two: the same bytes (fixed chunks, sums in a fixed order).
    const Matrix big_gen = random_points(200, 3, 0.0, 0.5, 9), big_data = random_points(150, 3, 0.5, 1.0, 10);
    Matrix one_thread, two_threads;
    tbb::task_arena(1).execute([&] { one_thread = drifting_generator::drift_field(big_gen, big_data, radii).v; });
    tbb::task_arena(2).execute([&] { two_threads = drifting_generator::drift_field(big_gen, big_data, radii).v; });
    CHECK(std::memcmp(one_thread.data(), two_threads.data(), one_thread.size() * sizeof(double)) == 0);
}
