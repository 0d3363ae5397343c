// Adaptive Dormand-Prince 5(4) (Dormand & Prince 1980, "A family of embedded Runge-Kutta
// formulae", J. Comp. Appl. Math. 6; the DOPRI5 of Hairer, Norsett & Wanner, Solving ODEs I,
// section II.5) on the probability-flow ODE dx/dt = f - g^2 s / 2 (SCIENCE.md section 3).
//
// Variables. The state is xh = x / alpha(t) and the independent variable is
// u = log lambda, lambda = sigma(t) / alpha(t) (the noise-to-signal ratio; -u is half the log-SNR,
// the time variable of DPM-Solver). From the scaled ODE of pf_ode_heun.cpp,
// d xh / d lambda = -sigma s = (xh - D) / lambda, so
//   d xh / du = -lambda sigma(t) s(alpha(t) xh, t) = xh - D(x, t),   t = t(lambda = e^u),
// evaluated in the first form (no cancellation in xh - D at small lambda). This is where the
// flow is smoothest: for Gaussian data N(0, s0^2 I) the rate is lambda^2 / (s0^2 + lambda^2) in
// [0, 1], so the solution is as smooth over the whole range as it is near the data scale, and
// small lambda (where the empirical score's posterior collapses onto training points at a rate
// proportional to lambda) costs a fixed number of steps per decade instead of steps of size
// ~lambda. Measured against lambda as the variable (VP and VE, rtol = atol from 1e-2 to 1e-8):
// on the empirical score log lambda needed fewer evaluations at every tolerance (VP: 140 against
// 236 at 1e-5); on the exact Gaussian score about as many, with the final error within 7
// tolerances at every tolerance, where lambda let one huge last step through with an error of
// 350 tolerances at 1e-3.
// t(lambda) is found by bisection to full precision (lambda increases with t); the ends map to
// T and t_min exactly.
//
// Step (u decreasing, h < 0), FSAL: the seventh stage, evaluated at the new point, is the
// first stage of the next step. The 5th-order solution is propagated (local extrapolation);
// the difference to the embedded 4th-order one is the error estimate
//   err = h sum_i E_i k_i,   E = b - b_hat.
// Error norm as scipy's solve_ivp (RK45) on the flattened batch: the RMS over all n x D
// coordinates of err / (atol + rtol max(|xh_old|, |xh_new|)), one shared step size for the
// whole batch (so every sample is integrated on the same grid of u, deterministically).
// Controller (Hairer I, II.4): accept when the norm is < 1; the next step is
// h * min(10, 0.9 norm^(-1/5)), after a rejection h * max(0.2, 0.9 norm^(-1/5)), and no growth
// on the step accepted right after a rejection (as scipy). The initial step is chosen by the
// heuristic of Hairer I, II.4 (scipy's select_initial_step), which costs one score evaluation.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <mdlab/grid_sampler.hpp>

namespace {

// Dormand-Prince 5(4) tableau. Nodes c_i, coefficients a_ij, 5th-order weights b_i (= row 7
// of a: FSAL) and the error weights E_i = b_i - b_hat_i with the 4th-order weights
// b_hat = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40).
constexpr double C2 = 1.0 / 5.0, C3 = 3.0 / 10.0, C4 = 4.0 / 5.0, C5 = 8.0 / 9.0;
constexpr double A21 = 1.0 / 5.0;
constexpr double A31 = 3.0 / 40.0, A32 = 9.0 / 40.0;
constexpr double A41 = 44.0 / 45.0, A42 = -56.0 / 15.0, A43 = 32.0 / 9.0;
constexpr double A51 = 19372.0 / 6561.0, A52 = -25360.0 / 2187.0, A53 = 64448.0 / 6561.0, A54 = -212.0 / 729.0;
constexpr double A61 = 9017.0 / 3168.0, A62 = -355.0 / 33.0, A63 = 46732.0 / 5247.0, A64 = 49.0 / 176.0,
                 A65 = -5103.0 / 18656.0;
constexpr double B1 = 35.0 / 384.0, B3 = 500.0 / 1113.0, B4 = 125.0 / 192.0, B5 = -2187.0 / 6784.0, B6 = 11.0 / 84.0;
constexpr double E1 = 71.0 / 57600.0, E3 = -71.0 / 16695.0, E4 = 71.0 / 1920.0, E5 = -17253.0 / 339200.0,
                 E6 = 22.0 / 525.0, E7 = -1.0 / 40.0;

// Step-size controller (safety factor, bounds of the step ratio, exponent 1 / (4 + 1)).
constexpr double safety = 0.9, min_factor = 0.2, max_factor = 10.0, exponent = 1.0 / 5.0;

// Elementwise loops over all values (mdlab::for_each_index: no reductions, deterministic).
template <class F>
void each(std::size_t size, F&& f) {
    mdlab::for_each_index(size, std::forward<F>(f));
}

// out = y + h sum_j c_j k_j over the given stages, summed in a fixed order.
template <std::size_t M>
void combine(mdlab::Matrix& out, const mdlab::Matrix& y, double h, const double (&c)[M],
             const mdlab::Matrix* const (&k)[M]) {
    const double* yd = y.data();
    double* od = out.data();
    each(y.size(), [&](std::size_t q) {
        double s = 0.0;
        for (std::size_t j = 0; j < M; ++j) s += c[j] * k[j]->data()[q];
        od[q] = yd[q] + h * s;
    });
}

// The probability-flow ODE in (u = log lambda, xh = x / alpha).
class Flow {
public:
    Flow(const mdlab::ScoreEstimator& est, double t_min)
        : est_(est), p_(est.process()), t_min_(t_min), t_max_(p_.t_end()), u_min_(std::log(nsr(t_min))),
          u_max_(std::log(nsr(t_max_))) {}

