// Drifting: mean-shift particle transport (SCIENCE.md section 2 'drift', section 3 'drifting').
// Particles y_1..y_n start from prior draws N(0, prior_scale^2 I) (or an init file) and move by
//   y_i <- y_i + eta V(y_i),
//   V(x) = sum_j k(x, x_j) (x_j - x) / sum_j k(x, x_j)  -  sum_j k(x, y_j) (y_j - x) / sum_j k(x, y_j),
// the attraction to the data x_1..x_N minus the repulsion from the current particles, all
// particles updated from the same field (Jacobi), until the RMS of |V| over the particles is
// <= tol or `steps` updates were made. With the Gaussian kernel k = exp(-|x - y|^2 / (2 tau^2)),
// V = tau^2 (grad log(mu_data * phi_tau) - grad log(q * phi_tau)) with q the particles'
// empirical measure: drifting is score matching between smoothed distributions. The Laplace
// kernel k = exp(-|x - y| / tau) is the default of drifting models (and of this plugin) and
// only approximately a score difference.
//
// Self-interaction: the model term includes the particle itself (k(y_i, y_i) = 1, zero
// displacement). That is the field of the particles' empirical measure q itself, so the
// Gaussian identity above holds exactly, and particles sitting on the data (q = mu_data) are a
// fixed point, V = 0. (Excluding it would only enlarge the repulsion by the normalisation.)
//
// Both weighted means come from the shared kernel mdlab/kernels/mean_shift.hpp, computed
// streaming over blocks of points with an online maximum of the log-weights (flash-attention
// style): no n x N matrix is held, nothing over- or underflows at small tau.
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/kernels/mean_shift.hpp>
#include <mdlab/mdlab.hpp>
#include <mdlab/npy.hpp>
#include <mdlab/sampling.hpp>

