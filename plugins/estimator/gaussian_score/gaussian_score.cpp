// The Gaussian (linear) baseline score: the exact score of N(mu, Sigma) noised by the process,
// with mu and Sigma the training set's mean and covariance. x_t = alpha x0 + sigma eps with
// x0 ~ N(mu, Sigma) is N(alpha mu, alpha^2 Sigma + sigma^2 I), so
//
//   s(x, t) = -(alpha^2 Sigma + sigma^2 I)^{-1} (x - alpha mu),
//   D(x, t) = E[x0 | x_t = x] = mu + alpha Sigma (alpha^2 Sigma + sigma^2 I)^{-1} (x - alpha mu).
//
// With Sigma = Q diag(lambda) Q^T computed once (Eigen's symmetric eigensolver), every t costs
// two products by Q: s = -Q diag(1 / (alpha^2 lambda + sigma^2)) Q^T (x - alpha mu), and the
// denoiser uses the weights alpha lambda / (alpha^2 lambda + sigma^2), finite as alpha -> 0 (the
// default (x + sigma^2 s) / alpha divides by alpha). It is what every score estimator beats on
// anything but a single Gaussian: the linear score, the "Gaussian baseline" of the literature.
// A singular Sigma (data on a subspace, N <= D) is fine for sigma > 0.
#include <algorithm>
#include <cmath>
#include <string>

#include <Eigen/Eigenvalues>

#include <mdlab/mdlab.hpp>
#include <mdlab/parallel.hpp>
#include <mdlab/training_set_estimator.hpp>

namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class GaussianScore : public mdlab::TrainingSetEstimator {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("gaussian_score", "1.0.0",
                                 "exact score of the noised Gaussian N(mu, Sigma) fitted to the training set "
                                 "(its mean and covariance): the linear baseline")
            .input("data", mdlab::ValueKind::points, "training points x_1..x_N (N x D)")
            .input("process", mdlab::ValueKind::process, "forward process giving alpha(t) and sigma(t)")
            .param(mdlab::choice("covariance", "mle", {"mle", "unbiased"},
                                 "normalisation of the covariance: mle divides by N (the maximum-likelihood fit), "
                                 "unbiased by N - 1 (needs N >= 2)"));
    }

    explicit GaussianScore(const mdlab::Params& p)
        : TrainingSetEstimator("gaussian_score"), unbiased_(p.string("covariance") == "unbiased") {
        spatial_index_ = false;  // the softmax keys are not used: no index to build
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        prepare_training_set(inputs);
        const mdlab::Matrix& x = data();
        const std::size_t n = mdlab::rows(x), d = mdlab::cols(x);
        if (unbiased_ && n < 2)
            throw mdlab::InputError("gaussian_score: covariance = unbiased needs at least 2 training points, got 1",
                                    "covariance");
        const Eigen::Map<const RowMajor> xm(x.data(), Eigen::Index(n), Eigen::Index(d));
        mu_ = xm.colwise().mean().transpose();
        const RowMajor centred = xm.rowwise() - mu_.transpose();
        const Eigen::MatrixXd sigma = (centred.transpose() * centred) / double(unbiased_ ? n - 1 : n);
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(sigma);
        if (eig.info() != Eigen::Success) throw mdlab::Error("gaussian_score: the eigensolver did not converge");
        q_ = eig.eigenvectors();
        // Rounding can leave tiny negative eigenvalues of a singular covariance: they are 0.
        lambda_ = eig.eigenvalues().cwiseMax(0.0);
        ctx.log("gaussian_score: covariance eigenvalues in [" + std::to_string(lambda_.minCoeff()) + ", " +
                std::to_string(lambda_.maxCoeff()) + "]");
    }

    void score(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        const Eigen::VectorXd w = -(a * a * lambda_.array() + s * s).inverse();
        apply(x, a, w, Eigen::VectorXd::Zero(Eigen::Index(dim())), out);
    }

    void denoise(const mdlab::Matrix& x, double t, mdlab::Matrix& out) const override {
        const auto [a, s] = alpha_sigma(x, t);
        const Eigen::VectorXd w = (a * lambda_.array()) / (a * a * lambda_.array() + s * s);
        apply(x, a, w, mu_, out);
    }

private:
    // out_m = base + Q diag(w) Q^T (x_m - a mu), rows in fixed parallel chunks (each chunk one
    // matrix product, the same whatever the thread count).
    void apply(const mdlab::Matrix& x, double a, const Eigen::VectorXd& w, const Eigen::VectorXd& base,
               mdlab::Matrix& out) const {
        const std::size_t m = mdlab::rows(x), d = dim();
        out.resize({m, d});
        const Eigen::RowVectorXd shift = a * mu_.transpose();
        mdlab::for_chunks(m, 256, [&](std::size_t, std::size_t b, std::size_t e) {
            const Eigen::Index len = Eigen::Index(e - b);
            const Eigen::Map<const RowMajor> xb(mdlab::row(x, b), len, Eigen::Index(d));
            Eigen::Map<RowMajor> ob(mdlab::row(out, b), len, Eigen::Index(d));
            const RowMajor coords = ((xb.rowwise() - shift) * q_) * w.asDiagonal();
            ob.noalias() = coords * q_.transpose();
            ob.rowwise() += base.transpose();
        });
    }

    bool unbiased_;
    Eigen::VectorXd mu_, lambda_;
    Eigen::MatrixXd q_;
};

}  // namespace

MDLAB_PLUGINS(GaussianScore)