    double nsr(double t) const { return p_.sigma(t) / p_.alpha(t); }
    double u_min() const { return u_min_; }
    double u_max() const { return u_max_; }

    double time_at(double u) const {
        if (u >= u_max_) return t_max_;
        if (u <= u_min_) return t_min_;
        // Bisection down to adjacent doubles (mdlab::invert_increasing stops at an absolute 1e-15,
        // which is a relative 1e-12 at t = 1e-3, visible in the error estimate's cancellation).
        const double lambda = std::exp(u);
        double lo = t_min_, hi = t_max_;
        for (int it = 0; it < 2000; ++it) {
            const double mid = lo + 0.5 * (hi - lo);
            if (!(mid > lo && mid < hi)) break;
            (nsr(mid) < lambda ? lo : hi) = mid;
        }
        return std::abs(nsr(lo) - lambda) <= std::abs(nsr(hi) - lambda) ? lo : hi;
    }

    // out = d xh / du = -lambda sigma(t) s(alpha(t) xh, t) at lambda = e^u, t = t(lambda); arg is scratch.
    void slope(double u, const mdlab::Matrix& xh, mdlab::Matrix& arg, mdlab::Matrix& out) {
        const double t = time_at(u), a = p_.alpha(t), c = -std::exp(u) * p_.sigma(t);
        each(xh.size(), [&](std::size_t k) { arg.data()[k] = a * xh.data()[k]; });
        est_.score(arg, t, out);
        each(out.size(), [&](std::size_t k) { out.data()[k] *= c; });
        evaluations += 1.0;
    }

    double evaluations = 0.0;  // batched score calls (= score evaluations per sample)

private:
    const mdlab::ScoreEstimator& est_;
    const mdlab::ForwardProcess& p_;
    double t_min_, t_max_, u_min_, u_max_;
};

// RMS over all values of v_k / (atol + rtol max(|a_k|, |b_k|)); chunked sum in a fixed order.
template <class V>
double rms_scaled(std::size_t size, V&& v, const mdlab::Matrix& a, const mdlab::Matrix& b, double atol, double rtol) {
    const double sum = mdlab::ordered_sum(size, [&](std::size_t k) {
        const double sc = atol + rtol * std::max(std::abs(a.data()[k]), std::abs(b.data()[k]));
        const double r = v(k) / sc;
        return r * r;
    });
    return std::sqrt(sum / double(size));
}

class Rk45 : public mdlab::Sampler {
public:
    static mdlab::PluginSpec describe() {
        mdlab::PluginSpec spec = mdlab::sampler_spec(
            "rk45", "1.0.0",
            "adaptive Dormand-Prince 5(4) on the probability-flow ODE in x/alpha against log(sigma/alpha) "
            "(rtol/atol error control, one step size for the batch)",
            10000);
        for (auto& p : spec.params) {
            if (p.key == "steps")
                p.doc = "maximum number of accepted steps (the solver fails with an error beyond it)";
            else if (p.key == "grid")
                p.doc = "ignored: rk45 chooses its steps adaptively (accepted for pipelines that set it for every "
                        "sampler); given is refused";
            else if (p.key == "rho" || p.key == "sigmas" || p.key == "times" || p.key == "sigmas_file" ||
                     p.key == "times_file")
                p.doc = "ignored (see grid)";
            else if (p.key == "record_every")
                p.doc = "record the state every k accepted steps (and the final state) into <node>.trajectory.npy "
                        "in the cell folder (0: off)";
        }
        spec.param(mdlab::real("rtol", 1e-5, "relative tolerance of the local error (on x/alpha)").at_least(0.0))
            .param(mdlab::real("atol", 1e-5, "absolute tolerance of the local error (on x/alpha)").greater_than(0.0));
        return spec;
    }

