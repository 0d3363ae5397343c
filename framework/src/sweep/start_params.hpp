// The parameters every sweep cell starts from, before the sweep's axes are applied: each node's
// defaults, the file's values and the --set overrides, and for a node with alternatives, each
// alternative's.
#pragma once
#include <vector>

#include <mdlab/params.hpp>

namespace mdlab::runtime {

struct StartParams {
    std::vector<Params> nodes;                      // by node index: the node as declared
    std::vector<std::vector<Params>> alternatives;  // by node index, by alternative (empty: none)
};

}  // namespace mdlab::runtime
