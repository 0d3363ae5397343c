// mdlab score: evaluate one estimator node of a pipeline at user-given points and time.
//
// The node and everything upstream of it (data, process, training) run exactly as in
// `mdlab run` for the chosen sweep cell, so the scores written are those the pipeline's
// samplers would see. Extra files the nodes write (trajectories, loss curves) go to a scratch
// folder that is removed afterwards.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>

#include <fmt/format.h>
#include <tbb/global_control.h>

#include <mdlab/npy.hpp>

#include "commands.hpp"
#include "mdlab/runtime/cancel.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/process_times.hpp"

namespace mdlab::cli {

namespace {

namespace fs = std::filesystem;

// A fresh temporary folder, removed afterwards.
fs::path scratch_folder() {
    std::random_device rd;
    fs::path dir = fs::temp_directory_path() / ("mdlab-score-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir);
    return dir;
}

// Observer for a partial run: files into a scratch folder that it removes.
class ScratchObserver : public runtime::OneFolderObserver {
public:
    ScratchObserver() : OneFolderObserver(scratch_folder()) {}
    ~ScratchObserver() override {
        std::error_code ec;
        fs::remove_all(cell_dir(0), ec);
    }
};

runtime::Diagnostic argument_error(const std::string& key, std::string message, std::string hint = {}) {
    runtime::Diagnostic d;
    d.file = "command line";
    d.key = key;
    d.message = std::move(message);
    d.hint = std::move(hint);
    return d;
}

std::string estimator_nodes(const runtime::ValidatedPipeline& vp) {
    std::string list;
    for (const auto& n : vp.nodes)
        if (n.plugin->spec.kind == Kind::estimator) list += (list.empty() ? "" : ", ") + n.id;
    return list.empty() ? "the pipeline has no estimator node" : "estimator nodes: " + list;
}

}  // namespace

int score(const ScoreArgs& args, const runtime::Registry& registry) {
    const runtime::ValidatedPipeline vp =
        runtime::read_and_validate(runtime::PipelineSource::file(args.pipeline), args.sets, false, registry);

    std::size_t target = vp.nodes.size();
    for (std::size_t i = 0; i < vp.nodes.size(); ++i)
        if (vp.nodes[i].id == args.node) target = i;
    if (target == vp.nodes.size())
        throw runtime::BadInput(argument_error("--node", "no node '" + args.node + "' in " + args.pipeline.string(),
                                               estimator_nodes(vp)));
    if (vp.nodes[target].plugin->spec.kind != Kind::estimator)
        throw runtime::BadInput(argument_error(
            "--node", "node '" + args.node + "' is a " + std::string(to_string(vp.nodes[target].plugin->spec.kind)) +
                          " (" + vp.nodes[target].plugin->spec.name + "), not a score estimator",
            estimator_nodes(vp)));
    if (args.cell >= vp.cells.size())
        throw runtime::BadInput(argument_error("--cell", "cell " + std::to_string(args.cell) + " does not exist",
                                               "the pipeline has " + std::to_string(vp.cells.size()) +
                                                   " sweep cell(s), numbered from 0"));
    if (!std::isfinite(args.t))
        throw runtime::BadInput(argument_error("--t", "the time must be a finite number"));
    // Before anything runs: the processes cost nothing to make, the estimator may take minutes.
    for (const auto& range : runtime::process_ranges(vp, registry, args.cell, target))
        if (!(args.t > 0.0 && args.t <= range.t_end))
            throw runtime::BadInput(argument_error(
                "--t",
                fmt::format("t = {} lies outside the time range {} of process '{}' ({}) that node '{}' works on",
                            args.t, runtime::range_text(range), range.node, range.plugin, args.node),
                fmt::format("a time in {}: the process ends at T = {}, and at t = 0 sigma is 0 (no score)",
                            runtime::range_text(range), range.t_end)));

    Matrix points;
    try {
        points = npy::read(args.points);
    } catch (const std::exception& e) {
        throw runtime::BadInput(argument_error("--points", e.what(), "a 2-D float64 .npy array, one point per row"));
    }

    for (std::size_t k = 0; k < points.size(); ++k)
        if (!std::isfinite(points.data()[k]))
            throw runtime::BadInput(argument_error("--points", args.points.string() + ": row " +
                                                                   std::to_string(k / std::max<std::size_t>(cols(points), 1)) +
                                                                   " is not finite"));

    const ThreadLimit threads(args.threads);
    ScratchObserver observer;
    const std::atomic<bool>& cancel = runtime::install_interrupt_handler();
    runtime::CellOutcome outcome;
    const NodeValue value = runtime::compute_node(vp, registry, args.cell, target, observer, cancel, &outcome);

    const auto* estimator = std::get_if<std::shared_ptr<const ScoreEstimator>>(&value);
    if (!estimator || !*estimator) {
        report_failures(args.pipeline, vp, outcome);
        bool input_error = false;
        for (const auto& node : outcome.nodes) input_error = input_error || node.input_error;
        if (cancel.load()) std::cerr << "mdlab: cancelled\n";
        return input_error ? 2 : 1;
    }
    const ScoreEstimator& est = **estimator;
    if (cols(points) != est.dim())
        throw runtime::BadInput(argument_error("--points",
                                               args.points.string() + " has " + std::to_string(cols(points)) +
                                                   " columns but node '" + args.node + "' scores points in R^" +
                                                   std::to_string(est.dim()),
                                               "one point per row, " + std::to_string(est.dim()) + " columns"));
    Matrix out;
    try {
        if (args.denoise)
            est.denoise(points, args.t, out);
        else
            est.score(points, args.t, out);
    } catch (const Error& e) {
        // The points and the time are the only things chosen here: a refusal is about them.
        throw runtime::BadInput(argument_error("--t", e.what(), "a time where the node's process has sigma(t) > 0"));
    }
    npy::write(args.out, out);
    std::cout << "wrote " << rows(out) << " x " << cols(out) << (args.denoise ? " denoised points" : " scores")
              << " of node '" << runtime::printable(args.node) << "' at t = " << args.t << " to "
              << runtime::printable(args.out.string()) << "\n";
    return 0;
}

}  // namespace mdlab::cli