    explicit Rk45(const mdlab::Params& p) : settings_(without_given_grid(p)), rtol_(p.real("rtol")), atol_(p.real("atol")) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        mdlab::SamplerRun run(settings_, inputs, ctx, /*on_grid=*/false);
        const mdlab::ForwardProcess& process = run.process;
        const double T = process.t_end(), t_min = settings_.t_min;
        const std::size_t max_steps = settings_.steps;
        mdlab::Matrix& x = run.x;
        const std::size_t size = run.n * run.d;
        Flow flow(run.est, t_min);
        const double u_min = flow.u_min(), u_max = flow.u_max();
        if (!(u_max > u_min) || !std::isfinite(u_max) || !std::isfinite(u_min))
            throw mdlab::Error("rk45: sigma/alpha must increase from t_min to T and be positive and finite (got " +
                               std::to_string(flow.nsr(t_min)) + " at t_min, " + std::to_string(flow.nsr(T)) + " at T)");

        auto shape = [&] { return run.matrix(); };
        mdlab::Matrix y = x / process.alpha(T);  // xh at u_max
        mdlab::Matrix y_new = shape(), arg = shape(), stage = shape();
        std::vector<mdlab::Matrix> k(7);
        for (auto& m : k) m = shape();

        mdlab::Trajectory trajectory(settings_, max_steps);
        trajectory.record(0, T, x);

        double u = u_max;
        flow.slope(u, y, arg, k[0]);
        double h_abs = initial_step(flow, u, y, k[0], stage, arg, k[1], u_max - u_min);

        std::size_t accepted = 0, rejected = 0;
        const double range = u_max - u_min;
        while (u > u_min) {
            run.check_cancelled();
            if (accepted >= max_steps)
                throw mdlab::InputError("rk45 needed more than steps = " + std::to_string(max_steps) +
                                            " accepted steps to reach t_min (at t = " + std::to_string(flow.time_at(u)) +
                                            "): raise steps or loosen rtol/atol", "steps");
            bool step_rejected = false;
            for (;;) {
                // Smallest step that still moves u meaningfully (10 ulps, as scipy's rule, of max(|u|, 1)).
                const double min_step = 10.0 * std::numeric_limits<double>::epsilon() * std::max(std::abs(u), 1.0);
                if (h_abs < min_step)
                    throw mdlab::Error("rk45: step size underflow at t = " + std::to_string(flow.time_at(u)) +
                                       " (the score is too stiff for rtol = " + std::to_string(rtol_) +
                                       ", atol = " + std::to_string(atol_) + ")");
                const bool last = h_abs >= u - u_min;
                if (last) h_abs = u - u_min;
                const double h = -h_abs;
                const double u_new = last ? u_min : u + h;

                {
                    const double c[] = {A21};
                    const mdlab::Matrix* const s[] = {&k[0]};
                    combine(stage, y, h, c, s);
                    flow.slope(u + C2 * h, stage, arg, k[1]);
                }
                {
                    const double c[] = {A31, A32};
                    const mdlab::Matrix* const s[] = {&k[0], &k[1]};
                    combine(stage, y, h, c, s);
                    flow.slope(u + C3 * h, stage, arg, k[2]);
                }
                {
                    const double c[] = {A41, A42, A43};
                    const mdlab::Matrix* const s[] = {&k[0], &k[1], &k[2]};
                    combine(stage, y, h, c, s);
                    flow.slope(u + C4 * h, stage, arg, k[3]);
                }
                {
                    const double c[] = {A51, A52, A53, A54};
                    const mdlab::Matrix* const s[] = {&k[0], &k[1], &k[2], &k[3]};
                    combine(stage, y, h, c, s);
                    flow.slope(u + C5 * h, stage, arg, k[4]);
                }
                {
                    const double c[] = {A61, A62, A63, A64, A65};
                    const mdlab::Matrix* const s[] = {&k[0], &k[1], &k[2], &k[3], &k[4]};
                    combine(stage, y, h, c, s);
                    flow.slope(u_new, stage, arg, k[5]);
                }
                {
                    const double c[] = {B1, B3, B4, B5, B6};
                    const mdlab::Matrix* const s[] = {&k[0], &k[2], &k[3], &k[4], &k[5]};
                    combine(y_new, y, h, c, s);
                    flow.slope(u_new, y_new, arg, k[6]);  // FSAL: the next step's first stage
                }
                const double norm = rms_scaled(
                    size,
                    [&](std::size_t q) {
                        return h * (E1 * k[0].data()[q] + E3 * k[2].data()[q] + E4 * k[3].data()[q] +
                                    E5 * k[4].data()[q] + E6 * k[5].data()[q] + E7 * k[6].data()[q]);
                    },
                    y, y_new, atol_, rtol_);
                if (!std::isfinite(norm)) {
                    const double t_new = flow.time_at(u_new);
                    mdlab::check_finite(y_new, accepted, t_new);
                    mdlab::check_finite(k[6], accepted, t_new);
                    throw mdlab::Error("sampler diverged at step " + std::to_string(accepted) + " (t = " +
                                       std::to_string(t_new) + "): the error estimate is not finite");
                }

                if (norm < 1.0) {
                    double factor = norm == 0.0 ? max_factor : std::min(max_factor, safety * std::pow(norm, -exponent));
                    if (step_rejected) factor = std::min(1.0, factor);
                    h_abs *= factor;
                    u = u_new;
                    std::swap(y, y_new);
                    std::swap(k[0], k[6]);
                    ++accepted;
                    const double t_now = flow.time_at(u);
                    mdlab::check_finite(y, accepted - 1, t_now);
                    if (trajectory.enabled()) {
                        const double a = process.alpha(t_now);
                        each(size, [&](std::size_t q) { stage.data()[q] = a * y.data()[q]; });
                        // The final state is passed as step max_steps, which Trajectory always records.
                        trajectory.record(u <= u_min ? max_steps : accepted, t_now, stage);
                    }
                    ctx.progress(u <= u_min ? 1.0 : (u_max - u) / range);
                    break;
                }
                h_abs *= std::max(min_factor, safety * std::pow(norm, -exponent));
                step_rejected = true;
                ++rejected;
                run.check_cancelled();
            }
        }

