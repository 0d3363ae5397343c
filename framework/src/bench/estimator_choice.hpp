// The estimator a bench workload times, checked against what the workload can connect
// (training points, the VP process, the circle, the queries as `model` samples), with its
// parameters bound from its defaults, --bandwidth, --precision and --param.
#pragma once
#include <string>
#include <vector>

#include "bench_input.hpp"
#include "mdlab/runtime/bench.hpp"

namespace mdlab::runtime::bench {

struct EstimatorChoice {
    const PluginRecord* rec = nullptr;
    std::vector<Setting> settings;  // which option set which parameter (for messages)
    Params params;
    std::string precision;          // the precision the estimator computes in
    bool wants_model = false;       // attends over the queries as `model` samples (drift)
};

// `command` names the command in messages ("bench score", "bench run").
EstimatorChoice choose_estimator(const BenchWorkload& workload, const Registry& registry, const std::string& command);

// The figures' account of the workload and the estimator (threads, path and times left to fill).
BenchSetup setup_of(const BenchWorkload& workload, const EstimatorChoice& choice);

}  // namespace mdlab::runtime::bench
