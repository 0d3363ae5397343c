// mdlab: run, validate and inspect diffusion-on-manifolds pipelines.
#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cmd_report.hpp"
#include "commands.hpp"
#include "option_checks.hpp"
#include "mdlab/runtime/cell_worker.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/mpi_launch.hpp"
#include "mdlab/error.hpp"
#include "mdlab/isa.hpp"
#ifdef MDLAB_HAVE_MPI
#include "mdlab/runtime/mpi_world.hpp"
#endif

#ifndef MDLAB_VERSION
#define MDLAB_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
    using namespace mdlab;
    CLI::App app{"mdlab " MDLAB_VERSION ": diffusion models on data manifolds, as reproducible pipelines"};
    app.set_version_flag("--version", MDLAB_VERSION);
    app.require_subcommand(1);
    app.failure_message(cli::failure_message);  // CLI11's errors echo arguments: escaped
    std::vector<std::filesystem::path> plugin_dirs;
    auto add_plugin_dir = [&](CLI::App* cmd) {
        cmd->add_option("--plugin-dir", plugin_dirs, "folder of plugin libraries searched before the built-in ones (repeatable)")
            ->check(cli::non_empty_path());
    };

    cli::RunArgs run;
    CLI::App* run_cmd = app.add_subcommand("run", "validate and run a pipeline, writing a run folder");
    run_cmd->add_option("pipeline", run.pipeline, "pipeline JSON file")->required();
    run_cmd->add_option("--out,-o", run.out, "run folder (default runs/<pipeline>-<time>)")->check(cli::non_empty_path());
    run_cmd->add_option("--set", run.sets, "override a parameter: node.key=value (repeatable)");
    run_cmd->add_option("--threads,-j", run.threads, "worker threads, at least 1 (default: all cores)")->check(cli::at_least_one());
    run_cmd->add_flag("--force", run.force, "write into a non-empty run folder, replacing an earlier run's outputs");
    run_cmd->add_flag("--quiet,-q", run.quiet, "print no results table");
    run_cmd->add_flag("--smoke", run.smoke, "run at the pipeline's declared small size (its \"smoke\" section)");
    run_cmd->add_option("--isolation", run.isolation,
                        "process: each cell runs in a worker process, so a crashing plugin fails its cell only "
                        "(default); none: in this process (for a debugger)")
        ->check(CLI::IsMember({"process", "none"}))
        ->capture_default_str();
    add_plugin_dir(run_cmd);
    // A run's cell worker process (isolated_run.hpp), started by `mdlab run`; not for users.
    CLI::App* worker_cmd = app.add_subcommand("cell-worker", "")->group("");
    // The child that loads plugin libraries first (library_probe.hpp); not for users either.
    CLI::App* probe_cmd = app.add_subcommand("probe-plugins", "")->group("");

    std::filesystem::path validate_file;
    std::vector<std::string> validate_sets;
    bool validate_smoke = false;
    CLI::App* validate_cmd = app.add_subcommand("validate", "check a pipeline without running it");
    validate_cmd->add_option("pipeline", validate_file, "pipeline JSON file")->required();
    validate_cmd->add_option("--set", validate_sets, "override a parameter: node.key=value (repeatable)");
    validate_cmd->add_flag("--smoke", validate_smoke, "check it at its declared smoke size");
    add_plugin_dir(validate_cmd);

    std::filesystem::path report_dir;
    CLI::App* report_cmd = app.add_subcommand("report", "rewrite a run folder's summary.csv, rates.csv and report.html");
    report_cmd->add_option("run_dir", report_dir, "run folder written by `mdlab run`")->required();

    cli::ListArgs list;
    CLI::App* plugins_cmd = app.add_subcommand("plugins", "list the available plugins");
    plugins_cmd->add_option("--kind", list.kind, "only this kind: manifold, process, estimator, sampler, metric, data");
    plugins_cmd->add_flag("--json", list.json, "machine-readable output");
    add_plugin_dir(plugins_cmd);

    cli::DescribeArgs describe;
    CLI::App* describe_cmd = app.add_subcommand("describe", "show a plugin's parameters and inputs");
    describe_cmd->add_option("name", describe.name, "plugin name")->required();
    describe_cmd->add_flag("--json", describe.json, "machine-readable output");
    add_plugin_dir(describe_cmd);

    std::filesystem::path docs_file;
    bool docs_check = false;
    std::vector<std::string> docs_optional;
    CLI::App* docs_cmd = app.add_subcommand("docs", "rewrite the plugin parameter tables of a Markdown file (docs/plugins.md) from the plugins' specs");
    docs_cmd->add_option("file", docs_file, "Markdown file with <!-- parameters: NAME --> ... <!-- end parameters --> regions")->required();
    docs_cmd->add_flag("--check", docs_check, "write nothing; exit 1 naming each stale table, undocumented plugin or unknown region");
    docs_cmd->add_option("--optional", docs_optional, "a plugin whose region may stay when this build lacks it (repeatable)");
    add_plugin_dir(docs_cmd);

    cli::ScoreArgs score;
    CLI::App* score_cmd = app.add_subcommand("score", "evaluate an estimator node at given points and time, writing .npy");
    score_cmd->add_option("pipeline", score.pipeline, "pipeline JSON file")->required();
    score_cmd->add_option("--node", score.node, "id of the estimator node")->required();
    score_cmd->add_option("--t", score.t, "diffusion time")->required();
    score_cmd->add_option("--points", score.points, "query points: a 2-D float64 .npy file, one point per row")->required();
    score_cmd->add_option("--out,-o", score.out, "output .npy file (same shape as the points)")
        ->required()
        ->check(cli::non_empty_path());
    score_cmd->add_option("--cell", score.cell, "sweep cell to take the node from (default 0)");
    score_cmd->add_option("--set", score.sets, "override a parameter: node.key=value (repeatable)");
    score_cmd->add_flag("--denoise", score.denoise, "write the Tweedie denoiser (x + sigma^2 s) / alpha instead of the score");
    score_cmd->add_option("--threads,-j", score.threads, "worker threads, at least 1 (default: all cores)")
        ->check(cli::at_least_one());
    add_plugin_dir(score_cmd);

    const CLI::Validator& at_least_one = cli::at_least_one();
    CLI::App* bench_cmd = app.add_subcommand("bench", "measure the score kernels' speed and the machine's FMA peak");
    bench_cmd->require_subcommand(1);
    // The workload options `bench score` and `bench run` share (cli::BenchWorkloadArgs).
    auto add_workload_options = [&](CLI::App* cmd, cli::BenchWorkloadArgs& w, const char* steps_doc,
                                    const char* warmup_doc) {
        cmd->add_option("--estimator,-e", w.estimator, "estimator plugin with a `data` input")->capture_default_str();
        cmd->add_option("--train,-N", w.train, "training points N on the circle")->check(at_least_one)->capture_default_str();
        cmd->add_option("--queries,-M", w.queries, "query points M (the samples)")->check(at_least_one)->capture_default_str();
        cmd->add_option("--dim,-D", w.dim, "ambient dimension D (>= 2)")->capture_default_str();
        cmd->add_option("--steps,-S", w.steps, steps_doc)->check(at_least_one)->capture_default_str();
        cmd->add_option("--warmup", w.warmup, warmup_doc)->capture_default_str();
        cmd->add_option("--precision", w.precision, "the estimator's `precision` parameter (default: its own)")
            ->check(CLI::IsMember({"f64", "f32"}));
        cmd->add_option("--bandwidth", w.bandwidth, "the estimator's `bandwidth` parameter");
        cmd->add_option("--t-min", w.t_min, "end of the log-SNR time grid")->capture_default_str();
        cmd->add_option("--param", w.params, "another estimator parameter: key=value (repeatable; e.g. spatial_index=false)");
        cmd->add_option("--threads,-j", w.threads, "worker threads (default: all cores)")->check(at_least_one);
        cmd->add_option("--seed", w.seed, "seed of the data, queries and noise")->capture_default_str();
        cmd->add_flag("--json", w.json, "one JSON object on stdout");
        add_plugin_dir(cmd);
    };
    cli::BenchScoreArgs bench;
    CLI::App* bench_score_cmd = bench_cmd->add_subcommand(
        "score", "time reverse-SDE steps of an estimator on circle data: ms per step, GFLOP/s, fraction of FMA peak, peak RSS");
    add_workload_options(bench_score_cmd, bench, "timed reverse-SDE steps", "untimed score calls before the timed steps");
    bench_score_cmd->add_option("--sigma", bench.sigma,
                                "run every step at the time where sigma(t) = this (small-noise measurement)");
    bench_score_cmd->add_option("--init", bench.init, "queries from the prior N(0, I) or from the noised data "
                                                      "(default: prior; data with --sigma)")
        ->check(CLI::IsMember({"prior", "data"}));
    bench_score_cmd->add_option("--peak-seconds", bench.peak_seconds, "duration of the FMA peak measurement")
        ->capture_default_str();

    cli::BenchRunArgs bench_run;
    CLI::App* bench_run_cmd = bench_cmd->add_subcommand(
        "run", "time a whole reverse-SDE sampling run of an estimator on circle data, and where its time goes by step");
    add_workload_options(bench_run_cmd, bench_run, "reverse-SDE steps of the run, all timed",
                         "untimed score calls before the run");
    bench_run_cmd->add_option("--bands", bench_run.bands, "the profile groups the steps into this many bands")
        ->check(at_least_one)->capture_default_str();

    cli::BenchPeakArgs bench_peak;
    CLI::App* bench_peak_cmd = bench_cmd->add_subcommand("peak", "measure the FMA peak (f64 and f32) on every thread");
    bench_peak_cmd->add_option("--threads,-j", bench_peak.threads, "worker threads (default: all cores)")
        ->check(at_least_one);
    bench_peak_cmd->add_option("--seconds", bench_peak.seconds, "duration of each measurement")->capture_default_str();
    bench_peak_cmd->add_flag("--json", bench_peak.json, "one JSON object on stdout");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }

