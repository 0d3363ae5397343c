// mdlab run as one rank of an MPI job (builds with MPI only).
#pragma once
#include "commands.hpp"
#include "mdlab/runtime/mpi_world.hpp"

namespace mdlab::cli {

// With one rank, the same as run().
int run_mpi(const RunArgs& args, const runtime::Registry& registry, runtime::MpiWorld& world);

}  // namespace mdlab::cli
