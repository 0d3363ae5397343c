// The time range of the forward processes a node works on, so that a time given to it (a
// sampler's t_min, a metric's grid, `mdlab score --t`) is checked against (0, T] before anything
// runs, not discovered by a plugin mid-run or not at all.
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

struct ProcessRange {
    std::string node;    // the process node's id
    std::string plugin;  // its plugin
    double t_end = 0.0;  // T: times lie in (0, T]
};

// The process nodes node `node` works on in sweep cell `cell` (those upstream of it through its
// inputs, and the node itself if it is one), each constructed with its parameters in the cell for
// its end time. Throws the plugin's error when a process cannot be constructed.
std::vector<ProcessRange> process_ranges(const ValidatedPipeline& vp, const Registry& registry, std::size_t cell,
                                         std::size_t node);

// "(0, 1]": the range as the messages print it.
std::string range_text(const ProcessRange& range);

}  // namespace mdlab::runtime
