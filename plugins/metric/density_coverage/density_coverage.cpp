// density_coverage: density and coverage of Naeem, Oh, Uh, Choi and Yoo, "Reliable fidelity and
// diversity metrics for generative models", ICML 2020. With the k-NN balls of the reference sample
// X of mu_data (N points; r_i = distance from x_i to its k-th nearest other x, open balls as in
// the authors' code; mdlab/kernels/knn_balls.hpp) and the samples Y (M points):
//
//   density  = 1/(k M) sum_j sum_i 1[ |y_j - x_i| < r_i ]   (how many data balls hold a sample)
//   coverage = (1/N) sum_i 1[ min_j |y_j - x_i| < r_i ]      (data balls that hold some sample)
//
// Only the data's balls are used, so an outlier sample does not inflate them (the flaw of
// precision / recall they fix). For Y ~ mu_data (continuous): E[density] = 1 exactly, and
// E[coverage] = 1 - prod_{j=1..k} (N - j) / (M + N - j) (1 - 2^-k for M = N; paper, section 3),
// whatever the law and the dimension. Not the `coverage` metric (the coverage resolution of
// generated mass along a curve).
#include <string>
#include <vector>

#include <mdlab/kernels/knn_balls.hpp>
#include <mdlab/kernels/nearest.hpp>
#include <mdlab/knn_ball_metric.hpp>
#include <mdlab/mdlab.hpp>

namespace {

class DensityCoverage : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::knn_ball_metric_spec(
            "density_coverage", "1.0.0",
            "density and coverage (Naeem et al. 2020): mean count of data k-NN balls holding a sample over k, share of "
            "data balls holding some sample",
            "generated samples Y (M x D)", 5, "neighbour rank of the data balls' radii (5 recommended in the paper)");
    }

    explicit DensityCoverage(const mdlab::Params& p) : k_(p.count("k")), reference_size_(p.count("reference_size")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        return mdlab::knn_ball_metric(
            inputs, ctx, "density_coverage", k_, reference_size_, 1,
            [&](const mdlab::Matrix& y, const mdlab::Matrix& x, const mdlab::Vector& radii) {
                const auto counts = mdlab::kernels::balls_containing(y, x, radii, mdlab::kernels::Ball::open, false);
                double held = 0.0;
                for (std::size_t c : counts) held += static_cast<double>(c);
                const mdlab::kernels::Neighbours nearest_sample = mdlab::kernels::nearest(x, y, 1);
                std::size_t covered = 0;
                for (std::size_t i = 0; i < mdlab::rows(x); ++i) covered += nearest_sample.distance(i, 0) < radii(i);
                const double m = static_cast<double>(mdlab::rows(y)), n = static_cast<double>(mdlab::rows(x));
                return mdlab::Values{{"density", held / (static_cast<double>(k_) * m)}, {"coverage", double(covered) / n}};
            });
    }

private:
    std::size_t k_, reference_size_;
};

}  // namespace

MDLAB_PLUGINS(DensityCoverage)
