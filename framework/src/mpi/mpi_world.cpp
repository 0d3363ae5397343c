#include "mdlab/runtime/mpi_world.hpp"

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdint>
#include <thread>

#include <mpi.h>

#include <mdlab/error.hpp>

namespace mdlab::runtime {

namespace {

constexpr std::size_t piece = std::size_t{1} << 30;  // below INT_MAX bytes per MPI call

// Waiting ranks poll and sleep: Open MPI's blocking calls spin a core, which on a machine
// with as many ranks as cores slows the ranks that still compute.
void wait_asleep(MPI_Request& request) {
    for (int done = 0;;) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (done) return;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

}  // namespace

MpiWorld::MpiWorld(int& argc, char**& argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiWorld::~MpiWorld() {
    MPI_Request request;
    MPI_Ibarrier(MPI_COMM_WORLD, &request);
    wait_asleep(request);
    MPI_Finalize();
}

bool MpiWorld::all(bool ok) const {
    int mine = ok ? 1 : 0, every = 0;
    MPI_Request request;
    MPI_Iallreduce(&mine, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
    wait_asleep(request);
    return every == 1;
}

void MpiWorld::send(int to, int tag, const std::string& bytes) const {
    const std::uint64_t size = bytes.size();
    MPI_Send(&size, 1, MPI_UINT64_T, to, tag, MPI_COMM_WORLD);
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        MPI_Request request;
        MPI_Isend(bytes.data() + at, static_cast<int>(std::min(piece, bytes.size() - at)), MPI_BYTE, to, tag,
                  MPI_COMM_WORLD, &request);
        wait_asleep(request);
    }
}

std::string MpiWorld::receive(int from, int tag) const {
    std::uint64_t size = 0;
    MPI_Request request;
    MPI_Irecv(&size, 1, MPI_UINT64_T, from, tag, MPI_COMM_WORLD, &request);
    wait_asleep(request);
    std::string bytes(size, '\0');
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        MPI_Irecv(bytes.data() + at, static_cast<int>(std::min<std::size_t>(piece, bytes.size() - at)), MPI_BYTE,
                  from, tag, MPI_COMM_WORLD, &request);
        wait_asleep(request);
    }
    return bytes;
}

void MpiWorld::abort(int code) const {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // not reached
}

int MpiWorld::poll(int tag) const {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &status);
    return flag ? status.MPI_SOURCE : -1;
}

}  // namespace mdlab::runtime
