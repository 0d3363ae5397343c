// The base of time-grid score samplers, in the spirit of GNU Radio's *_impl blocks: the base owns
// the skeleton (score estimator and its process, time grid T = t_0 > ... > t_N = t_min, initial
// points, the loop with cancel, finite check, trajectory frames and progress, the optional
// Tweedie finish, the result); a sampler writes only its step and the state the step keeps.
//
//   class MySampler : public mdlab::GridSampler<MySampler> {
//   public:
//       static mdlab::PluginSpec describe();   // return mdlab::sampler_spec(name, version, summary, steps)
//       using GridSampler::GridSampler;        // or a constructor reading its own parameters
//       struct State {                         // scratch and memory kept between steps
//           State(const MySampler&, const mdlab::SamplerRun& run);
//       };
//       void step(mdlab::SamplerRun& run, State& state, std::size_t i) const;  // run.x: t_i -> t_{i+1}
//   };
//
// Optional members, found when present:
//   void Impl::prepare(SamplerRun&) const      checks before the loop (after the initial points)
//   static constexpr bool Impl::on_levels      true: steps + 1 steps at t_0 .. t_N, step i at t_i
//                                              and its frame at t_i (annealed Langevin)
//   const Matrix& State::frame(SamplerRun&, std::size_t step)  the trajectory frame when run.x is
//                                              not the sample itself (a scaled variable)
//   void State::finish(SamplerRun&)            turns run.x into the sample after the last step
// Not included by mdlab.hpp: only samplers need it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mdlab/brownian_tree.hpp"
#include "mdlab/mdlab.hpp"
#include "mdlab/sampling.hpp"

namespace mdlab {

// A sampler's spec with the common parameters and the `score` input (SamplerSettings::declare).
inline PluginSpec sampler_spec(std::string name, std::string version, std::string summary, std::int64_t default_steps) {
    PluginSpec spec(std::move(name), std::move(version), std::move(summary));
    SamplerSettings::declare(spec, default_steps);
    return spec;
}

// One sampling run: what a step reads (estimator, process, grid, context) and the points x it
// moves, with the score evaluations counted.
class SamplerRun {
public:
    // The grid is built before the initial points are read (its errors come first); an adaptive
    // sampler passes on_grid = false and leaves t empty.
    SamplerRun(const SamplerSettings& s, const Inputs& inputs, Context& c, bool on_grid = true)
        : settings(s),
          owner_(inputs.estimator("score")),
          est(*owner_),
          process(est.process()),
          ctx(c),
          t(on_grid ? s.times(process) : (s.check_t_min(process), std::vector<double>{})),
          x(s.initial_points(est, c, t.empty() ? process.t_end() : t.front())),
          n(rows(x)),
          d(cols(x)) {}

    const SamplerSettings& settings;

private:
    std::shared_ptr<const ScoreEstimator> owner_;

public:
    const ScoreEstimator& est;
    const ForwardProcess& process;
    Context& ctx;
    // The time grid, t[0] = T down to t[steps] = t_min (or a given list). A sampler's prepare may
    // move its interior times, never its ends (the velocity samplers' shift).
    std::vector<double> t;
    Matrix x;                     // the state the steps move; the sample once the run finishes
    const std::size_t n, d;
    double score_evals = 0.0;

    // A scratch matrix the shape of x.
    Matrix matrix() const { return Matrix::from_shape({n, d}); }
    // The noise stream shared by all samplers of a pipeline under this name.
    RandomStream noise(std::string_view name = "sampler/noise") const { return ctx.shared_stream(name); }
    // Whether step i is the last of the grid (stochastic samplers take no noise there).
    bool last(std::size_t i) const { return i + 1 == settings.steps; }
    // z ~ N(0, I): the Brownian noise of step i, from t[i] to t[i + 1], drawn from `stream`
    // (run.noise()); every SDE sampler draws its step noise here. noise = "independent" (the
    // default): independent draws per step, mdlab::step_noise(stream, i, z). noise = "brownian"
    // (a sampler that declares noise_param()): (W(t_i) - W(t_{i+1})) / sqrt(t_i - t_{i+1}) of the
    // path on [0, T] keyed by `stream`, so runs with any step count follow one path.
    void step_noise(const RandomStream& stream, std::size_t i, Matrix& z) const {
        if (!settings.brownian()) return mdlab::step_noise(stream, i, z);
        if (i + 1 >= t.size())
            throw Error("noise \"brownian\": step " + std::to_string(i) + " has no interval on the time grid of " +
                        std::to_string(t.size()) + " times");
        brownian_.draw(stream, process.t_end(), t[i], t[i + 1], z);
    }

