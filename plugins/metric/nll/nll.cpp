// nll: the negative log-likelihood of given points under the probability-flow ODE of a score
// estimate (SCIENCE.md section 6; Song et al. 2021, "Score-based generative modeling through
// SDEs", section 4.3 and appendix D.2). Each point x is read as a draw of p_{t_min}; the ODE
// carries it to x(T) (flow_likelihood.hpp) and
//   log p_{t_min}(x) = log N(x(T); 0, prior_std^2 I) + integral_{t_min}^T div F dt,
// the prior being the one reverse-time samplers start from (ForwardProcess::prior_std: sigma(T)
// for ve and edm, 1 for vp, ou, subvp and cosine). Reported in nats per dimension,
// nll = -mean_i log p(x_i) / D, with the standard error over the points. With the exact score
// of the data law this is the exact density of the data noised to t_min, up to the ODE's
// discretisation and the prior's mismatch with the true p_T.
//
// div s: exact from D central differences when D <= 32 (divergence = auto), else Hutchinson's
// z . J z with Rademacher probes z drawn once per point from the node's stream `probes` and
// kept along the whole trajectory (as FFJORD and score_sde do), so the estimate of each point's
// log-likelihood is unbiased and its noise is part of the spread over the points.
#include <cmath>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>
#include <mdlab/point_checks.hpp>

#include "flow_likelihood.hpp"

