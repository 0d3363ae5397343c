// Draws x ~ p_t on a grid of times, shared by the score-quality metrics (score_error,
// gradient_error; SCIENCE.md §4): x = alpha(t) x0 + sigma(t) eps with x0 ~ mu_data drawn by the
// manifold and eps ~ N(0, I), both chunk-wise from named streams so the draws are bit-identical
// for any thread count. Also the metrics' common parameters (times, t_min, t_max, spacing, n), the
// time weighting lambda(t) = sigma(t)^2 and an atomic CSV writer for per-time curves.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>
#include <unistd.h>

#include "mdlab/components.hpp"
#include "mdlab/move_into_place.hpp"
#include "mdlab/spec.hpp"
#include "mdlab/time_grid.hpp"

namespace mdlab::noised {

// The shared parameters, appended to a metric's spec.
inline PluginSpec& add_params(PluginSpec& spec, std::int64_t default_n) {
    spec.param(integer("times", 8, "number of times t in the grid the metric averages over").at_least(1).at_most(10000))
        .param(real("t_min", 1e-2, "smallest time of the grid (with times = 1, the only time)").greater_than(0.0))
        .role(ParamRole::process_time)
        .param(real("t_max", 0.0, "largest time of the grid; 0 = the process's end time T").at_least(0.0))
        .role(ParamRole::process_time)
        .param(choice("spacing", "log_snr", {"uniform", "log_snr"},
                      "grid spacing: uniform in t, or uniform in log(alpha^2 / sigma^2)"))
        .param(integer("n", default_n, "draws x ~ p_t per time").at_least(2).at_most(100000000));
    return spec;
}

// The validated shared parameters and the grid they define.
struct Settings {
    std::size_t times = 8, n = 2000;
    double t_min = 1e-2, t_max = 0.0;
    std::string spacing = "log_snr";

    explicit Settings(const Params& p)
        : times(p.count("times")), n(p.count("n")), t_min(p.real("t_min")), t_max(p.real("t_max")),
          spacing(p.string("spacing")) {
        if (times > 1 && t_max != 0.0 && t_max <= t_min)
            throw InputError("t_max (" + std::to_string(t_max) + ") must exceed t_min (" + std::to_string(t_min) +
                                 ") when the grid has more than one time",
                             "t_max");
    }

    // Increasing times from t_min to t_max (T when t_max = 0); {t_min} when times = 1.
    std::vector<double> grid(const ForwardProcess& p) const {
        const double T = p.t_end();
        const double hi = t_max == 0.0 ? T : t_max;
        if (hi > T)
            throw InputError("t_max = " + std::to_string(hi) + " lies beyond the process's end time T = " +
                                 std::to_string(T),
                             "t_max");
        if (t_min > T || (times > 1 && t_min >= hi))
            throw InputError("t_min = " + std::to_string(t_min) + " must lie below t_max = " + std::to_string(hi) +
                                 " (the process ends at T = " + std::to_string(T) + ")",
                             "t_min");
        if (times == 1) return {t_min};
        // time_grid() spans [t_min, T]; a window of the process with end time `hi` reuses it for
        // [t_min, hi] (uniform and log-SNR spacing only need alpha and sigma).
        struct Window : ForwardProcess {
            const ForwardProcess& p;
            double end;
            Window(const ForwardProcess& p_, double e) : p(p_), end(e) {}
            double t_end() const override { return end; }
            double alpha(double t) const override { return p.alpha(t); }
            double sigma(double t) const override { return p.sigma(t); }
            double dlog_alpha_dt(double t) const override { return p.dlog_alpha_dt(t); }
            double dsigma_dt(double t) const override { return p.dsigma_dt(t); }
        } window(p, hi);
        std::vector<double> t = time_grid(window, spacing, times - 1, t_min);
        return std::vector<double>(t.rbegin(), t.rend());
    }
};

// n draws of p_t: x0 ~ mu_data from the stream's child "x0" (manifold->sample, chunked), then
// x = alpha x0 + sigma eps with eps from the child "eps", one generator per chunk of rows.
inline Matrix draw(const Manifold& manifold, const ForwardProcess& process, double t, std::size_t n,
                   const RandomStream& stream) {
    Matrix x = manifold.sample(n, stream.child("x0"));
    return process.perturb(x, t, stream.child("eps"));
}

// The stream of the draws at grid time number i (one sub-stream per time).
inline RandomStream time_stream(const RandomStream& base, std::size_t i) {
    return base.child("time/" + std::to_string(i));
}

// Time weighting of the averages: lambda(t) = sigma(t)^2, the denoising-score-matching weight
// (it makes lambda |s|^2 of order D at every t).
inline double lambda(const ForwardProcess& p, double t) {
    const double s = p.sigma(t);
    return s * s;
}

// Checks that an estimator lives in the manifold's dimension and (for a second estimator)
// shares the reference estimator's alpha and sigma on the grid; wrong wiring is an input error
// naming the port.
inline void check_estimator(const ScoreEstimator& est, const std::string& port, const Manifold& manifold,
                            const std::string& metric) {
    if (est.dim() != manifold.ambient_dim())
        throw InputError(metric + ": the estimator on '" + port + "' works in R^" + std::to_string(est.dim()) +
                             " but the manifold lives in R^" + std::to_string(manifold.ambient_dim()),
                         port);
}
inline void check_same_process(const ScoreEstimator& ref, const ScoreEstimator& other, const std::string& port,
                               const std::vector<double>& times, const std::string& metric) {
    for (double t : times) {
        const double a0 = ref.process().alpha(t), a1 = other.process().alpha(t);
        const double s0 = ref.process().sigma(t), s1 = other.process().sigma(t);
        auto close = [](double u, double v) { return std::abs(u - v) <= 1e-12 * std::max({1.0, std::abs(u), std::abs(v)}); };
        if (!close(a0, a1) || !close(s0, s1))
            throw InputError(metric + ": the estimator on '" + port + "' uses another forward process than 'score' (at t = " +
                                 std::to_string(t) + ": alpha " + std::to_string(a1) + " vs " + std::to_string(a0) +
                                 ", sigma " + std::to_string(s1) + " vs " + std::to_string(s0) + ")",
                             port);
    }
}

// Fails when an estimator returned a non-finite score.
inline void check_finite(const Matrix& s, const std::string& port, double t, const std::string& metric) {
    for (std::size_t k = 0; k < s.size(); ++k)
        if (!std::isfinite(s.data()[k]))
            throw Error(metric + ": the estimator on '" + port + "' returned a non-finite score at t = " +
                        std::to_string(t) + " (row " + std::to_string(k / cols(s)) + ")");
}

// Writes a CSV table (header line, then rows of numbers printed round-trip exactly) via a
// temporary file renamed into place, so readers never see a half-written file.
inline void write_csv(const std::filesystem::path& file, const std::vector<std::string>& header,
                      const std::vector<std::vector<double>>& table) {
    const auto tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (!out) throw Error(file.string() + ": cannot open for writing");
        for (std::size_t j = 0; j < header.size(); ++j) out << (j ? "," : "") << header[j];
        out << '\n';
        char buf[40];
        for (const auto& r : table) {
            for (std::size_t j = 0; j < r.size(); ++j) {
                std::snprintf(buf, sizeof buf, "%.17g", r[j]);
                out << (j ? "," : "") << buf;
            }
            out << '\n';
        }
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw Error(file.string() + ": write failed (disk full?)");
        }
    }
    move_into_place(tmp, file);
}

}  // namespace mdlab::noised
