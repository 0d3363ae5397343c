#include "child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mdlab/error.hpp>

namespace mdlab::runtime {

namespace {

constexpr int child_fd = 3;
constexpr std::size_t kept_stderr_lines = 40;
constexpr std::size_t header_size = 1 + sizeof(std::uint64_t);

std::string header(const Frame& frame) {
    std::string h(header_size, '\0');
    h[0] = frame.type;
    const std::uint64_t n = frame.payload.size();
    std::memcpy(&h[1], &n, sizeof n);
    return h;
}

// Writes all of `bytes`; false when the other end is gone. MSG_NOSIGNAL: a dead child must not
// raise SIGPIPE in the parent (which may be a Python interpreter with its own handlers).
bool send_all(int fd, const char* data, std::size_t n, bool is_socket) {
    while (n > 0) {
        const ssize_t w = is_socket ? ::send(fd, data, n, MSG_NOSIGNAL) : ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// A whole frame at the front of `buffer`, taken out of it.
std::optional<Frame> take_frame(std::string& buffer) {
    if (buffer.size() < header_size) return std::nullopt;
    std::uint64_t n = 0;
    std::memcpy(&n, buffer.data() + 1, sizeof n);
    if (buffer.size() - header_size < n) return std::nullopt;
    Frame f{buffer[0], buffer.substr(header_size, n)};
    buffer.erase(0, header_size + n);
    return f;
}

// Appends what is there (at most `most` bytes, and 64 KiB) to `buffer`; false at end of file or on
// an error.
bool read_some(int fd, std::string& buffer, std::size_t most = SIZE_MAX) {
    char chunk[65536];
    for (;;) {
        const ssize_t r = ::read(fd, chunk, std::min(most, sizeof chunk));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(r));
        return true;
    }
}

}  // namespace

std::string signal_name(int sig) {
    if (const char* abbrev = ::sigabbrev_np(sig)) return std::string("SIG") + abbrev;
    return "signal " + std::to_string(sig);
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args) {
    int sv[2], err[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        throw Error(std::string("cannot make a socket for a child process: ") + std::strerror(errno));
    if (::pipe2(err, O_CLOEXEC) != 0) {
        const int e = errno;
        ::close(sv[0]), ::close(sv[1]);
        throw Error(std::string("cannot make a pipe for a child process: ") + std::strerror(e));
    }
    // Everything the child needs, made before fork: after it only async-signal-safe calls.
    std::vector<std::string> words{program};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) {
        const int e = errno;
        ::close(sv[0]), ::close(sv[1]), ::close(err[0]), ::close(err[1]);
        throw Error(std::string("cannot start a child process: ") + std::strerror(e));
    }
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the parent (kill -9 included)
        if (::getppid() != parent) ::_exit(127);
        // Above any fd the dup2 calls below overwrite, without close-on-exec.
        const int channel = ::fcntl(sv[1], F_DUPFD, 10), error = ::fcntl(err[1], F_DUPFD, 10);
        if (channel < 0 || error < 0 || ::dup2(channel, child_fd) < 0 || ::dup2(error, 2) < 0) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the parent's thread may block signals
        ::execv(program.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(sv[1]);
    ::close(err[1]);
    socket_ = sv[0];
    err_ = err[0];
}

ChildProcess::~ChildProcess() {
    kill();
    if (socket_ >= 0) ::close(socket_);
    if (err_ >= 0) ::close(err_);
}

bool ChildProcess::send(const Frame& frame) {
    const std::string h = header(frame);
    return send_all(socket_, h.data(), h.size(), true) &&
           send_all(socket_, frame.payload.data(), frame.payload.size(), true);
}

ChildProcess::Next ChildProcess::next(Frame& out, std::optional<std::chrono::milliseconds> timeout) {
    using clock = std::chrono::steady_clock;
    const auto until = timeout ? clock::now() + *timeout : clock::time_point::max();
    for (;;) {
        if (auto f = take_frame(in_)) {
            out = std::move(*f);
            return Next::frame;
        }
        if (socket_ < 0) {
            wait_ended();
            return Next::ended;
        }
        int wait_ms = -1;
        if (timeout) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
            if (left <= 0) return Next::timeout;
            wait_ms = static_cast<int>(std::min<long long>(left, 1000 * 1000));
        }
        pollfd fds[2] = {{socket_, POLLIN, 0}, {err_, POLLIN, 0}};
        const int n = ::poll(fds, err_ >= 0 ? 2 : 1, wait_ms);
        if (n < 0 && errno != EINTR) throw Error(std::string("poll on a child process: ") + std::strerror(errno));
        if (n <= 0) continue;
        if (err_ >= 0 && fds[1].revents) read_stderr();
        if (fds[0].revents && !read_some(socket_, in_)) {
            ::close(socket_);
            socket_ = -1;
        }
    }
}

void ChildProcess::read_stderr() {
    std::string got;
    if (!read_some(err_, got)) {
        ::close(err_);
        err_ = -1;
        got = err_partial_.empty() ? "" : "\n";  // the last line, without its newline
    }
    err_partial_ += got;
    for (std::size_t nl; (nl = err_partial_.find('\n')) != std::string::npos;) {
        std::string line = err_partial_.substr(0, nl);
        err_partial_.erase(0, nl + 1);
        if (pass_on_) std::cerr << line << '\n' << std::flush;
        err_lines_.push_back(std::move(line));
        if (err_lines_.size() > kept_stderr_lines) err_lines_.pop_front();
    }
}

void ChildProcess::wait_ended() {
    if (reaped_) return;
    // The rest of its stderr: the last lines matter most (an abort's message, a sanitizer's
    // report). Bounded, in case a process it started keeps the pipe open.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (err_ >= 0 && std::chrono::steady_clock::now() < until) {
        pollfd fd{err_, POLLIN, 0};
        if (::poll(&fd, 1, 100) > 0) read_stderr();
    }
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
}

std::string ChildProcess::how_it_ended() {
    wait_ended();
    if (WIFSIGNALED(status_))
        return "was killed by signal " + std::to_string(WTERMSIG(status_)) + " (" + signal_name(WTERMSIG(status_)) + ")";
    if (WIFEXITED(status_)) return "exited with code " + std::to_string(WEXITSTATUS(status_));
    return "ended (wait status " + std::to_string(status_) + ")";
}

std::vector<std::string> ChildProcess::stderr_tail(std::size_t lines) const {
    const std::size_t from = err_lines_.size() > lines ? err_lines_.size() - lines : 0;
    return std::vector<std::string>(err_lines_.begin() + static_cast<long>(from), err_lines_.end());
}

void ChildProcess::signal(int sig) const {
    if (!reaped_) ::kill(pid_, sig);
}

void ChildProcess::kill() {
    if (reaped_ || pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    if (socket_ >= 0) {
        ::close(socket_);
        socket_ = -1;
    }
    wait_ended();
}

std::optional<Frame> ParentChannel::receive() {
    std::string buffer;
    while (buffer.size() < header_size)
        if (!read_some(child_fd, buffer, header_size - buffer.size())) return std::nullopt;
    std::uint64_t n = 0;
    std::memcpy(&n, buffer.data() + 1, sizeof n);
    Frame f{buffer[0], {}};
    while (f.payload.size() < n)
        if (!read_some(child_fd, f.payload, n - f.payload.size())) return std::nullopt;
    return f;
}

void ParentChannel::send(const Frame& frame) {
    const std::string h = header(frame);
    std::lock_guard<std::mutex> lock(send_mutex_);
    if (!send_all(child_fd, h.data(), h.size(), false) ||
        !send_all(child_fd, frame.payload.data(), frame.payload.size(), false))
        ::_exit(1);  // the parent is gone: nobody is left to tell
}

}  // namespace mdlab::runtime
