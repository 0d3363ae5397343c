// The run folder belongs to one run at a time: an advisory lock (flock) on its mdlab-run.lock,
// held for the whole run, which also names its holder (pid, host, start time). The file stays
// when the run ends (removing it would let two runs lock two different files of the same name).
#pragma once
#include <filesystem>

namespace mdlab::runtime {

class RunLock {
public:
    // Locks `dir`/mdlab-run.lock, creating it; throws BadInput naming the holder when another run
    // (another process, or another run of this one) holds it.
    explicit RunLock(const std::filesystem::path& dir);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    int fd_ = -1;
};

// The lock file's name in a run folder.
inline constexpr const char* run_lock_file = "mdlab-run.lock";

}  // namespace mdlab::runtime
