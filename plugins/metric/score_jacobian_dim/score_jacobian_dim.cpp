// score_jacobian_dim: the intrinsic dimension k of the data manifold read off a score estimate
// at a small time t (Stanczuk, Batzolis, Deveney, Schoenlieb 2024, "Diffusion models encode the
// intrinsic dimension of data manifolds", ICML; arXiv 2212.12611; SCIENCE.md section 6).
//
// Near M and at small sigma(t) the score points to M: s(x, t) ~ -(x - alpha proj(x)) / sigma^2 lies
// in the normal space (dimension D - k), with tangential parts of relative size O(sigma). For each
// base point x0 (on or near M):
//   - method `scores` (the paper's algorithm): K perturbations x_i = alpha x0 + sigma eps_i,
//     eps_i ~ N(0, I), and the K x D matrix of their scores s(x_i, t);
//   - method `jacobian`: the D x D Jacobian of the score at alpha x0 by central differences
//     (mdlab/score_divergence.hpp), ~ -P_normal / sigma^2 + O(1);
// its singular values s_1 >= ... >= s_D (Eigen's BDCSVD) have D - k large values (normal
// directions) and k small ones (tangent). With the spectrum normalised by s_1, the largest drop
// g_j = (s_j - s_{j+1}) / s_1 over j = 1 .. D - 1 is at j* = D - k: k = D - j*, between 1 and D - 1.
// Reported: the mode, mean, min and max of k over the points, the share of points at the mode,
// the mean largest gap and the mean second-largest gap (how clear the drop is), the manifold's k
// when one is connected (NaN otherwise), and the mean
// normalised spectrum in <node>.score_jacobian_dim.csv.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <Eigen/SVD>

#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/score_divergence.hpp>

namespace {

using mdlab::Matrix;

// Where the spectrum drops: k, the largest and the second-largest normalised gap.
struct Drop {
    std::size_t k = 0;
    double gap = 0.0, next_gap = 0.0;
};

Drop largest_drop(const std::vector<double>& sv) {
    const std::size_t d = sv.size();
    Drop drop;
    std::size_t at = 1;
    for (std::size_t j = 1; j < d; ++j) {  // g_j = (s_j - s_{j+1}) / s_1, 1-based j
        const double g = sv[0] > 0.0 ? (sv[j - 1] - sv[j]) / sv[0] : 0.0;
        if (g > drop.gap) {
            drop.next_gap = drop.gap;
            drop.gap = g;
            at = j;
        } else if (g > drop.next_gap) {
            drop.next_gap = g;
        }
    }
    drop.k = d - at;
    return drop;
}

class ScoreJacobianDim : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("score_jacobian_dim", "1.0.0",
                                 "intrinsic dimension k from the score at small t (Stanczuk et al. 2024): the largest "
                                 "gap in the singular values of scores near each point")
            .input("score", mdlab::ValueKind::estimator, "the score estimate s(x, t)")
            .input("samples", mdlab::ValueKind::points, "base points on or near M (n x D); or connect 'manifold'", false)
            .input("manifold", mdlab::ValueKind::manifold,
                   "the data manifold: base points drawn from mu_data when 'samples' is not connected; its "
                   "intrinsic dimension is reported as k_manifold",
                   false)
            .param(mdlab::real("t", 1e-2, "the small time t at which the score is read").greater_than(0.0))
            .role(mdlab::ParamRole::process_time)
            .param(mdlab::choice("method", "scores", {"scores", "jacobian"},
                                 "scores: singular values of K scores at noised copies alpha x0 + sigma eps (the "
                                 "paper's); jacobian: of the score's Jacobian at alpha x0 (central differences)"))
            .param(mdlab::integer("points", 32, "base points: drawn from the manifold, or the first rows of 'samples'")
                       .at_least(1)
                       .at_most(100000))
            .param(mdlab::integer("perturbations", 0, "scores: noised copies K per base point (0: 16 D); K >= D")
                       .at_least(0)
                       .at_most(100000))
            .param(mdlab::real("fd_step", 1e-3, "jacobian: finite-difference step relative to sigma(t)")
                       .greater_than(0.0)
                       .at_most(0.5));
    }

    explicit ScoreJacobianDim(const mdlab::Params& p)
        : t_(p.real("t")), method_(p.string("method")), points_(p.count("points")),
          perturbations_(p.count("perturbations")), fd_step_(p.real("fd_step")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const std::string me = "score_jacobian_dim";
        const auto est = inputs.estimator("score");
        const std::size_t d = est->dim();
        if (d < 2) throw mdlab::InputError(me + ": needs ambient dimension D >= 2 (k lies in 1 .. D - 1)", "score");
        const mdlab::ForwardProcess& proc = est->process();
        if (t_ > proc.t_end())
            throw mdlab::InputError(me + ": t = " + std::to_string(t_) + " lies beyond the process's end time T = " +
                                        std::to_string(proc.t_end()),
                                    "t");
        const std::size_t K = perturbations_ == 0 ? 16 * d : perturbations_;
        if (method_ == "scores" && K < d)
            throw mdlab::InputError(me + ": perturbations = " + std::to_string(K) + " is below D = " + std::to_string(d) +
                                        ": the score matrix needs at least D rows to show all D singular values",
                                    "perturbations");
        const Matrix x0 = base_points(inputs, d, ctx, me);
        const std::size_t m = mdlab::rows(x0);
        const double alpha = proc.alpha(t_), sigma = proc.sigma(t_);

        // Per base point i of a block, rows i R .. i R + R - 1 of `rowsets` form its matrix: its
        // scores at K noised copies, or the columns J e_j of its Jacobian. Blocks of base points
        // keep `rowsets` below about 2^22 values.
        const std::size_t R = method_ == "jacobian" ? d : K;
        const std::size_t block = std::max<std::size_t>(1, (std::size_t(1) << 22) / (R * d));
        const mdlab::RandomStream stream = ctx.stream("perturbations");
        std::vector<std::vector<double>> spectra(m);
        std::vector<Drop> drops(m);
        Matrix rowsets;
        for (std::size_t b = 0; b < m; b += block) {
            if (ctx.cancelled()) throw mdlab::Error(me + ": cancelled");
            const std::size_t e = std::min(m, b + block);
            if (method_ == "jacobian") {
                Matrix centre = Matrix::from_shape({e - b, d});
                for (std::size_t k = 0; k < centre.size(); ++k) centre.data()[k] = alpha * x0.data()[b * d + k];
                mdlab::score_fd::jacobians(*est, centre, t_, fd_step_ * sigma, rowsets);
            } else {
                Matrix noisy = Matrix::from_shape({(e - b) * K, d});
                mdlab::for_each_index(e - b, [&](std::size_t i) {
                    mdlab::Rng rng = stream.chunk(b + i);  // base point b + i's own generator
                    for (std::size_t r = 0; r < K; ++r)
                        for (std::size_t a = 0; a < d; ++a)
                            noisy(i * K + r, a) = alpha * x0(b + i, a) + sigma * rng.normal();
                });
                est->score(noisy, t_, rowsets);
            }
            mdlab::noised::check_finite(rowsets, "score", t_, me);
            mdlab::for_each_index(e - b, [&](std::size_t i) {
                Eigen::MatrixXd a(R, d);
                for (std::size_t r = 0; r < R; ++r)
                    for (std::size_t c = 0; c < d; ++c) a(Eigen::Index(r), Eigen::Index(c)) = rowsets(i * R + r, c);
                const Eigen::VectorXd sv = Eigen::BDCSVD<Eigen::MatrixXd>(a).singularValues();  // decreasing
                spectra[b + i].assign(sv.data(), sv.data() + sv.size());
                drops[b + i] = largest_drop(spectra[b + i]);
            });
            ctx.progress(double(e) / double(m));
        }
        return summarise(spectra, drops, inputs, ctx, K);
    }

