#include "mdlab/runtime/executor.hpp"

#include <chrono>
#include <memory>
#include <set>

#include <tbb/flow_graph.h>

#include "../sweep/cell_configuration.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "node_cache.hpp"
#include "node_runner.hpp"
#include "run_context.hpp"

namespace mdlab::runtime {

std::string_view to_string(NodeStatus s) {
    switch (s) {
    case NodeStatus::ok: return "ok";
    case NodeStatus::failed: return "failed";
    case NodeStatus::skipped: return "skipped";
    }
    return "?";
}

bool CellOutcome::ok() const {
    for (const auto& n : nodes)
        if (n.status != NodeStatus::ok) return false;
    return true;
}

bool RunOutcome::ok() const {
    if (cancelled) return false;
    for (const auto& c : cells)
        if (!c.ok()) return false;
    return true;
}

bool RunOutcome::input_error() const {
    for (const auto& c : cells)
        for (const auto& n : c.nodes)
            if (n.input_error) return true;
    return false;
}

namespace {

class CellRun {
public:
    // `needed` (by node index, empty: all) limits the cell to some nodes; the others are skipped.
    CellRun(const ValidatedPipeline& vp, const Cell& cell, const Registry& reg, NodeCache& cache,
            RunObserver& observer, const std::atomic<bool>& cancel, std::vector<bool> needed = {})
        : vp_(vp), cell_(cell), reg_(reg), cache_(cache), observer_(observer), cancel_(cancel),
          sig_(node_signatures(vp, cell)), results_(vp.nodes.size()), needed_(std::move(needed)) {
        outcome_.index = cell.index;
        outcome_.nodes.resize(vp.nodes.size());
        if (needed_.empty()) needed_.assign(vp.nodes.size(), true);
        for (std::size_t i = 0; i < vp.nodes.size(); ++i)
            if (!needed_[i]) outcome_.nodes[i].error = "not needed";
    }

    // A node's output after run().
    const NodeValue& value(std::size_t i) const { return results_[i].value; }

    CellOutcome run() {
        cache_.retain(std::set<std::string>(sig_.begin(), sig_.end()));
        tbb::flow::graph g;
        tbb::flow::broadcast_node<tbb::flow::continue_msg> start(g);
        std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;
        for (std::size_t i = 0; i < vp_.nodes.size(); ++i)
            nodes.push_back(std::make_unique<tbb::flow::continue_node<tbb::flow::continue_msg>>(
                g, [this, i](const tbb::flow::continue_msg&) { run_node_safely(i); }));
        for (std::size_t i = 0; i < vp_.nodes.size(); ++i) {
            if (!needed_[i]) continue;
            std::set<std::size_t> sources;
            for (const auto& in : vp_.node(cell_, i).inputs) sources.insert(in.second);
            if (sources.empty()) tbb::flow::make_edge(start, *nodes[i]);
            for (std::size_t s : sources) tbb::flow::make_edge(*nodes[s], *nodes[i]);
        }
        start.try_put(tbb::flow::continue_msg());
        g.wait_for_all();
        return std::move(outcome_);
    }

private:
    void run_node_safely(std::size_t i) {
        const Node& node = vp_.node(cell_, i);
        NodeOutcome& out = outcome_.nodes[i];
        for (const auto& [port, src] : node.inputs)
            if (outcome_.nodes[src].status != NodeStatus::ok) {
                out.status = NodeStatus::skipped;
                out.error = "input '" + port + "' (node '" + vp_.nodes[src].id + "') did not complete";
                observer_.progress(cell_.index, i, 1.0);
                return;
            }
        if (cancel_.load()) {
            out.status = NodeStatus::skipped;
            out.error = "the run was cancelled";
            return;
        }
        if (auto hit = cache_.find(sig_[i])) {
            results_[i] = *hit;
            out.values = hit->values;
            out.status = NodeStatus::ok;
            out.reused = true;
            out.origin_cell = hit->origin_cell;
            observer_.progress(cell_.index, i, 1.0);
            return;
        }
        Inputs inputs;
        for (const auto& [port, src] : node.inputs) inputs.set(port, results_[src].value);
        RunContext ctx(cell_.seed, node.id, cell_.index, i, observer_, cancel_);
        const auto t0 = std::chrono::steady_clock::now();
        observer_.node_started(cell_.index, i);
        struct Ended {  // however the node ends
            RunObserver& observer;
            std::size_t cell, node;
            ~Ended() { observer.node_ended(cell, node); }
        } ended{observer_, cell_.index, i};
        try {
            results_[i] = run_node(*node.plugin, cell_.params[i], inputs, ctx, reg_);
            out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            out.values = results_[i].values;
            out.status = NodeStatus::ok;
            results_[i].origin_cell = out.origin_cell = cell_.index;
            cache_.store(sig_[i], results_[i]);
            if (auto* pts = std::get_if<std::shared_ptr<const Matrix>>(&results_[i].value))
                observer_.points(cell_.index, node.id, **pts);
            observer_.log("cell " + std::to_string(cell_.index) + " node " + node.id + " done in " +
                          std::to_string(out.seconds) + " s");
        } catch (const InputError& e) {
            fail(i, e.what(), true, e.key());
        } catch (const std::exception& e) {
            fail(i, e.what(), false, {});
        } catch (...) {
            fail(i, "unknown exception", false, {});
        }
    }

