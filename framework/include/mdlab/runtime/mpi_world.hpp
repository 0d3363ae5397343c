// The MPI job this process belongs to (only in builds with MPI). One per process, made by main
// before anything else runs; MPI is used from the main thread only (MPI_THREAD_FUNNELED).
#pragma once
#include <cstddef>
#include <string>

namespace mdlab::runtime {

class MpiWorld {
public:
    MpiWorld(int& argc, char**& argv);
    // Waits (asleep, not spinning) until every rank got here, then finalises MPI.
    ~MpiWorld();
    MpiWorld(const MpiWorld&) = delete;
    MpiWorld& operator=(const MpiWorld&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    // True on every rank when `ok` is true on every rank.
    bool all(bool ok) const;

    // Point-to-point messages of any size (sent in pieces below MPI's int count limit). send()
    // returns when the receiver has the message: the sender must stay in MPI until then, since
    // a large message moves only while both sides call MPI.
    void send(int to, int tag, const std::string& bytes) const;
    std::string receive(int from, int tag) const;
    // The rank with a message of `tag` waiting, or -1 (does not wait).
    int poll(int tag) const;
    // Ends every rank of the job (MPI_Abort) with this exit code.
    [[noreturn]] void abort(int code) const;

private:
    int rank_ = 0, size_ = 1;
};

}  // namespace mdlab::runtime