namespace {

using mdlab::kernels::SoftmaxKeys;

// The Trajectory recorder only needs record_every from the sampler settings; drifting has no
// time grid, so it is built from a settings object carrying just that value.
mdlab::SamplerSettings recording_settings(std::size_t every) {
    mdlab::Params p;
    p.set("n", std::int64_t(0));
    p.set("steps", std::int64_t(0));
    p.set("t_min", 0.0);
    p.set("grid", std::string("uniform"));
    p.set("rho", 7.0);
    p.set("denoise", false);
    p.set("init", std::string());
    p.set("record_every", std::int64_t(every));
    return mdlab::SamplerSettings(p);
}

class Drifting : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::PluginSpec("drifting", "1.0.0",
                                 "mean-shift particle transport from prior draws to the data "
                                 "(y <- y + eta V(y), drifting models; no score estimator)")
            .input("data", mdlab::ValueKind::points, "data points x_1..x_N (N x D) the particles are drawn to")
            .param(mdlab::integer("n", 1000, "number of particles (ignored when init is given)").at_least(1))
            .role(mdlab::ParamRole::sample_count)
            .param(mdlab::integer("steps", 500, "maximum number of updates y <- y + eta V(y)").at_least(1))
            .param(mdlab::path("init", "optional .npy file of initial particles (n x D) used instead of prior draws"))
            .role(mdlab::ParamRole::initial_points)
            .param(mdlab::integer("record_every", 0,
                                  "record the particles every k updates (and the final ones) into "
                                  "<node>.trajectory.npy in the cell folder; frame times are update counts (0: off)")
                       .at_least(0))
            .param(mdlab::real("tau", 0.5, "kernel bandwidth (temperature), in data units").greater_than(0.0))
            .param(mdlab::choice("kernel", "laplace", {"gaussian", "laplace"},
                                 "gaussian: exp(-|x-y|^2 / (2 tau^2)); laplace: exp(-|x-y| / tau)"))
            .param(mdlab::real("eta", 1.0, "step size of the update").greater_than(0.0))
            .param(mdlab::real("tol", 1e-3, "stop when the RMS of |V| over the particles is <= tol").at_least(0.0))
            .param(mdlab::real("prior_scale", 1.0,
                               "standard deviation of the prior draws N(0, prior_scale^2 I) (shared stream sampler/prior)")
                       .greater_than(0.0));
    }

    explicit Drifting(const mdlab::Params& p)
        : n_(p.count("n")), steps_(p.count("steps")), init_(p.string("init")), record_every_(p.count("record_every")),
          tau_(p.real("tau")), kernel_(mdlab::kernels::mean_shift_kernel(p.string("kernel"))), eta_(p.real("eta")),
          tol_(p.real("tol")), prior_scale_(p.real("prior_scale")) {
        // The kernels need 1 / (2 tau^2) finite.
        if (!(tau_ * tau_ >= DBL_MIN))
            throw mdlab::InputError("drifting: tau = " + std::to_string(tau_) + " is too small (tau^2 must be a normal "
                                    "double, tau >= 1.5e-154)", "tau");
    }

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto data = inputs.points("data");
        if (!data) throw mdlab::Error("drifting: input 'data' is null");
        const std::size_t d = mdlab::cols(*data);
        if (mdlab::rows(*data) == 0 || d == 0)
            throw mdlab::InputError("drifting: the data set is empty (" + std::to_string(mdlab::rows(*data)) + " x " +
                                        std::to_string(d) + " points)", "data");
        for (std::size_t k = 0; k < data->size(); ++k)
            if (!std::isfinite(data->data()[k]))
                throw mdlab::InputError("drifting: data point " + std::to_string(k / d) + " is not finite", "data");

        mdlab::Matrix y = initial_points(d, ctx);
        const std::size_t n = mdlab::rows(y), size = n * d;
        const SoftmaxKeys data_keys(*data);
        mdlab::Matrix to_data = mdlab::Matrix::from_shape({n, d}), to_model = mdlab::Matrix::from_shape({n, d});
        mdlab::Matrix v = mdlab::Matrix::from_shape({n, d});

        auto each = [&](auto&& f) { mdlab::for_each_index(size, f); };
        // V at the current particles; returns the RMS of |V| over the particles.
        auto field = [&]() {
            const SoftmaxKeys model_keys(y);
            mdlab::kernels::mean_shift(y, data_keys, kernel_, tau_, to_data);
            mdlab::kernels::mean_shift(y, model_keys, kernel_, tau_, to_model);
            each([&](std::size_t k) { v.data()[k] = to_data.data()[k] - to_model.data()[k]; });
            const double s = mdlab::ordered_sum(size, [&](std::size_t k) { return v.data()[k] * v.data()[k]; });
            return std::sqrt(s / double(n));
        };

        mdlab::Trajectory trajectory(recording_settings(record_every_), steps_);
        trajectory.record(0, 0.0, y);
        std::size_t iterations = 0;
        double evaluations = 0.0, drift = 0.0, initial_drift = 0.0;
        for (;;) {
            if (ctx.cancelled()) throw mdlab::Error("cancelled");
            drift = field();
            evaluations += 1.0;
            if (iterations == 0) initial_drift = drift;
            if (!std::isfinite(drift)) {
                mdlab::check_finite(v, iterations, double(iterations));
                throw mdlab::Error("drifting diverged at update " + std::to_string(iterations) +
                                   ": the drift norm is not finite");
            }
            if (drift <= tol_ || iterations == steps_) break;
            each([&](std::size_t k) { y.data()[k] += eta_ * v.data()[k]; });
            ++iterations;
            mdlab::check_finite(y, iterations - 1, double(iterations));
            trajectory.record(iterations, double(iterations), y);
            ctx.progress(double(iterations) / double(steps_));
        }
        // The final particles, unless already recorded as a multiple of record_every (or as step steps).
        if (trajectory.enabled() && iterations % record_every_ != 0)
            trajectory.record(steps_, double(iterations), y);
        trajectory.save(ctx);
        ctx.progress(1.0);

        return mdlab::SampleResult{std::move(y),
                                   {{"iterations", double(iterations)},
                                    {"final_drift", drift},
                                    {"initial_drift", initial_drift},
                                    {"converged", drift <= tol_ ? 1.0 : 0.0},
                                    {"nfe", evaluations}}};
    }

private:
    // Prior draws from the stream every sampler shares (so drifting starts from the same points
    // as the others when prior_scale equals their prior's standard deviation), or the init file.
    mdlab::Matrix initial_points(std::size_t d, mdlab::Context& ctx) const {
        if (!init_.empty()) {
            mdlab::Matrix x;
            try {
                x = mdlab::npy::read(init_);
            } catch (const mdlab::InputError& e) {
                throw mdlab::InputError(e.what(), "init");
            }
            if (mdlab::cols(x) != d)
                throw mdlab::InputError(init_ + ": initial particles have " + std::to_string(mdlab::cols(x)) +
                                            " columns, the data has dimension " + std::to_string(d), "init");
            if (mdlab::rows(x) == 0) throw mdlab::InputError(init_ + ": the file holds no particles", "init");
            for (std::size_t k = 0; k < x.size(); ++k)
                if (!std::isfinite(x.data()[k]))
                    throw mdlab::InputError(init_ + ": initial particle " + std::to_string(k / d) + " is not finite",
                                            "init");
            return x;
        }
        const mdlab::RandomStream stream = ctx.shared_stream("sampler/prior");
        mdlab::Matrix x = mdlab::Matrix::from_shape({n_, d});
        mdlab::for_chunks(n_, mdlab::random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            mdlab::Rng rng = stream.chunk(c);
            for (std::size_t k = b * d; k < e * d; ++k) x.data()[k] = prior_scale_ * rng.normal();
        });
        return x;
    }

    std::size_t n_, steps_;
    std::string init_;
    std::size_t record_every_;
    double tau_;
    mdlab::kernels::MeanShiftKernel kernel_;
    double eta_, tol_, prior_scale_;
};

}  // namespace

MDLAB_PLUGINS(Drifting)
