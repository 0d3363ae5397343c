// An optional interface for score estimators whose prepare() learns something worth keeping (a
// trained network): they also derive from EstimatorState and write it to a file, which the plugin
// reads back through a parameter of its own (mlp: `state`). Estimators computed from their inputs
// alone do not implement it. A separate class rather than a ScoreEstimator virtual: the
// estimator interface's layout, and so the plugin ABI, stay as they were.
#pragma once
#include <filesystem>

#include "mdlab/abi.hpp"

namespace mdlab {

class MDLAB_VISIBLE EstimatorState {
public:
    virtual ~EstimatorState() = default;
    // Writes the prepared estimator's learnt state to `file`; throws InputError when it cannot.
    virtual void save_state(const std::filesystem::path& file) const = 0;
};

}  // namespace mdlab
