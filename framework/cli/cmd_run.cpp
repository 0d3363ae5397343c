// mdlab run / mdlab validate
#include <iostream>

#include <tbb/global_control.h>

#include "commands.hpp"
#include "mdlab/runtime/analysis.hpp"
#include "mdlab/runtime/cancel.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/json_pretty.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/progress_bar.hpp"
#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace mdlab::cli {

runtime::ValidatedPipeline read_and_validate(const std::filesystem::path& file, const std::vector<std::string>& sets,
                                             const runtime::Registry& registry, bool smoke) {
    runtime::Pipeline pipeline = runtime::read_pipeline(file);
    // The smoke size's overrides go first, so the command line's --set has the last word.
    std::vector<runtime::Override> overrides;
    if (smoke) overrides = runtime::apply_smoke(pipeline);
    std::vector<runtime::Diagnostic> bad;
    for (const auto& s : sets) {
        try {
            overrides.push_back(runtime::parse_override(s));
        } catch (const runtime::BadInput& e) {
            bad.insert(bad.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    if (!bad.empty()) throw runtime::BadInput(bad);
    return runtime::validate(std::move(pipeline), overrides, registry);
}

void report_failures(const std::filesystem::path& pipeline, const runtime::ValidatedPipeline& vp,
                     const runtime::CellOutcome& cell) {
    for (std::size_t i = 0; i < cell.nodes.size(); ++i)
        if (cell.nodes[i].status == runtime::NodeStatus::failed)
            std::cerr << pipeline.string() << ": error: cell " << cell.index << ", node '" << vp.nodes[i].id << "'"
                      << (cell.nodes[i].error_key.empty() ? "" : ", key '" + cell.nodes[i].error_key + "'") << ": "
                      << cell.nodes[i].error << "\n";
}

int validate(const std::filesystem::path& file, const std::vector<std::string>& sets, bool smoke,
             const runtime::Registry& registry) {
    const runtime::ValidatedPipeline vp = read_and_validate(file, sets, registry, smoke);
    std::cout << file.string() << ": ok: " << vp.nodes.size() << " nodes, " << vp.cells.size() << " sweep cell"
              << (vp.cells.size() == 1 ? "" : "s") << "\n";
    return 0;
}

void start_run_log(const RunArgs& args, const runtime::ValidatedPipeline& vp, runtime::RunDirectory& dir, int ranks) {
    dir.write("pipeline.json", runtime::json_pretty(runtime::resolved_pipeline(vp)));
    dir.log("mdlab run " + args.pipeline.string() + (args.smoke ? " --smoke" : "") + ": " + std::to_string(vp.nodes.size()) +
            " nodes, " + std::to_string(vp.cells.size()) + (vp.cells.size() == 1 ? " cell" : " cells") +
            (ranks > 1 ? " on " + std::to_string(ranks) + " MPI ranks" : "") +
            (dir.resuming() ? " (resuming the run in this folder)" : ""));
}

int finish_run(const RunArgs& args, const runtime::ValidatedPipeline& vp, runtime::RunDirectory& dir,
               runtime::ProgressBar& bar, const runtime::RunOutcome& outcome) {
    bar.finish();
    if (dir.resuming())
        std::cerr << "mdlab: resumed " << dir.path().string() << ": " << dir.resumed_cells() << " of " << vp.cells.size()
                  << " cells had finished in an earlier run and were not run again\n";

    const auto rows = runtime::metric_rows(vp, outcome);
    dir.write("results.csv", runtime::results_csv(vp, rows));
    dir.write("results.json", runtime::json_pretty(runtime::results_json(vp, outcome)));
    const runtime::Analysis analysis = runtime::write_analysis(dir.path());  // summary.csv, rates.csv, report.html

    if (!args.quiet) std::cout << runtime::results_text(vp, rows) << runtime::analysis_text(analysis);
    for (const auto& cell : outcome.cells) report_failures(args.pipeline, vp, cell);
    if (outcome.cancelled) std::cerr << "mdlab: run cancelled after " << outcome.cells.size() << " of " << vp.cells.size() << " cells\n";
    std::cout << "run folder: " << dir.path().string() << "\n";
    if (outcome.ok()) return 0;
    return outcome.input_error() ? 2 : 1;
}

int run(const RunArgs& args, const runtime::Registry& registry) {
    const runtime::ValidatedPipeline vp = read_and_validate(args.pipeline, args.sets, registry, args.smoke);
    const ThreadLimit threads(args.threads);
    runtime::ProgressBar bar(vp.cells.size(), vp.nodes.size(), runtime::ProgressBar::stderr_is_terminal());
    runtime::RunDirectory dir(args.out.empty() ? runtime::default_run_dir(args.pipeline) : args.out, args.force, &bar);
    start_run_log(args, vp, dir, 1);
    const std::atomic<bool>& cancel = runtime::install_interrupt_handler();
    return finish_run(args, vp, dir, bar, runtime::execute(vp, registry, dir, cancel));
}

}  // namespace mdlab::cli
