// The small sweeps the report tests run: circle data at 4 training sizes x 2 seeds, the exact
// empirical score sampled two ways, three metric nodes, and (optionally) declared rates; and
// three samplers compared over step counts.
#pragma once
#include <string>

namespace mdlab::test {

inline std::string report_sweep_pipeline(bool declare_rates) {
    std::string text = R"({
  "name": "report_sweep", "description": "training size sweep & <report> test", "seed": 11,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 3}},
    {"id": "train", "plugin": "sample", "params": {"n": 50}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "sde", "plugin": "euler_maruyama", "params": {"n": 150, "steps": 20, "t_min": 0.01}, "inputs": {"score": "score"}},
    {"id": "ode", "plugin": "pf_ode_heun", "params": {"n": 150, "steps": 10}, "inputs": {"score": "score"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "sde", "manifold": "circle"}},
    {"id": "mem", "plugin": "memorization", "inputs": {"samples": "sde", "data": "train", "manifold": "circle"}},
    {"id": "dist_ode", "plugin": "manifold_distance", "inputs": {"samples": "ode", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"train.n": [50, 100, 200, 400], "seed": [1, 2]}})";
    if (declare_rates)
        text += R"(,
  "rates": [{"metric": "mem.mean_d1", "over": "train.n", "reference": {"linear": 1.0}},
            {"metric": "dist.mean", "over": "train.n"}])";
    return text + "\n}\n";
}

// The newcomer's comparison in small: three samplers (alternatives of `gen`) x 4 step counts x
// 3 seeds on circle data, measured by wasserstein (which reports a fresh-sample baseline) and
// manifold_distance. `extra`: more top-level members, e.g. a "plots" section.
inline std::string report_alternatives_pipeline(const std::string& extra = {}) {
    return R"({
  "name": "samplers_by_steps", "seed": 5,
  "nodes": [
    {"id": "circle", "plugin": "circle", "params": {"ambient_dim": 2}},
    {"id": "train", "plugin": "sample", "params": {"n": 100}, "inputs": {"manifold": "circle"}},
    {"id": "vp", "plugin": "vp"},
    {"id": "score", "plugin": "empirical", "inputs": {"data": "train", "process": "vp"}},
    {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 100}, "inputs": {"score": "score"}},
    {"id": "w", "plugin": "wasserstein", "inputs": {"samples": "gen", "manifold": "circle"}},
    {"id": "dist", "plugin": "manifold_distance", "inputs": {"samples": "gen", "manifold": "circle"}}
  ],
  "sweep": {"grid": {"gen.steps": [5, 10, 20, 40], "seed": [1, 2, 3]},
            "alternatives": {"gen": [{"plugin": "euler_maruyama", "params": {"n": 100}},
                                     {"plugin": "pf_ode_heun", "params": {"n": 100}},
                                     {"plugin": "ddim", "params": {"n": 100}}]}})" +
           (extra.empty() ? "" : ",\n  " + extra) + "\n}\n";
}

}  // namespace mdlab::test