private:
    // The base points: the first `points` rows of 'samples', or `points` draws of mu_data.
    Matrix base_points(const mdlab::Inputs& inputs, std::size_t d, mdlab::Context& ctx, const std::string& me) const {
        if (inputs.has("samples")) {
            const auto y = inputs.points("samples");
            if (mdlab::cols(*y) != d)
                throw mdlab::InputError(me + ": 'samples' is " + mdlab::shape_text(*y) +
                                            " but the score estimator works in R^" + std::to_string(d),
                                        "samples");
            mdlab::require_points(me, *y, d, "samples");
            const std::size_t m = std::min(points_, mdlab::rows(*y));
            Matrix first = Matrix::from_shape({m, d});
            std::copy(y->data(), y->data() + m * d, first.data());
            return first;
        }
        if (!inputs.has("manifold"))
            throw mdlab::InputError(me + ": connect base points to 'samples' or a manifold to draw them from",
                                    "manifold");
        const auto manifold = inputs.manifold("manifold");
        if (manifold->ambient_dim() != d)
            throw mdlab::InputError(me + ": the manifold lives in R^" + std::to_string(manifold->ambient_dim()) +
                                        " but the score estimator works in R^" + std::to_string(d),
                                    "manifold");
        return manifold->sample(points_, ctx.stream("points"));
    }

    mdlab::Values summarise(const std::vector<std::vector<double>>& spectra, const std::vector<Drop>& drops,
                            const mdlab::Inputs& inputs, mdlab::Context& ctx, std::size_t K) const {
        const std::size_t m = drops.size(), d = spectra.front().size();
        std::map<std::size_t, std::size_t> counts;
        double k_sum = 0.0, gap = 0.0, next_gap = 0.0;
        std::size_t k_min = d, k_max = 0;
        for (const Drop& drop : drops) {
            ++counts[drop.k];
            k_sum += double(drop.k);
            gap += drop.gap;
            next_gap += drop.next_gap;
            k_min = std::min(k_min, drop.k);
            k_max = std::max(k_max, drop.k);
        }
        std::size_t mode = 0, at_mode = 0;
        for (const auto& [k, c] : counts)  // increasing k: ties go to the smaller k
            if (c > at_mode) mode = k, at_mode = c;
        // Mean spectrum, each normalised by its largest singular value.
        std::vector<std::vector<double>> table(d);
        for (std::size_t j = 0; j < d; ++j) {
            double sum = 0.0;
            for (const auto& sv : spectra) sum += sv[0] > 0.0 ? sv[j] / sv[0] : 0.0;
            table[j] = {double(j + 1), sum / double(m)};
        }
        mdlab::noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".score_jacobian_dim.csv"),
                                 {"index", "singular_value"}, table);
        mdlab::Values v{{"k_mode", double(mode)},
                        {"k_mean", k_sum / double(m)},
                        {"k_min", double(k_min)},
                        {"k_max", double(k_max)},
                        {"agreement", double(at_mode) / double(m)},
                        {"gap", gap / double(m)},
                        {"next_gap", next_gap / double(m)},
                        {"n_points", double(m)},
                        {"perturbations", method_ == "scores" ? double(K) : 0.0},
                        {"k_manifold", inputs.has("manifold") ? double(inputs.manifold("manifold")->intrinsic_dim()) : NAN}};
        return v;
    }

    double t_;
    std::string method_;
    std::size_t points_, perturbations_;
    double fd_step_;
};

}  // namespace

MDLAB_PLUGINS(ScoreJacobianDim)
