#include "mdlab/runtime/cell_worker.hpp"

#include <csignal>
#include <cstdlib>

#include <unistd.h>
#include <map>
#include <mutex>

#include "../mpi/byte_codec.hpp"
#include "../mpi/packet_exchange.hpp"
#include "../mpi/worker_scratch.hpp"
#include "child_process.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/thread_limit.hpp"
#include "worker_frames.hpp"
#include "worker_setup.hpp"

namespace mdlab::runtime {

namespace {

std::atomic<bool> cancelled{false};
std::atomic<bool> in_cell{false};
ParentChannel* channel = nullptr;

extern "C" void on_cancel(int) { cancelled.store(true); }

// A plugin called exit() during a cell: say so (the parent names the call and its code), then end
// at once. Running the static destructors while the cell's other threads still run would crash.
extern "C" void on_exit_during_cell(int code, void*) {
    if (!in_cell.load() || !channel) return;
    channel->send(Frame{worker_frame::exited, std::to_string(code)});
    ::_exit(code);
}

// The scratch folder's observer that also tells the parent which node runs and how far it is.
class WorkerObserver : public CellScratch {
public:
    WorkerObserver(std::filesystem::path dir, ParentChannel& parent, bool progress)
        : CellScratch(std::move(dir)), parent_(parent), progress_(progress) {}

    // At once, not with the cell's packet: run.log shows a long cell's progress as it runs.
    void log(const std::string& line) override { parent_.send(Frame{worker_frame::log, line}); }
    void node_started(std::size_t cell, std::size_t node) override { send(worker_frame::node_started, cell, node); }
    void node_ended(std::size_t cell, std::size_t node) override { send(worker_frame::node_ended, cell, node); }
    // At most one frame per percent of a node's work, and none when the parent draws no bar:
    // the parent only draws a bar with it, and each frame costs both processes a wake-up.
    void progress(std::size_t cell, std::size_t node, double fraction) override {
        if (!progress_) return;
        std::lock_guard<std::mutex> lock(mutex_);  // nodes of a cell run on several threads
        double& last = shown_[{cell, node}];
        if (fraction < 1.0 && fraction - last < 0.01) return;
        last = fraction;
        ByteWriter w;
        w.count(cell);
        w.count(node);
        w.number(fraction);
        parent_.send(Frame{worker_frame::progress, w.take()});
    }

    void send_packet(const CellPacket& packet) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            shown_.clear();
        }
        parent_.send(Frame{worker_frame::packet, encode(packet)});
    }

private:
    void send(char type, std::size_t cell, std::size_t node) {
        ByteWriter w;
        w.count(cell);
        w.count(node);
        parent_.send(Frame{type, w.take()});
    }

    ParentChannel& parent_;  // sends whole frames from any thread
    const bool progress_;
    std::mutex mutex_;        // guards shown_
    std::map<std::pair<std::size_t, std::size_t>, double> shown_;
};

int refuse(ParentChannel& parent, const std::string& why, int code) {
    parent.send(Frame{worker_frame::failed, why});
    return code;
}

}  // namespace

int serve_cell_worker() {
    // Ctrl-C reaches the whole process group: the parent decides, and says so with SIGUSR1.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGUSR1, on_cancel);
    ParentChannel parent;
    channel = &parent;
    ::on_exit(on_exit_during_cell, nullptr);
    const auto first = parent.receive();
    if (!first || first->type != worker_frame::setup) return 1;
    try {
        const WorkerSetup setup = decode_worker_setup(first->payload);
        Registry registry;
        for (const auto& library : setup.libraries) registry.load_library(library);
        const ValidatedPipeline pipeline =
            read_and_validate(setup.source(), setup.sets, setup.smoke, registry);
        const ThreadLimit threads(setup.threads);
        WorkerObserver observer(worker_scratch(0), parent, setup.progress);
        CellExecutor cells(pipeline, registry, observer, cancelled);
        parent.send(Frame{worker_frame::ready, {}});
        while (const auto frame = parent.receive()) {
            if (frame->type != worker_frame::cell) return refuse(parent, "unexpected frame from the parent", 1);
            ByteReader r(frame->payload, "cell request");
            const std::size_t cell = r.count();
            const std::string configuration = r.text();
            if (cell >= pipeline.cells.size() || cells.configuration(cell) != configuration)
                return refuse(parent,
                              "the pipeline or a plugin changed since the run started: cell " + std::to_string(cell) +
                                  " is not the cell the run validated",
                              2);
            in_cell.store(true);
            CellPacket packet = run_into_packet(cells, observer, cell, configuration, cancelled);
            in_cell.store(false);
            observer.send_packet(packet);
        }
        return 0;
    } catch (const BadInput& e) {
        return refuse(parent, e.what(), 2);
    } catch (const std::exception& e) {
        return refuse(parent, e.what(), 1);
    }
}

}  // namespace mdlab::runtime