#ifdef MDLAB_HAVE_MPI
    // Under mpirun/srun, `run` shares the sweep's cells among the ranks.
    std::optional<runtime::MpiWorld> world;
    if (*run_cmd && runtime::mpi_launch_size() != 0) world.emplace(argc, argv);
#else
    if (*run_cmd && runtime::mpi_launch_size() > 1) {
        std::cerr << "mdlab: error: started as one of " << runtime::mpi_launch_size()
                  << " MPI processes, but this mdlab was built without MPI (CMake found none, or MDLAB_MPI=OFF, or a sanitizer build), so every process "
                     "would run the whole sweep\n       install libopenmpi-dev openmpi-bin and rebuild "
                     "(scripts/bootstrap.sh build), or run mdlab without mpirun\n";
        return 2;
    }
#endif

    // A file-size limit (ulimit -f) then shows as a write error naming the file, like a full
    // disk, instead of killing the process.
    std::signal(SIGXFSZ, SIG_IGN);
    // The kernels' instruction-set path (MDLAB_ISA or the best the CPU has): a path this CPU
    // cannot run is refused before anything starts.
    try {
        isa::active();
    } catch (const InputError& e) {
        std::cerr << "mdlab: error: " << runtime::printable(e.what(), true) << "\n";
        return 2;
    }
    if (*worker_cmd) return runtime::serve_cell_worker();
    if (*probe_cmd) return runtime::serve_library_probe();
    try {
        if (*report_cmd) return cli::report(report_dir);  // reads files only: no plugins needed
        runtime::Registry registry;
        cli::load_plugins(registry, plugin_dirs);
#ifdef MDLAB_HAVE_MPI
        if (*run_cmd && world) return cli::run(run, registry, &*world);
#endif
        if (*run_cmd) return cli::run(run, registry);
        if (*validate_cmd) return cli::validate(validate_file, validate_sets, validate_smoke, registry);
        if (*plugins_cmd) return cli::list_plugins(list, registry);
        if (*describe_cmd) return cli::describe(describe, registry);
        if (*docs_cmd) return cli::docs(docs_file, docs_check, docs_optional, registry);
        if (*score_cmd) return cli::score(score, registry);
        if (*bench_score_cmd) return cli::bench_score(bench, registry);
        if (*bench_run_cmd) return cli::bench_run(bench_run, registry);
        if (*bench_peak_cmd) return cli::bench_peak(bench_peak);
    } catch (const runtime::BadInput& e) {
        for (const auto& d : e.diagnostics()) std::cerr << d.format() << "\n";
        return 2;
    } catch (const InputError& e) {  // a file the user gave, refused by the SDK's readers
        std::cerr << "mdlab: error: " << runtime::printable(e.what(), true) << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mdlab: error: " << runtime::printable(e.what(), true) << "\n";
        return 1;
    }
    return 2;
}
