// What differs between a node's alternatives, shown by `mdlab validate` so that an unfair
// comparison (one variant running with its plugin's defaults where the others do not) is visible
// before anything runs. In: the validated pipeline. Out: per alternatives node, per variant, the
// resolved parameters (defaults, the node's shared params, the variant's own, --set) whose values
// are not the same in every variant, and the inputs when they differ.
#pragma once
#include <string>
#include <vector>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

struct VariantDifferences {
    std::string node;
    std::vector<std::string> labels, plugins;  // by variant
    std::vector<std::string> inputs;           // by variant, "port=node;..."; empty when all are the same
    std::vector<std::string> keys;             // the parameters whose values differ, sorted
    // By variant, by key: the value as text, or "-" where the variant's plugin has no such parameter.
    std::vector<std::vector<std::string>> values;
};

// The resolved parameters of node `node` in the first cell running its variant `variant` (null: no
// cell runs it). Also the run folder's identity (runfolder/run_identity.cpp) takes them from here.
const Params* first_params(const ValidatedPipeline& vp, std::size_t node, std::size_t variant);

// One entry per node with alternatives, in node order. A variant's parameters are those of the
// first cell that runs it (swept keys then hold their first values in every variant alike).
std::vector<VariantDifferences> variant_differences(const ValidatedPipeline& vp);

// The differences as aligned tables, one per node (empty text without alternatives).
std::string variant_differences_text(const std::vector<VariantDifferences>& differences);

}  // namespace mdlab::runtime
