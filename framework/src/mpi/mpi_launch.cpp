#include "mdlab/runtime/mpi_launch.hpp"

#include <cstdlib>
#include <string>

namespace mdlab::runtime {

int mpi_launch_size() {
    const char* off = std::getenv("MDLAB_NO_MPI");
    if (off && std::string(off) == "1") return 0;
    // Open MPI's mpirun, then PMI-1/2 and PMIx launchers (MPICH's mpiexec, Slurm's srun).
    for (const char* size : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* v = std::getenv(size)) return std::atoi(v) > 0 ? std::atoi(v) : -1;
    for (const char* rank : {"PMIX_RANK", "PMI_RANK"})
        if (std::getenv(rank)) {
            const char* tasks = std::getenv("SLURM_NTASKS");  // srun says how many it started
            return tasks && std::atoi(tasks) > 0 ? std::atoi(tasks) : -1;
        }
    return 0;
}

}  // namespace mdlab::runtime
