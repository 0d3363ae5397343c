// In: an MPI worker's rank. Out: the folder where it keeps a cell's files until they are sent to
// rank 0, after the folders that killed workers left behind are removed.
#pragma once
#include <filesystem>

namespace mdlab::runtime {

// $MDLAB_SCRATCH, else /dev/shm, else the temporary folder.
std::filesystem::path scratch_root();
// Removes the scratch folders (mdlab-<pid>-rank<r>) under `root` whose process is dead.
void remove_stale_scratch(const std::filesystem::path& root);
// scratch_root()/mdlab-<pid>-rank<rank>, after remove_stale_scratch(scratch_root()).
std::filesystem::path worker_scratch(int rank);

}  // namespace mdlab::runtime
