#include "cell_worker_handle.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include <boost/dll/runtime_symbol_info.hpp>

#include <mdlab/error.hpp>

#include "../mpi/byte_codec.hpp"
#include "mdlab/runtime/cell_packet.hpp"
#include "mdlab/runtime/executor.hpp"
#include "worker_frames.hpp"

namespace fs = std::filesystem;

namespace mdlab::runtime {

namespace {

constexpr std::chrono::milliseconds cancel_poll{50};

std::string lines_of(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "\n    " + l;
    return out;
}

// A worker that ended or refused before or between cells.
[[noreturn]] void worker_error(ChildProcess& child, const std::string& what) {
    throw Error("the cell worker process (" + std::to_string(child.pid()) + ") " + what +
                lines_of(child.stderr_tail()));
}

}  // namespace

CellWorkerHandle::CellWorkerHandle(const std::string& program, const WorkerSetup& setup)
    : child_(program, {"cell-worker"}) {
    if (!child_.send(Frame{worker_frame::setup, encode(setup)})) worker_error(child_, "ended before its setup: " + child_.how_it_ended());
    Frame f;
    switch (child_.next(f, std::nullopt)) {
    case ChildProcess::Next::frame:
        if (f.type == worker_frame::ready) return;
        if (f.type == worker_frame::failed) worker_error(child_, "could not set up the run:\n" + f.payload);
        worker_error(child_, std::string("sent an unexpected frame '") + f.type + "'");
    default:
        worker_error(child_, "ended while setting up the run: " + child_.how_it_ended());
    }
}

std::variant<CellPacket, WorkerDeath> CellWorkerHandle::run(std::size_t cell, const std::string& configuration,
                                                            RunObserver& observer, const std::atomic<bool>& cancel) {
    ByteWriter w;
    w.count(cell);
    w.text(configuration);
    WorkerDeath death;
    bool told_to_stop = false;
    if (child_.send(Frame{worker_frame::cell, w.take()})) {
        for (Frame f;;) {
            const auto got = child_.next(f, cancel_poll);
            if (got == ChildProcess::Next::ended) break;
            if (got == ChildProcess::Next::timeout) {
                if (cancel.load() && !told_to_stop) {
                    child_.signal(SIGUSR1);  // the worker ignores SIGINT: it stops when told
                    told_to_stop = true;
                }
                continue;
            }
            if (f.type == worker_frame::packet) return decode_cell_packet(f.payload);
            if (f.type == worker_frame::failed) worker_error(child_, "refused cell " + std::to_string(cell) + ": " + f.payload);
            if (f.type == worker_frame::log) {
                observer.log(f.payload);
                continue;
            }
            if (f.type == worker_frame::exited) {
                death.how = "called exit(" + f.payload + ")";
                continue;
            }
            ByteReader r(f.payload, "worker frame");
            const std::size_t c = r.count(), node = r.count();
            if (c != cell) continue;
            if (f.type == worker_frame::node_started) {
                death.running.insert(node);
            } else if (f.type == worker_frame::node_ended) {
                death.running.erase(node);
                death.done.insert(node);
            } else if (f.type == worker_frame::progress) {
                observer.progress(cell, node, r.number());
            }
        }
    }
    const std::string ended = child_.how_it_ended();
    if (death.how.empty()) death.how = ended;
    death.stderr_tail = child_.stderr_tail();
    return death;
}

std::string worker_program() {
    if (const char* given = std::getenv("MDLAB_WORKER_PROGRAM")) return given;
    std::error_code ec;
    const fs::path self = boost::dll::program_location(ec);
    if (!ec && self.filename() == "mdlab") return self.string();
    for (const char* candidate : {MDLAB_BUILD_PROGRAM, MDLAB_INSTALLED_PROGRAM})
        if (fs::is_regular_file(candidate, ec)) return candidate;
    return {};
}

}  // namespace mdlab::runtime
