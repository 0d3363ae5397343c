// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), read from the
// environment the launcher sets, so that mdlab starts MPI only then.
#pragma once

namespace mdlab::runtime {

// 0: not under an MPI launcher; otherwise the number of processes the launcher started, or -1
// when it does not say. MDLAB_NO_MPI=1 in the environment forces 0.
int mpi_launch_size();

}  // namespace mdlab::runtime
