// precision_recall: improved precision and recall of Kynkaanniemi, Karras, Laine, Lehtinen and
// Aila, "Improved precision and recall metric for assessing generative models", NeurIPS 2019.
// The support of each law is estimated by the union of the k-NN balls of its sample
// (mdlab/kernels/knn_balls.hpp: r_i = distance from x_i to its k-th nearest other point, closed
// balls as in the authors' code):
//
//   precision = (1/M) sum_j 1[ y_j in some B(x_i, r_k(x_i)) ]   (samples inside the data's support)
//   recall    = (1/N) sum_i 1[ x_i in some B(y_j, r_k(y_j)) ]   (data inside the samples' support)
//
// X = the reference sample of mu_data (N points), Y = the samples (M points). Both are biased by
// the finite samples (a point set's balls miss part of its own law's support, more so in high
// dimension): the baseline (a fresh sample of mu_data of M points) shows what a perfect generator
// of this size scores. Brute force, O(M N D).
#include <algorithm>
#include <string>
#include <vector>

#include <mdlab/kernels/knn_balls.hpp>
#include <mdlab/knn_ball_metric.hpp>
#include <mdlab/mdlab.hpp>

namespace {

// Share of the rows of `queries` inside the union of the balls.
double share_inside(const mdlab::Matrix& queries, const mdlab::Matrix& centres, const mdlab::Vector& radii) {
    const auto hits = mdlab::kernels::balls_containing(queries, centres, radii, mdlab::kernels::Ball::closed, true);
    const std::size_t inside = static_cast<std::size_t>(std::count(hits.begin(), hits.end(), std::size_t{1}));
    return static_cast<double>(inside) / static_cast<double>(hits.size());
}

class PrecisionRecall : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::knn_ball_metric_spec(
            "precision_recall", "1.0.0",
            "improved precision and recall (Kynkaanniemi et al. 2019): shares of samples inside the data's k-NN balls "
            "and of data inside the samples' k-NN balls",
            "generated samples Y (M x D, M >= k + 1)", 3, "neighbour rank of the ball radii (3 in the paper)");
    }

    explicit PrecisionRecall(const mdlab::Params& p) : k_(p.count("k")), reference_size_(p.count("reference_size")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        return mdlab::knn_ball_metric(
            inputs, ctx, "precision_recall", k_, reference_size_, k_ + 1,
            [&](const mdlab::Matrix& y, const mdlab::Matrix& x, const mdlab::Vector& x_radii) {
                const mdlab::Vector y_radii = mdlab::kernels::knn_radii(y, k_);
                return mdlab::Values{{"precision", share_inside(y, x, x_radii)}, {"recall", share_inside(x, y, y_radii)}};
            });
    }

private:
    std::size_t k_, reference_size_;
};

}  // namespace

MDLAB_PLUGINS(PrecisionRecall)
