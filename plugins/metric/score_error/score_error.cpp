// score_error: the lambda-weighted L^2 distance between a score estimate and the true score
// (SCIENCE.md §4):
//
//   l2 = mean over the time grid of lambda(t) E_{x ~ p_t} |s_hat(x, t) - s_oracle(x, t)|^2,
//   lambda(t) = sigma(t)^2,
//
// by Monte Carlo over x = alpha x0 + sigma eps, x0 ~ mu_data (mdlab/noised_draws.hpp). The time
// average gives every grid time the same weight (a mean rule over the chosen grid: with log_snr
// spacing it approximates the average over log-SNR, with uniform spacing the average over t).
// `relative` divides by the same average of lambda E |s_oracle|^2. Both estimators see the same
// draws, so the estimate is exactly 0 when they agree. The per-time curve goes to
// <node>.score_error.csv.
#include <cmath>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/noised_draws.hpp>

namespace {

class ScoreError : public mdlab::Metric {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec("score_error", "1.0.0",
                               "lambda-weighted L2 error E_t sigma(t)^2 E_{p_t} |s_hat - s_oracle|^2 of a score "
                               "estimate against the true score, on a time grid");
        spec.input("score", mdlab::ValueKind::estimator, "the score estimate s_hat under test (its process gives alpha, sigma)")
            .input("oracle", mdlab::ValueKind::estimator, "an estimator of the true score of the noised data law (same process)")
            .input("manifold", mdlab::ValueKind::manifold, "the data manifold; draws x0 ~ mu_data");
        return mdlab::noised::add_params(spec, 2000);
    }

    explicit ScoreError(const mdlab::Params& p) : settings_(p) {}

    mdlab::Values evaluate(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const std::string me = "score_error";
        if (!inputs.has("oracle"))
            throw mdlab::InputError(me + " needs the true score: connect an estimator of it (for example the "
                                         "`oracle` estimator) to the 'oracle' input",
                                    "oracle");
        const auto est = inputs.estimator("score");
        const auto oracle = inputs.estimator("oracle");
        const auto manifold = inputs.manifold("manifold");
        const mdlab::ForwardProcess& proc = est->process();
        mdlab::noised::check_estimator(*est, "score", *manifold, me);
        mdlab::noised::check_estimator(*oracle, "oracle", *manifold, me);
        const std::vector<double> times = settings_.grid(proc);
        mdlab::noised::check_same_process(*est, *oracle, "oracle", times, me);

        const std::size_t n = settings_.n, d = manifold->ambient_dim();
        const mdlab::RandomStream base = ctx.stream("draws");
        std::vector<std::vector<double>> curve;
        double sum_err = 0.0, sum_ref = 0.0, sum_var = 0.0;
        mdlab::Matrix s_hat, s_true;
        std::vector<double> err(n), ref(n);
        for (std::size_t i = 0; i < times.size(); ++i) {
            if (ctx.cancelled()) throw mdlab::Error(me + ": cancelled");
            const double t = times[i];
            const mdlab::Matrix x = mdlab::noised::draw(*manifold, proc, t, n, mdlab::noised::time_stream(base, i));
            est->score(x, t, s_hat);
            oracle->score(x, t, s_true);
            mdlab::noised::check_finite(s_hat, "score", t, me);
            mdlab::noised::check_finite(s_true, "oracle", t, me);
            mdlab::for_each_index(n, [&](std::size_t k) {
                double e2 = 0.0, r2 = 0.0;
                for (std::size_t a = 0; a < d; ++a) {
                    const double u = s_hat(k, a) - s_true(k, a);
                    e2 += u * u;
                    r2 += s_true(k, a) * s_true(k, a);
                }
                err[k] = e2;
                ref[k] = r2;
            });
            const double mean_err = mdlab::ordered_sum(n, [&](std::size_t k) { return err[k]; }) / double(n);
            const double mean_ref = mdlab::ordered_sum(n, [&](std::size_t k) { return ref[k]; }) / double(n);
            const double var_err =
                mdlab::ordered_sum(n, [&](std::size_t k) { return (err[k] - mean_err) * (err[k] - mean_err); }) /
                double(n - 1);
            const double w = mdlab::noised::lambda(proc, t);
            sum_err += w * mean_err;
            sum_ref += w * mean_ref;
            sum_var += w * w * var_err / double(n);
            curve.push_back({t, proc.alpha(t), proc.sigma(t), w, mean_err, mean_ref, mean_ref > 0.0 ? mean_err / mean_ref : NAN});
            ctx.progress(double(i + 1) / double(times.size()));
        }
        mdlab::noised::write_csv(ctx.output_dir() / (ctx.node_id() + ".score_error.csv"),
                                 {"t", "alpha", "sigma", "lambda", "l2", "reference", "relative"}, curve);
        const double m = double(times.size());
        return {{"l2", sum_err / m},
                {"relative", sum_ref > 0.0 ? sum_err / sum_ref : NAN},
                {"l2_stderr", std::sqrt(sum_var) / m},
                {"reference", sum_ref / m}};
    }

private:
    mdlab::noised::Settings settings_;
};

}  // namespace

MDLAB_PLUGINS(ScoreError)
