// Running a validated pipeline: every sweep cell as a oneTBB flow graph, independent branches
// in parallel, node outputs shared between cells that would compute them identically.
#pragma once
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <mdlab/components.hpp>

#include "mdlab/runtime/pipeline.hpp"

namespace mdlab::runtime {

enum class NodeStatus { ok, failed, skipped };
std::string_view to_string(NodeStatus s);

struct NodeOutcome {
    NodeStatus status = NodeStatus::skipped;
    std::string error;         // why it failed or was skipped
    bool input_error = false;  // the failure was the user's input (a file, a parameter), not a bug
    std::string error_key;     // the parameter a plugin's InputError named
    Values values;             // a metric's values, a sampler's statistics
    double seconds = 0.0;      // wall time, 0 when reused from an earlier cell
    bool reused = false;       // taken from an earlier cell with identical configuration
    std::size_t origin_cell = 0;  // the cell that computed it (this one unless reused); its files are there
};

struct CellOutcome {
    std::size_t index = 0;
    std::vector<NodeOutcome> nodes;  // by node index
    bool resumed = false;            // taken from an earlier run into the same folder
    double seconds = 0.0;            // wall time of the whole cell where it ran (kept when resumed; NaN: unknown)
    bool ok() const;
};

struct RunOutcome {
    std::vector<CellOutcome> cells;  // the cells that ran, in order
    bool cancelled = false;
    bool ok() const;
    bool input_error() const;
};

// What the executor tells the outside world while it runs. Called from worker threads.
class RunObserver {
public:
    virtual ~RunObserver() = default;
    // Folder for cell `cell`'s files; created on first use.
    virtual std::filesystem::path cell_dir(std::size_t cell) = 0;
    virtual void log(const std::string& line) = 0;
    // Node `node` of cell `cell` has done `fraction` of its work.
    virtual void progress(std::size_t cell, std::size_t node, double fraction) = 0;
    // Node `node` of cell `cell` starts running its plugin, and has ended (either way); nodes
    // taken from the cache or skipped do not start. A cell worker tells its parent, which then
    // knows which node was running if the worker dies.
    virtual void node_started(std::size_t cell, std::size_t node) { (void)cell, (void)node; }
    virtual void node_ended(std::size_t cell, std::size_t node) { (void)cell, (void)node; }
    // Points produced by a node (a sample step or a sampler).
    virtual void points(std::size_t cell, const std::string& node, const Matrix& points) = 0;
    // The outcome of cell `cell` if an earlier run finished it with exactly this configuration
    // (every node's plugin, version, parameters, inputs and seed); the cell is then not run.
    virtual std::optional<CellOutcome> finished(std::size_t cell, const std::string& configuration) {
        (void)cell, (void)configuration;
        return std::nullopt;
    }
    // Cell `outcome.index` ran to its end (successfully or not) with this configuration.
    virtual void cell_finished(const CellOutcome& outcome, const std::string& configuration) {
        (void)outcome, (void)configuration;
    }
};

// For a partial run (one node and what it depends on): every cell's files go to one folder,
// log lines, progress and points are dropped.
class OneFolderObserver : public RunObserver {
public:
    explicit OneFolderObserver(std::filesystem::path dir) : dir_(std::move(dir)) {}
    std::filesystem::path cell_dir(std::size_t) override { return dir_; }
    void log(const std::string&) override {}
    void progress(std::size_t, std::size_t, double) override {}
    void points(std::size_t, const std::string&, const Matrix&) override {}

private:
    std::filesystem::path dir_;
};

class NodeCache;

// Runs single sweep cells of one pipeline, in any order; node outputs computed by one cell are
// reused by later cells run through the same CellExecutor. Never throws for a node's failure:
// it is recorded in the outcome and the nodes downstream of it are skipped.
class CellExecutor {
public:
    CellExecutor(const ValidatedPipeline& pipeline, const Registry& registry, RunObserver& observer,
                 const std::atomic<bool>& cancel);
    ~CellExecutor();
    // Everything that determines cell `cell`'s results (every node's plugin, version, parameters,
    // inputs and seed), as text: equal configurations give equal results.
    std::string configuration(std::size_t cell) const;
    // The outcome an earlier run recorded for the cell with this configuration (the observer's
    // finished()), marked resumed; nullopt when the cell has to run.
    std::optional<CellOutcome> resumed(std::size_t cell, const std::string& configuration);
    // Runs the cell and, unless the run was cancelled meanwhile (a cell stopped by Ctrl-C did not
    // finish; one that failed on its own did), tells the observer it finished.
    CellOutcome run(std::size_t cell, const std::string& configuration);

private:
    const ValidatedPipeline& pipeline_;
    const Registry& registry_;
    RunObserver& observer_;
    const std::atomic<bool>& cancel_;
    std::unique_ptr<NodeCache> cache_;
};

// Runs every cell in order. Never throws for a node's failure: it is recorded in the outcome
// and the nodes downstream of it are skipped. Stops after the current cell once `cancel` is set.
RunOutcome execute(const ValidatedPipeline& pipeline, const Registry& registry, RunObserver& observer,
                   const std::atomic<bool>& cancel);

// Runs node `target` of sweep cell `cell` and the nodes it depends on (nothing else), and returns
// its output: monostate when it or a node upstream failed; `outcome` (if given) says which and why.
NodeValue compute_node(const ValidatedPipeline& pipeline, const Registry& registry, std::size_t cell,
                       std::size_t target, RunObserver& observer, const std::atomic<bool>& cancel,
                       CellOutcome* outcome = nullptr);

}  // namespace mdlab::runtime
