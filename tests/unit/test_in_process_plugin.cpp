// In-process plugins (Registry::add_in_process): components the host program defines itself,
// as the Python module does for a Python callable used as a score estimator. In: a registry with
// the built-in plugins and an in-process estimator giving the exact score of N(0, I) data. Out:
// checks that it is found and created like a library's plugin, that a pipeline runs it as an
// estimator node (checked by the runtime like any other), that its factory's InputError is
// reported at the node's parameter before anything runs, and that a loaded name is not replaced.
#include <atomic>
#include <cmath>

#include <catch2/catch.hpp>

#include "command.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/pipeline_source.hpp"
#include "mdlab/runtime/registry.hpp"
#include "mdlab_test.hpp"

using namespace mdlab;

namespace {

// The score of alpha x0 + sigma eps with x0 ~ N(0, I): -x / (alpha^2 + sigma^2).
class StandardNormalScore : public ScoreEstimator {
public:
    explicit StandardNormalScore(std::size_t dim) : dim_(dim) {}
    void prepare(const Inputs& inputs, Context&) override { process_ = inputs.process("process"); }
    std::size_t dim() const override { return dim_; }
    const ForwardProcess& process() const override { return *process_; }
    void score(const Matrix& x, double t, Matrix& out) const override {
        const double a = process_->alpha(t), s = process_->sigma(t);
        out = -x / (a * a + s * s);
    }

private:
    std::size_t dim_;
    std::shared_ptr<const ForwardProcess> process_;
};

PluginSpec standard_normal_spec() {
    PluginSpec spec("standard_normal_score", "1.0.0", "exact score of N(0, I) data (a test's in-process plugin)");
    spec.kind = Kind::estimator;
    spec.input("process", ValueKind::process, "forward process");
    spec.param(integer("dim", 2, "dimension").at_least(1));
    return spec;
}

// The built-in plugins plus the in-process estimator; its factory refuses dim = 7.
runtime::Registry& registry_with_in_process() {
    static runtime::Registry* reg = [] {
        auto* r = new runtime::Registry();
        r->load({test::plugin_dir()});
        r->add_in_process(standard_normal_spec(), [](const Params& p) -> std::unique_ptr<Component> {
            if (p.integer("dim") == 7) throw InputError("dim 7 is refused by this test", "dim");
            return std::make_unique<StandardNormalScore>(static_cast<std::size_t>(p.integer("dim")));
        });
        return r;
    }();
    return *reg;
}

std::string pipeline(int dim) {
    return R"({"seed": 4, "nodes": [
      {"id": "vp", "plugin": "vp"},
      {"id": "score", "plugin": "standard_normal_score", "params": {"dim": )" +
           std::to_string(dim) + R"(}, "inputs": {"process": "vp"}},
      {"id": "gen", "plugin": "euler_maruyama", "params": {"n": 4000, "steps": 200}, "inputs": {"score": "score"}}
    ]})";
}

Params dim_params(std::int64_t dim) {
    Params p;
    p.set("dim", dim);
    return p;
}

}  // namespace

TEST_CASE("an in-process plugin is found and created like a library's plugin") {
    const runtime::Registry& reg = registry_with_in_process();
    const runtime::PluginRecord* rec = reg.find("standard_normal_score");
    REQUIRE(rec);
    CHECK_FALSE(rec->builtin());
    CHECK(rec->file.empty());
    CHECK(rec->spec.kind == Kind::estimator);
    CHECK(std::dynamic_pointer_cast<ScoreEstimator>(reg.create(*rec, dim_params(3))));
    CHECK(reg.find("sample")->builtin());  // the framework's own step stays one
}

TEST_CASE("a pipeline runs an in-process estimator as the score of a built-in sampler") {
    const auto vp = runtime::read_and_validate(runtime::PipelineSource::text(pipeline(2), "in_process.json"), {}, false,
                                               registry_with_in_process());
    test::TempDir scratch;
    runtime::OneFolderObserver observer(scratch.path());
    std::atomic<bool> cancel{false};
    const NodeValue value = runtime::compute_node(vp, registry_with_in_process(), 0, 2, observer, cancel);
    const auto* samples = std::get_if<std::shared_ptr<const Matrix>>(&value);
    REQUIRE(samples);
    REQUIRE(rows(**samples) == 4000);
    REQUIRE(cols(**samples) == 2);
    double var = 0.0;
    for (std::size_t k = 0; k < (*samples)->size(); ++k) var += (*samples)->data()[k] * (*samples)->data()[k];
    var /= static_cast<double>((*samples)->size());
    CHECK(std::abs(var - 1.0) < 0.1);  // the sampler reproduces N(0, I)
}

TEST_CASE("an in-process plugin's InputError is reported at the node's parameter before anything runs") {
    try {
        runtime::read_and_validate(runtime::PipelineSource::text(pipeline(7), "in_process.json"), {}, false,
                                   registry_with_in_process());
        FAIL("validation accepted dim = 7");
    } catch (const runtime::BadInput& e) {
        REQUIRE(e.diagnostics().size() == 1);
        const std::string text = e.diagnostics()[0].format();
        CHECK(text.find("in_process.json") != std::string::npos);
        CHECK(text.find("score") != std::string::npos);
        CHECK(text.find("dim 7 is refused") != std::string::npos);
    }
}

TEST_CASE("an in-process plugin does not replace a loaded plugin of the same name") {
    runtime::Registry reg;
    reg.load({test::plugin_dir()});
    PluginSpec spec = standard_normal_spec();
    spec.name = "empirical";
    reg.add_in_process(spec, [](const Params&) -> std::unique_ptr<Component> { return nullptr; });
    CHECK_FALSE(reg.find("empirical")->make);
    CHECK(reg.notes().back().find("shadowed") != std::string::npos);
    CHECK_THROWS_AS(reg.add_in_process(standard_normal_spec(), nullptr), Error);
}
