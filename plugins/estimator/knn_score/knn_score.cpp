// The k-nearest-neighbour smoothed empirical score: the empirical score (SCIENCE.md section 2)
// with each query's softmax restricted to its k nearest noised training points,
//
//   s(x, t) = sum_{i in N_k(x)} w_i(x) (alpha x_i - x) / sigma^2,
//   w = softmax_{i in N_k(x)}( -|x - alpha x_i|^2 / (2 sigma^2) ),
//
// N_k(x) the k training points whose means alpha x_i are nearest to x (ties: the lower index).
// It is the score of the mixture of the k nearest kernels, a local, truncated posterior: at
// small sigma it equals the empirical score (the dropped kernels carry no weight), at large
// sigma it stays a local average where the empirical score sees the whole set. With k >= N it
// is the empirical score itself (the same kernel, bit for bit).
// The neighbours come from mdlab/kernels/nearest.hpp (|x - alpha x_i| = |alpha| |x / alpha - x_i|:
// the queries scaled by 1 / alpha against the training set), the logits are then recomputed from
// alpha x_i - x formed directly, so they are exact whatever the scaling's rounding.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/kernels/nearest.hpp>
#include <mdlab/kernels/softmax_score.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/parallel.hpp>
#include <mdlab/training_set_estimator.hpp>

namespace {

class KnnScore : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("knn_score", "1.0.0",
                                 "empirical score with each query's softmax over its k nearest noised training "
                                 "points only (k >= N: the empirical score)")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(mdlab::integer("k", 10,
                                  "neighbours per query: at most " + std::to_string(mdlab::kernels::max_neighbours) +
                                      " (the neighbour kernel's limit), or k >= N for every training point (the "
                                      "empirical score)")
                       .at_least(1));
    }

    explicit KnnScore(const mdlab::Params& p) : TrainingSetEstimator("knn_score"), k_(p.count("k")) {}

    void prepare(const mdlab::Inputs& inputs, mdlab::Context&) override {
        prepare_training_set(inputs);
        const std::size_t n = mdlab::rows(data());
        if (k_ < n && k_ > mdlab::kernels::max_neighbours)
            throw mdlab::InputError("knn_score: k = " + std::to_string(k_) + " with N = " + std::to_string(n) +
                                        " training points: k must be at most " +
                                        std::to_string(mdlab::kernels::max_neighbours) +
                                        " (the neighbour kernel's limit) or at least N (the empirical score)",
                                    "k");
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        const mdlab::Matrix& keys = data();
        const std::size_t m = mdlab::rows(x), d = dim(), n = mdlab::rows(keys);
        const double v = s * s;
        if (k_ >= n) {  // every point is a neighbour: the empirical score
            mdlab::kernels::softmax_score(x, keys_, a, v, out, nullptr, 0.0, precision_);
            return;
        }
        out.resize({m, d});
        if (a == 0.0) {  // every kernel is centred at 0: all tied, the softmax is uniform
            for (std::size_t q = 0; q < x.size(); ++q) out.data()[q] = -x.data()[q] / v;
            return;
        }
        mdlab::Matrix scaled = x / a;
        const mdlab::kernels::Neighbours nn = mdlab::kernels::nearest(scaled, keys, k_);
        mdlab::for_chunks(m, 64, [&](std::size_t, std::size_t b, std::size_t e) {
            std::vector<double> d2(k_);
            for (std::size_t q = b; q < e; ++q) {
                const double* xq = mdlab::row(x, q);
                double* o = mdlab::row(out, q);
                if (nn.index(q, k_ - 1) == mdlab::kernels::no_neighbour) {  // a non-finite query
                    std::fill(o, o + d, std::numeric_limits<double>::quiet_NaN());
                    continue;
                }
                double best = std::numeric_limits<double>::infinity();
                for (std::size_t j = 0; j < k_; ++j) {
                    const double* key = mdlab::row(keys, nn.index(q, j));
                    double acc = 0.0;
                    for (std::size_t c = 0; c < d; ++c) {
                        const double r = a * key[c] - xq[c];
                        acc += r * r;
                    }
                    d2[j] = acc;
                    best = std::min(best, acc);
                }
                // Shifted by the largest logit: its weight is exp(0) = 1, nothing underflows to 0/0.
                std::fill(o, o + d, 0.0);
                double z = 0.0;
                for (std::size_t j = 0; j < k_; ++j) {
                    const double w = std::exp((best - d2[j]) / (2.0 * v));
                    const double* key = mdlab::row(keys, nn.index(q, j));
                    for (std::size_t c = 0; c < d; ++c) o[c] += w * (a * key[c] - xq[c]);
                    z += w;
                }
                for (std::size_t c = 0; c < d; ++c) o[c] /= z * v;
            }
        });
    }

private:
    std::size_t k_;
};

}  // namespace

MDLAB_PLUGINS(KnnScore)