        const double a_end = process.alpha(t_min);
        each(size, [&](std::size_t q) { x.data()[q] = a_end * y.data()[q]; });
        run.score_evals = flow.evaluations;
        mdlab::SampleResult result = run.finish(trajectory, double(accepted));
        result.stats.emplace_back("rejected", double(rejected));
        return result;
    }

private:
    // A given list would be dropped silently: its times are not where rk45 steps.
    static const mdlab::Params& without_given_grid(const mdlab::Params& p) {
        if (p.string("grid") == "given")
            throw mdlab::InputError("rk45 chooses its steps adaptively and cannot follow a given grid: use a fixed-step "
                                    "sampler (pf_ode_heun, dpmpp_2m, ...) for it, or set t_min for rk45's end time",
                                    "grid");
        return p;
    }

    // Initial |h| by Hairer, Norsett & Wanner I, II.4 (as scipy's select_initial_step, with the
    // error estimator's order 4): h0 = 0.01 |y0| / |f0| in the scaled RMS norm, one explicit Euler
    // trial step to estimate the second derivative, h1 = (0.01 / max(|f0|, |f'|))^(1/5);
    // h = min(100 h0, h1, interval).
    double initial_step(Flow& flow, double u, const mdlab::Matrix& y0, const mdlab::Matrix& f0, mdlab::Matrix& y1,
                        mdlab::Matrix& arg, mdlab::Matrix& f1, double interval) const {
        const std::size_t size = y0.size();
        const double d0 = rms_scaled(size, [&](std::size_t q) { return y0.data()[q]; }, y0, y0, atol_, rtol_);
        const double d1 = rms_scaled(size, [&](std::size_t q) { return f0.data()[q]; }, y0, y0, atol_, rtol_);
        double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
        h0 = std::min(h0, interval);
        each(size, [&](std::size_t q) { y1.data()[q] = y0.data()[q] - h0 * f0.data()[q]; });
        flow.slope(u - h0, y1, arg, f1);
        const double d2 =
            rms_scaled(size, [&](std::size_t q) { return f1.data()[q] - f0.data()[q]; }, y0, y0, atol_, rtol_) / h0;
        const double h1 = (d1 <= 1e-15 && d2 <= 1e-15) ? std::max(1e-6, h0 * 1e-3)
                                                       : std::pow(0.01 / std::max(d1, d2), exponent);
        const double h = std::min({100.0 * h0, h1, interval});
        if (!std::isfinite(h)) throw mdlab::Error("rk45: the score is not finite at T (initial step size undefined)");
        return h;
    }

    mdlab::SamplerSettings settings_;
    double rtol_, atol_;
};

}  // namespace

MDLAB_PLUGINS(Rk45)
