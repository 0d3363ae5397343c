// A child process mdlab talks to through framed messages: a cell worker (isolated_run.cpp) or
// a plugin-library probe (library_probe.cpp). In: the program and its arguments. Out: frames
// from the child, its end (exit code or signal) and the last lines it wrote to stderr.
//
// The child gets fd 3, a socket carrying frames both ways; its stdout is the parent's; its stderr goes through the parent, which passes it on line by line and keeps
// the last lines for the message about a child that died. It is killed when the parent dies.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace mdlab::runtime {

struct Frame {
    char type = 0;
    std::string payload;
};

class ChildProcess {
public:
    // Starts `program` with `args` (argv[1...]). Throws mdlab::Error when it cannot.
    ChildProcess(const std::string& program, const std::vector<std::string>& args);
    // Kills the child (SIGKILL) if it still runs, and reaps it.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // False when the child has already gone (its pipe is closed).
    bool send(const Frame& frame);

    enum class Next { frame, ended, timeout };
    // The next frame from the child (into `out`), or its end, or nothing within `timeout`
    // (none: wait as long as it takes). Its stderr is passed on meanwhile.
    Next next(Frame& out, std::optional<std::chrono::milliseconds> timeout);
    // After Next::ended: "exited with code 3", "was killed by signal 11 (SIGSEGV)".
    std::string how_it_ended();
    // The child's last stderr lines (at most `lines`), oldest first.
    std::vector<std::string> stderr_tail(std::size_t lines = 12) const;

    void signal(int sig) const;
    // Kills and reaps the child now.
    void kill();

    // Whether the child's stderr is passed on to this process's stderr (default yes).
    void pass_stderr_on(bool on) { pass_on_ = on; }

private:
    void read_stderr();
    void wait_ended();

    pid_t pid_ = -1;
    int socket_ = -1, err_ = -1;
    bool reaped_ = false, pass_on_ = true;
    int status_ = 0;
    std::string in_, err_partial_;
    std::deque<std::string> err_lines_;
};

// The child's side: frames through fd 3. send() may be called from any thread: each frame is
// written whole under a lock, so frames of several threads never interleave.
class ParentChannel {
public:
    // The next frame; nullopt when the parent closed its end.
    std::optional<Frame> receive();
    void send(const Frame& frame);

private:
    std::mutex send_mutex_;
};

// "SIGSEGV" for 11; "signal N" when it has no name.
std::string signal_name(int sig);

}  // namespace mdlab::runtime