    void score(const Matrix& at, double time, Matrix& out) {
        est.score(at, time, out);
        score_evals += 1.0;
    }
    void denoise(const Matrix& at, double time, Matrix& out) {
        est.denoise(at, time, out);
        score_evals += 1.0;
    }
    // Elementwise loops over all n x D values, chunked for the thread pool (no reductions).
    template <class F>
    void each(F&& f) const {
        for_each_index(n * d, f);
    }
    void check_cancelled() const {
        if (ctx.cancelled()) throw Error("cancelled");
    }

    // Saves the trajectory, applies the optional Tweedie step and returns x with nfe and steps.
    SampleResult finish(const Trajectory& trajectory, double steps) {
        trajectory.save(ctx);
        settings.finish(x, est, score_evals, t.empty() ? settings.t_min : t.back());
        return SampleResult{std::move(x), {{"nfe", score_evals}, {"steps", steps}}};
    }

private:
    mutable BrownianIncrements brownian_;  // noise = "brownian": the path and W at the last step's end
};

// Which optional members a sampler has (C++17 detection).
namespace grid_detail {
template <class T, class = void>
struct has_prepare : std::false_type {};
template <class T>
struct has_prepare<T, std::void_t<decltype(std::declval<const T&>().prepare(std::declval<SamplerRun&>()))>>
    : std::true_type {};
template <class T, class = void>
struct has_frame : std::false_type {};
template <class T>
struct has_frame<T, std::void_t<decltype(std::declval<T&>().frame(std::declval<SamplerRun&>(), std::size_t{}))>>
    : std::true_type {};
template <class T, class = void>
struct has_finish : std::false_type {};
template <class T>
struct has_finish<T, std::void_t<decltype(std::declval<T&>().finish(std::declval<SamplerRun&>()))>> : std::true_type {};
template <class T, class = void>
struct on_levels : std::false_type {};
template <class T>
struct on_levels<T, std::void_t<decltype(T::on_levels)>> : std::bool_constant<T::on_levels> {};
}  // namespace grid_detail

template <class Impl>
class GridSampler : public Sampler {
public:
    explicit GridSampler(const Params& p) : settings_(p) {}

    SampleResult sample(const Inputs& inputs, Context& ctx) const final {
        const Impl& impl = static_cast<const Impl&>(*this);
        SamplerRun run(settings_, inputs, ctx);
        if constexpr (grid_detail::has_prepare<Impl>::value) impl.prepare(run);
        using State = typename Impl::State;
        State state(impl, run);

        const std::size_t count = on_levels() ? settings_.steps + 1 : settings_.steps;
        // Time of frame f (frame 0: the initial points; frame i + 1: after step i).
        auto frame_time = [&](std::size_t f) { return run.t[on_levels() && f > 0 ? f - 1 : f]; };
        Trajectory trajectory(settings_, count);
        auto record = [&](std::size_t f) {
            if (!trajectory.wants(f)) return;
            if constexpr (grid_detail::has_frame<State>::value)
                trajectory.record(f, frame_time(f), state.frame(run, f));
            else
                trajectory.record(f, frame_time(f), run.x);
        };
        record(0);

        for (std::size_t i = 0; i < count; ++i) {
            run.check_cancelled();
            impl.step(run, state, i);
            check_finite(run.x, i, frame_time(i + 1));
            record(i + 1);
            ctx.progress(double(i + 1) / double(count));
        }
        if constexpr (grid_detail::has_finish<State>::value) state.finish(run);
        return run.finish(trajectory, double(settings_.steps));
    }

protected:
    const SamplerSettings& settings() const { return settings_; }

private:
    static constexpr bool on_levels() { return grid_detail::on_levels<Impl>::value; }

    SamplerSettings settings_;
};

// State for samplers that integrate the probability-flow ODE in xh = x / alpha(t) (pf_ode_euler,
// pf_ode_heun): run.x holds xh during the loop; frames and the sample are x = alpha(t) xh. The
// initial points are kept so that frame 0 is exactly them.
class ScaledState {
public:
    explicit ScaledState(SamplerRun& run) : x_(run.x) {
        const double a = run.process.alpha(run.t[0]);
        run.each([&](std::size_t k) { run.x.data()[k] /= a; });
    }
    const Matrix& frame(SamplerRun& run, std::size_t step) {
        if (step > 0) {
            const double a = run.process.alpha(run.t[step]);
            run.each([&](std::size_t k) { x_.data()[k] = a * run.x.data()[k]; });
        }
        return x_;
    }
    void finish(SamplerRun& run) {
        const double a = run.process.alpha(run.t.back());
        run.each([&](std::size_t k) { run.x.data()[k] *= a; });
    }

private:
    Matrix x_;  // frames in the original variable
};

}  // namespace mdlab
