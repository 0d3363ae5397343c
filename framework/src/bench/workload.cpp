#include "workload.hpp"

#include <random>
#include <string>

#include <fmt/format.h>
#include <mdlab/sampling.hpp>

#include "../execute/node_runner.hpp"
#include "../execute/run_context.hpp"
#include "mdlab/runtime/cancel.hpp"

namespace mdlab::runtime::bench {

namespace fs = std::filesystem;

namespace {

// A new folder under the temporary folder, named at random.
fs::path new_scratch_folder() {
    std::random_device rd;
    fs::path path = fs::temp_directory_path() / ("mdlab-bench-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
    return path;
}

}  // namespace

ScratchObserver::ScratchObserver() : OneFolderObserver(new_scratch_folder()) {}

ScratchObserver::~ScratchObserver() {
    std::error_code ec;
    fs::remove_all(cell_dir(0), ec);
}

namespace {

const PluginRecord& require_plugin(const Registry& registry, const std::string& name) {
    const PluginRecord* rec = registry.find(name);
    if (!rec) throw Error("mdlab bench needs the '" + name + "' plugin, which is not loaded");
    return *rec;
}

// The context of node `node` of the bench's one "cell".
RunContext node_context(std::uint64_t seed, const std::string& node, RunObserver& observer,
                        const std::atomic<bool>& cancel) {
    return RunContext(seed, node, 0, 0, observer, cancel);
}

}  // namespace

Workload::Workload(const BenchWorkload& workload, const Registry& registry)
    : workload_(workload), registry_(registry), cancel_(install_interrupt_handler()) {
    const PluginRecord& vp_rec = require_plugin(registry, "vp");
    vp_ = create_as<ForwardProcess>(vp_rec, bind_settings(vp_rec, {}), registry);
    if (!(workload.t_min > 0.0 && workload.t_min < vp_->t_end()))
        throw BadInput(
            option_error("--t-min", fmt::format("t_min = {} must be in (0, T = {})", workload.t_min, vp_->t_end())));
    const PluginRecord& circle_rec = require_plugin(registry, "circle");
    circle_ = create_as<Manifold>(
        circle_rec,
        bind_settings(circle_rec, {{"ambient_dim", boost::json::value(std::int64_t(workload.dim)), "--dim"}}), registry);
    RunContext circle_ctx = node_context(workload.seed, "circle", scratch_, cancel_);
    circle_->prepare(circle_ctx);
}

void Workload::draw_training_set() {
    const RunContext data_ctx = node_context(workload_.seed, "train", scratch_, cancel_);
    data_ = std::make_shared<const Matrix>(circle_->sample(workload_.train, data_ctx.stream("draw")));
}

Matrix Workload::prior_queries() const {
    Matrix x = Matrix::from_shape({workload_.queries, workload_.dim});
    step_noise(RandomStream(workload_.seed, "bench/queries"), 0, x);
    const double s0 = vp_->prior_std();
    for (auto& v : x) v *= s0;
    return x;
}

std::shared_ptr<ScoreEstimator> Workload::prepare_estimator(const EstimatorChoice& choice, const Matrix& x) const {
    Inputs inputs;
    inputs.set("data", data_);
    for (const auto& port : choice.rec->spec.inputs) {
        if (port.kind == ValueKind::process) inputs.set(port.name, std::shared_ptr<const ForwardProcess>(vp_));
        if (port.kind == ValueKind::manifold) inputs.set(port.name, std::shared_ptr<const Manifold>(circle_));
        if (choice.wants_model && port.name == "model") inputs.set(port.name, std::make_shared<const Matrix>(x));
    }
    return as_bad_input(choice.settings, [&] {
        auto est = create_as<ScoreEstimator>(*choice.rec, choice.params, registry_);
        RunContext est_ctx = node_context(workload_.seed, "score", scratch_, cancel_);
        est->prepare(inputs, est_ctx);
        return est;
    });
}

}  // namespace mdlab::runtime::bench
