// mdlab: run, validate and inspect diffusion-on-manifolds pipelines.
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "mdlab/runtime/diagnostics.hpp"

#ifndef MDLAB_VERSION
#define MDLAB_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
    using namespace mdlab;
    CLI::App app{"mdlab " MDLAB_VERSION ": diffusion models on data manifolds, as reproducible pipelines"};
    app.set_version_flag("--version", MDLAB_VERSION);
    app.require_subcommand(1);
    std::vector<std::filesystem::path> plugin_dirs;
    auto add_plugin_dir = [&](CLI::App* cmd) {
        cmd->add_option("--plugin-dir", plugin_dirs, "folder of plugin libraries searched before the built-in ones (repeatable)");
    };

    cli::RunArgs run;
    CLI::App* run_cmd = app.add_subcommand("run", "validate and run a pipeline, writing a run folder");
    run_cmd->add_option("pipeline", run.pipeline, "pipeline JSON file")->required();
    run_cmd->add_option("--out,-o", run.out, "run folder (default runs/<pipeline>-<time>)");
    run_cmd->add_option("--set", run.sets, "override a parameter: node.key=value (repeatable)");
    run_cmd->add_option("--threads,-j", run.threads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
    run_cmd->add_flag("--force", run.force, "write into a non-empty run folder, replacing an earlier run's outputs");
    run_cmd->add_flag("--quiet,-q", run.quiet, "print no results table");
    add_plugin_dir(run_cmd);

    std::filesystem::path validate_file;
    std::vector<std::string> validate_sets;
    CLI::App* validate_cmd = app.add_subcommand("validate", "check a pipeline without running it");
    validate_cmd->add_option("pipeline", validate_file, "pipeline JSON file")->required();
    validate_cmd->add_option("--set", validate_sets, "override a parameter: node.key=value (repeatable)");
    add_plugin_dir(validate_cmd);

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

    cli::ScoreArgs score;
    CLI::App* score_cmd = app.add_subcommand("score", "evaluate an estimator node at given points and time, writing .npy");
    score_cmd->add_option("pipeline", score.pipeline, "pipeline JSON file")->required();
    score_cmd->add_option("--node", score.node, "id of the estimator node")->required();
    score_cmd->add_option("--t", score.t, "diffusion time")->required();
    score_cmd->add_option("--points", score.points, "query points: a 2-D float64 .npy file, one point per row")->required();
    score_cmd->add_option("--out,-o", score.out, "output .npy file (same shape as the points)")->required();
    score_cmd->add_option("--cell", score.cell, "sweep cell to take the node from (default 0)");
    score_cmd->add_option("--set", score.sets, "override a parameter: node.key=value (repeatable)");
    score_cmd->add_flag("--denoise", score.denoise, "write the Tweedie denoiser (x + sigma^2 s) / alpha instead of the score");
    score_cmd->add_option("--threads,-j", score.threads, "worker threads (default: all cores)")->check(CLI::PositiveNumber);
    add_plugin_dir(score_cmd);

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

    try {
        runtime::Registry registry;
        cli::load_plugins(registry, plugin_dirs);
        if (*run_cmd) return cli::run(run, registry);
        if (*validate_cmd) return cli::validate(validate_file, validate_sets, registry);
        if (*plugins_cmd) return cli::list_plugins(list, registry);
        if (*describe_cmd) return cli::describe(describe, registry);
        if (*score_cmd) return cli::score(score, registry);
    } catch (const runtime::BadInput& e) {
        for (const auto& d : e.diagnostics()) std::cerr << d.format() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mdlab: error: " << e.what() << "\n";
        return 1;
    }
    return 2;
}
