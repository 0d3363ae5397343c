// In: an error a rank met outside any cell (a bug or a broken machine). Out: a message on
// stderr and every rank of the job stopped, since the others would wait for this one for ever.
#pragma once
#include <string>

#include "mdlab/runtime/mpi_world.hpp"

namespace mdlab::runtime {

[[noreturn]] void abort_job(const MpiWorld& world, const std::string& why);

}  // namespace mdlab::runtime
