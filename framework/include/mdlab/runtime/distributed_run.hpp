// A sweep shared among the ranks of an MPI job (builds with MPI only). Rank 0 hands out the
// cells one at a time to whichever rank asks next (dynamic load balancing: cells differ widely
// in cost), runs cells itself on a second thread meanwhile, and writes every cell's outcome and
// files into the one run folder as they arrive. The other ranks run serve_cells().
#pragma once
#include <atomic>

#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/mpi_world.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::runtime {

// Rank 0. Cells that `dir` already holds as finished (resume) are not handed out. Stops handing
// out cells once `cancel` is set.
RunOutcome execute_distributed(const ValidatedPipeline& pipeline, const Registry& registry, RunDirectory& dir,
                               const std::atomic<bool>& cancel, MpiWorld& world);

// Every other rank: asks rank 0 for cells and runs them until told to stop. The cells' files are
// written into `scratch` first and then sent to rank 0.
void serve_cells(const ValidatedPipeline& pipeline, const Registry& registry, const std::atomic<bool>& cancel,
                 MpiWorld& world, const std::filesystem::path& scratch);

}  // namespace mdlab::runtime
