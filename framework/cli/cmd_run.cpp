// mdlab run / mdlab validate: the arguments go to the runtime's Run (runtime/run.hpp); what
// comes back is printed: the summary over seeds and the analysis on stdout (unless --quiet), the
// failures, resume and cancel notes on stderr, and the run folder.
#include <iostream>

#include "commands.hpp"
#include "mdlab/runtime/analysis.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/run.hpp"
#include "mdlab/runtime/variant_differences.hpp"

namespace mdlab::cli {

namespace {

void print_failures(const std::string& pipeline, const std::vector<runtime::NodeFailure>& failures) {
    using runtime::printable;
    for (const auto& f : failures)
        std::cerr << printable(pipeline) << ": error: cell " << f.cell << ", node '" << printable(f.node) << "'"
                  << (f.key.empty() ? "" : ", key '" + printable(f.key) + "'") << ": " << printable(f.message, true)
                  << "\n";
}

runtime::RunOptions run_options(const RunArgs& args) {
    runtime::RunOptions o;
    o.out = args.out;
    o.sets = args.sets;
    o.smoke = args.smoke;
    o.force = args.force;
    o.threads = args.threads;
    o.isolation = *runtime::isolation_from(args.isolation);  // CLI11 checked the name
    return o;
}

}  // namespace

void report_failures(const std::filesystem::path& pipeline, const runtime::ValidatedPipeline& vp,
                     const runtime::CellOutcome& cell) {
    print_failures(pipeline.string(), runtime::node_failures(vp, cell));
}

int validate(const std::filesystem::path& file, const std::vector<std::string>& sets, bool smoke,
             const runtime::Registry& registry) {
    const runtime::ValidatedPipeline vp =
        runtime::read_and_validate(runtime::PipelineSource::file(file), sets, smoke, registry);
    std::cout << runtime::printable(file.string()) << ": ok: " << vp.nodes.size() << " nodes, " << vp.cells.size() << " sweep cell"
              << (vp.cells.size() == 1 ? "" : "s") << "\n"
              << runtime::printable(runtime::variant_differences_text(runtime::variant_differences(vp)), true);
    return 0;
}

int run(const RunArgs& args, const runtime::Registry& registry, runtime::MpiWorld* world) {
    runtime::Run run(registry, runtime::PipelineSource::file(args.pipeline), run_options(args), world);
    const runtime::RunResult r = run.execute();
    if (r.worker) return r.exit_code();  // rank 0 of the MPI job prints for every rank

    if (r.resumed)
        std::cerr << "mdlab: resumed " << runtime::printable(r.folder.string()) << ": " << r.resumed_cells << " of " << r.cells
                  << " cells had finished in an earlier run and were not run again\n";
    if (!args.quiet)  // the summary over seeds, one row per configuration, not every cell's row
        std::cout << runtime::printable(
            runtime::summary_text(r.analysis.run, r.analysis.summary) + runtime::analysis_text(r.analysis), true);
    print_failures(run.source().name(), r.failures);
    if (r.cancelled()) std::cerr << "mdlab: run cancelled after " << r.outcome.cells.size() << " of " << r.cells << " cells\n";
    std::cout << "run folder: " << runtime::printable(r.folder.string()) << "\n";
    return r.exit_code();
}

}  // namespace mdlab::cli