    void fail(std::size_t i, const std::string& what, bool input_error, const std::string& key) {
        NodeOutcome& out = outcome_.nodes[i];
        out.status = NodeStatus::failed;
        out.error = cancel_.load() ? "cancelled" : what;
        out.input_error = input_error && !cancel_.load();
        out.error_key = key;
        results_[i] = NodeResult{};
        observer_.log("cell " + std::to_string(cell_.index) + " node " + vp_.nodes[i].id + " (" +
                      vp_.node(cell_, i).plugin->spec.name + ") failed: " + out.error);
        observer_.progress(cell_.index, i, 1.0);
    }

    const ValidatedPipeline& vp_;
    const Cell& cell_;
    const Registry& reg_;
    NodeCache& cache_;
    RunObserver& observer_;
    const std::atomic<bool>& cancel_;
    std::vector<std::string> sig_;
    std::vector<NodeResult> results_;  // each written by its own node's task only
    std::vector<bool> needed_;
    CellOutcome outcome_;
};

}  // namespace

CellExecutor::CellExecutor(const ValidatedPipeline& pipeline, const Registry& registry, RunObserver& observer,
                           const std::atomic<bool>& cancel)
    : pipeline_(pipeline), registry_(registry), observer_(observer), cancel_(cancel),
      cache_(std::make_unique<NodeCache>()) {}

CellExecutor::~CellExecutor() = default;

std::string CellExecutor::configuration(std::size_t cell) const {
    return cell_configuration(pipeline_, pipeline_.cells.at(cell));
}

std::optional<CellOutcome> CellExecutor::resumed(std::size_t cell, const std::string& configuration) {
    auto earlier = observer_.finished(cell, configuration);
    if (earlier) {
        earlier->index = cell;
        earlier->resumed = true;
    }
    return earlier;
}

CellOutcome CellExecutor::run(std::size_t cell, const std::string& configuration) {
    CellRun run(pipeline_, pipeline_.cells.at(cell), registry_, *cache_, observer_, cancel_);
    const auto t0 = std::chrono::steady_clock::now();
    CellOutcome outcome = run.run();
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!cancel_.load()) observer_.cell_finished(outcome, configuration);
    return outcome;
}

RunOutcome execute(const ValidatedPipeline& pipeline, const Registry& registry, RunObserver& observer,
                   const std::atomic<bool>& cancel) {
    RunOutcome outcome;
    CellExecutor cells(pipeline, registry, observer, cancel);
    for (const Cell& cell : pipeline.cells) {
        if (cancel.load()) {
            outcome.cancelled = true;
            break;
        }
        const std::string config = cells.configuration(cell.index);
        auto earlier = cells.resumed(cell.index, config);
        outcome.cells.push_back(earlier ? std::move(*earlier) : cells.run(cell.index, config));
    }
    if (cancel.load()) outcome.cancelled = true;
    return outcome;
}

NodeValue compute_node(const ValidatedPipeline& pipeline, const Registry& registry, std::size_t cell,
                       std::size_t target, RunObserver& observer, const std::atomic<bool>& cancel,
                       CellOutcome* outcome) {
    // The target and everything upstream of it: walk the topological order backwards.
    std::vector<bool> needed(pipeline.nodes.size(), false);
    needed.at(target) = true;
    for (auto it = pipeline.order.rbegin(); it != pipeline.order.rend(); ++it)
        if (needed[*it])
            for (const auto& in : pipeline.node(pipeline.cells.at(cell), *it).inputs) needed[in.second] = true;
    NodeCache cache;
    CellRun run(pipeline, pipeline.cells.at(cell), registry, cache, observer, cancel, needed);
    CellOutcome result = run.run();
    NodeValue value = run.value(target);
    if (outcome) *outcome = std::move(result);
    return value;
}

}  // namespace mdlab::runtime
