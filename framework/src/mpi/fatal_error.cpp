// In: a rank's fatal error. Out: the message on stderr, then MPI_Abort of the whole job.
#include "fatal_error.hpp"

#include <iostream>

namespace mdlab::runtime {

void abort_job(const MpiWorld& world, const std::string& why) {
    std::cerr << "mdlab: rank " << world.rank() << " of " << world.size() << ": fatal: " << why
              << "\nmdlab: stopping every rank; the cells already finished are kept in the run folder, and "
                 "rerunning the same command resumes the run\n";
    world.abort(1);
}

}  // namespace mdlab::runtime
