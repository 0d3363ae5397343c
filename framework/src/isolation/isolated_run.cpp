#include "mdlab/runtime/isolated_run.hpp"

#include <cmath>
#include <optional>

#include "../mpi/packet_exchange.hpp"
#include "../runfolder/crashed_cells.hpp"
#include "../sweep/cell_configuration.hpp"
#include "cell_worker_handle.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::runtime {

std::optional<Isolation> isolation_from(std::string_view name) {
    if (name == "process") return Isolation::process;
    if (name == "none") return Isolation::none;
    return std::nullopt;
}

namespace {

// "node 'gen' (plugin 'euler_maruyama', which calls score (faulty_score), vp (vp))": an input's
// code (a score estimator, a process) runs inside the node that takes it.
std::string node_label(const ValidatedPipeline& vp, const Cell& cell, std::size_t i) {
    const Node& node = vp.node(cell, i);
    std::string inputs;
    for (const auto& [port, source] : node.inputs)
        inputs += (inputs.empty() ? "" : ", ") + vp.nodes[source].id + " (" + vp.node(cell, source).plugin->spec.name + ")";
    return "node '" + vp.nodes[i].id + "' (plugin '" + node.plugin->spec.name + "'" +
           (inputs.empty() ? "" : ", which calls " + inputs) + ")";
}

// The outcome of a cell whose worker died: the nodes that were running failed; the others were
// not run, or their outputs went with the worker.
CellOutcome died_outcome(const ValidatedPipeline& vp, const Cell& cell, const WorkerDeath& death, double seconds) {
    std::set<std::size_t> blamed = death.running;
    if (blamed.empty())  // between nodes: the first node not done (else the last node) is named
        for (std::size_t i : vp.order)
            if (!death.done.count(i)) {
                blamed.insert(i);
                break;
            }
    if (blamed.empty() && !vp.order.empty()) blamed.insert(vp.order.back());
    std::string running;
    for (std::size_t i : death.running) running += (running.empty() ? "" : ", ") + node_label(vp, cell, i);
    std::string message = "the cell's worker process " + death.how + " while " +
                          (running.empty() ? std::string("no node was running") : running + " ran");
    if (!death.stderr_tail.empty()) {
        message += "; its last stderr lines:";
        for (const auto& line : death.stderr_tail) message += "\n    " + line;
    }
    CellOutcome out;
    out.index = cell.index;
    out.seconds = seconds;
    out.nodes.resize(vp.nodes.size());
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        NodeOutcome& n = out.nodes[i];
        if (blamed.count(i)) {
            n.status = NodeStatus::failed;
            n.error = message;
        } else {
            n.status = NodeStatus::skipped;
            n.error = death.done.count(i) ? "its output was lost: the cell's worker process died"
                                          : "not run: the cell's worker process died";
        }
    }
    return out;
}

}  // namespace

RunOutcome execute_isolated(const ValidatedPipeline& pipeline, RunDirectory& dir, const std::atomic<bool>& cancel,
                            const WorkerSetup& setup, const std::string& program) {
    RunOutcome outcome;
    CrashedCells crashed(dir.path());
    std::optional<CellWorkerHandle> worker;
    for (const Cell& cell : pipeline.cells) {
        if (cancel.load()) break;
        const std::string configuration = cell_configuration(pipeline, cell);
        if (auto earlier = dir.finished(cell.index, configuration)) {
            earlier->index = cell.index;
            earlier->resumed = true;
            crashed.finished(configuration);
            outcome.cells.push_back(std::move(*earlier));
            continue;
        }
        if (auto given_up = crashed.given_up(cell.index, configuration)) {
            dir.log("cell " + std::to_string(cell.index) + ": its worker process died in " +
                    std::to_string(crashed.attempts(configuration)) +
                    " earlier runs; not run again (--force starts the run over)");
            given_up->resumed = true;
            outcome.cells.push_back(std::move(*given_up));
            continue;
        }
        if (!worker) worker.emplace(program, setup);
        const auto t0 = std::chrono::steady_clock::now();
        auto result = worker->run(cell.index, configuration, dir, cancel);
        if (auto* packet = std::get_if<CellPacket>(&result)) {
            outcome.cells.push_back(store_packet(*packet, "", configuration, dir));
            if (!packet->cancelled) crashed.finished(configuration);
            continue;
        }
        worker.reset();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        CellOutcome failed = died_outcome(pipeline, cell, std::get<WorkerDeath>(result), seconds);
        if (cancel.load()) break;  // stopped while dying (a second Ctrl-C): not the cell's fault
        crashed.died(failed, configuration);
        for (std::size_t i = 0; i < failed.nodes.size(); ++i)
            if (failed.nodes[i].status == NodeStatus::failed)
                dir.log("cell " + std::to_string(cell.index) + " node " + pipeline.nodes[i].id + " failed: " + failed.nodes[i].error);
        outcome.cells.push_back(std::move(failed));
    }
    outcome.cancelled = cancel.load();
    return outcome;
}

}  // namespace mdlab::runtime
