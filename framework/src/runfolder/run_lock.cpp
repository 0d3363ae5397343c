// The run folder's lock (see run_lock.hpp).
#include "run_lock.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "run_folder_files.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

std::string read_fd(int fd) {
    std::string text;
    char buffer[512];
    for (off_t at = 0;;) {
        const ssize_t got = ::pread(fd, buffer, sizeof buffer, at);
        if (got <= 0 || text.size() > 4096) break;
        text.append(buffer, static_cast<std::size_t>(got));
        at += got;
    }
    return text;
}

// Who holds the lock, as its holder wrote it: "pid 123 on host h, started 2026-...". The holder
// writes it just after locking, so an empty file is read again for a moment.
std::string holder(int fd) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        const std::string text = read_fd(fd);
        try {
            const auto o = boost::json::parse(text).as_object();
            return "pid " + boost::json::serialize(o.at("pid")) + " on host " + std::string(o.at("host").as_string()) +
                   ", started " + std::string(o.at("started").as_string());
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "a process that has not said who it is";
}

std::string this_holder() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char started[32];
    std::strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return boost::json::serialize(boost::json::object{{"pid", ::getpid()}, {"host", host}, {"started", started}}) + "\n";
}

}  // namespace

RunLock::RunLock(const fs::path& dir) {
    const fs::path file = dir / run_lock_file;
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        const int err = errno;
        throw BadInput(folder_error(dir, std::string("cannot open its lock file ") + run_lock_file + ": " + std::strerror(err) +
                                           (err == ELOOP ? " (a symbolic link: refused)" : ""),
                                  "choose another --out"));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        const std::string who = err == EWOULDBLOCK ? holder(fd_) : std::string();
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw BadInput(folder_error(dir, "is in use by another mdlab run: " + who,
                                      "wait for that run to end, or choose another --out"));
        throw BadInput(folder_error(dir, std::string("cannot lock ") + run_lock_file + ": " + std::strerror(err),
                                  "choose another --out (on a file system that supports flock)"));
    }
    const std::string me = this_holder();
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
        // The lock holds all the same; only the holder's description is missing.
    }
}

RunLock::~RunLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace mdlab::runtime