namespace {

constexpr double log_2pi = 1.8378770664093454835606594728112;
constexpr std::size_t exact_up_to = 32;  // divergence = auto: exact for D <= 32

class Nll : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("nll", "1.0.0",
                                 "negative log-likelihood (nats/dim) of points under the probability-flow ODE of a "
                                 "score estimate: instantaneous change of variables, exact or Hutchinson divergence")
            .input("samples", mdlab::ValueKind::points, "the points x whose likelihood is evaluated (n x D), read as draws of p_{t_min}")
            .input("score", mdlab::ValueKind::estimator, "the score estimate s(x, t) whose probability-flow ODE defines the model")
            .param(mdlab::real("t_min", 1e-3, "time the points are taken at: the ODE runs from t_min to T").greater_than(0.0))
            .role(mdlab::ParamRole::process_time)
            .param(mdlab::integer("steps", 64, "steps of the ODE solver, equal in log(sigma / alpha)").at_least(1).at_most(100000))
            .param(mdlab::choice("method", "rk4", {"rk4", "heun"},
                                 "ODE solver: classical Runge-Kutta 4 (4 stages) or Heun (2 stages, 2nd order)"))
            .param(mdlab::choice("divergence", "auto", {"auto", "exact", "hutchinson"},
                                 "div s: exact (D central differences), hutchinson (Rademacher probes), or auto: exact "
                                 "for D <= 32"))
            .param(mdlab::integer("probes", 1, "hutchinson: Rademacher probes per point, fixed along the trajectory")
                       .at_least(1)
                       .at_most(1024))
            .param(mdlab::real("fd_step", 1e-3,
                               "finite-difference step of the divergence, relative to sigma(t) (raise it for a "
                               "single-precision network)")
                       .greater_than(0.0)
                       .at_most(0.5));
    }

    explicit Nll(const mdlab::Params& p)
        : t_min_(p.real("t_min")), steps_(p.count("steps")), method_(p.string("method")),
          divergence_(p.string("divergence")), probes_(p.count("probes")), fd_step_(p.real("fd_step")) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const std::string me = "nll";
        const auto est = inputs.estimator("score");
        const auto points = inputs.points("samples");
        const std::size_t d = est->dim(), n = mdlab::rows(*points);
        if (mdlab::cols(*points) != d)
            throw mdlab::InputError(me + ": 'samples' is " + mdlab::shape_text(*points) +
                                        " but the score estimator works in R^" + std::to_string(d),
                                    "samples");
        mdlab::require_points(me, *points, d, "samples");
        const mdlab::ForwardProcess& proc = est->process();
        const nll::Grid grid = make_grid(proc);

        nll::Divergence div;
        div.exact = divergence_ == "exact" || (divergence_ == "auto" && d <= exact_up_to);
        div.relative_step = fd_step_;
        if (!div.exact) {
            div.m = probes_;
            div.probes = mdlab::score_fd::rademacher_probes(n, probes_, d, ctx.stream("probes"));
        }
        const nll::FlowRate rate(*est, div);
        mdlab::Matrix x = *points;
        const std::vector<double> L = nll::integrate(rate, proc, grid, method_, x, [&](std::size_t s) {
            if (ctx.cancelled()) throw mdlab::Error(me + ": cancelled");
            ctx.progress(double(s + 1) / double(steps_));
        });
        mdlab::noised::check_finite(x, "score", proc.t_end(), me);

        // Per point: -log p / D, and the prior's part -log p_T(x(T)) / D.
        const double prior = proc.prior_std(), dd = double(d);
        std::vector<double> nll(n), prior_nll(n);
        mdlab::for_each_index(n, [&](std::size_t i) {
            double r2 = 0.0;
            for (std::size_t a = 0; a < d; ++a) r2 += x(i, a) * x(i, a);
            const double log_prior = -0.5 * r2 / (prior * prior) - 0.5 * dd * (log_2pi + 2.0 * std::log(prior));
            prior_nll[i] = -log_prior / dd;
            nll[i] = -(log_prior + L[i]) / dd;
        });
        std::vector<std::vector<double>> table(n);
        for (std::size_t i = 0; i < n; ++i) table[i] = {double(i), nll[i], prior_nll[i], L[i]};
        mdlab::noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".nll.csv"),
                                 {"point", "nll", "prior_nll", "divergence_integral"}, table);

        const double mean = mdlab::ordered_sum(n, [&](std::size_t i) { return nll[i]; }) / double(n);
        const double var = n > 1 ? mdlab::ordered_sum(n, [&](std::size_t i) { return (nll[i] - mean) * (nll[i] - mean); }) /
                                       double(n - 1)
                                 : NAN;
        const double stderr_ = std::sqrt(var / double(n));
        const double ln2 = std::log(2.0);
        return {{"nll", mean},
                {"nll_stderr", stderr_},
                {"bits_per_dim", mean / ln2},
                {"prior_nll", mdlab::ordered_sum(n, [&](std::size_t i) { return prior_nll[i]; }) / double(n)},
                {"nfe", double(steps_ * nll::stages(method_) * rate.scores_per_call(d))},
                {"probes", div.exact ? 0.0 : double(probes_)},
                {"n_points", double(n)}};
    }

private:
    nll::Grid make_grid(const mdlab::ForwardProcess& proc) const {
        const double T = proc.t_end();
        if (!(t_min_ < T))
            throw mdlab::InputError("nll: t_min = " + std::to_string(t_min_) + " must lie below the process's end time T = " +
                                        std::to_string(T),
                                    "t_min");
        const double u0 = std::log(proc.sigma(t_min_) / proc.alpha(t_min_)), u1 = std::log(proc.sigma(T) / proc.alpha(T));
        if (!std::isfinite(u0) || !std::isfinite(u1) || !(u1 > u0))
            throw mdlab::InputError("nll: the noise-to-signal ratio sigma / alpha must be finite, positive and increasing "
                                        "from t_min to T (it is " +
                                        std::to_string(std::exp(u0)) + " at t_min, " + std::to_string(std::exp(u1)) +
                                        " at T)",
                                    "t_min");
        return nll::Grid{t_min_, T, u0, u1, steps_};
    }

    double t_min_;
    std::size_t steps_;
    std::string method_, divergence_;
    std::size_t probes_;
    double fd_step_;
};

}  // namespace

MDLAB_PLUGINS(Nll)
