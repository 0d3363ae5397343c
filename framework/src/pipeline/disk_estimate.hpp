// The disk a run will write, estimated before its folder is made, against the free space where
// it goes. In: the validated pipeline and the run folder. Out: nothing, or BadInput (exit 2)
// naming the folder, the estimate and the free space.
#pragma once
#include <cstdint>
#include <filesystem>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

// At least: every cell's record and the .npy file of each data and sampler node with a sample
// count, counted once while its signature repeats from one cell to the next (its output is then
// reused, not written again).
double estimated_run_bytes(const ValidatedPipeline& vp);

// Throws BadInput when estimated_run_bytes exceeds the free space of the folder's file system
// (plus what an earlier run in the folder already holds under cells/, which a resume reuses).
void check_disk_space(const ValidatedPipeline& vp, const std::filesystem::path& folder);

}  // namespace mdlab::runtime
