// The sweep expanded into cells. In: the sweep's axes, the pipeline's seed, the nodes as
// validated (their plugins and alternatives) and the parameters every cell starts from. Out: one
// cell per combination of the axes' values (the last axis varies fastest; a zip group is one axis
// whose keys vary together), each with its seed, its assignments in axis order, the alternative
// each node runs and every node's parameters. Paths are resolved afterwards, by the validator.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "mdlab/runtime/pipeline.hpp"
#include "start_params.hpp"

namespace mdlab::runtime {

inline constexpr std::size_t max_sweep_cells = 1000000;

// The number of cells the axes make (1 without axes); nullopt when it exceeds max_sweep_cells.
std::optional<std::size_t> sweep_cell_count(const std::vector<SweepAxis>& axes);

// Expects axes the validator has checked: every key names a node (or is "seed"), every value
// binds to the parameter of each plugin the node can run, and the count fits (else throws Error).
std::vector<Cell> expand_sweep(const std::vector<SweepAxis>& axes, std::uint64_t seed, const ValidatedPipeline& vp,
                               const StartParams& start);

}  // namespace mdlab::runtime
