// In: an MPI worker's rank. Out: its scratch folder; stale ones of dead workers are removed.
#include "worker_scratch.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <signal.h>
#include <unistd.h>

namespace mdlab::runtime {

// Memory (/dev/shm) first: creating files there costs far less than on a disk file system, and
// each lives for one cell only.
std::filesystem::path scratch_root() {
    if (const char* dir = std::getenv("MDLAB_SCRATCH")) return dir;
    if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
    return std::filesystem::temp_directory_path();
}

// Scratch folders left by workers that were killed (kill -9, a node's out-of-memory killer)
// hold one cell's files each; the next run on the machine removes those of dead processes.
void remove_stale_scratch(const std::filesystem::path& root) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        unsigned long pid = 0;
        int used = 0;
        if (std::sscanf(name.c_str(), "mdlab-%lu-rank%*d%n", &pid, &used) != 1 || used != static_cast<int>(name.size()))
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ec);
    }
}

std::filesystem::path worker_scratch(int rank) {
    const std::filesystem::path root = scratch_root();
    remove_stale_scratch(root);
    return root / ("mdlab-" + std::to_string(::getpid()) + "-rank" + std::to_string(rank));
}

}  // namespace mdlab::runtime
