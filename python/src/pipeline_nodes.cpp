// mdlab.pipeline(...): a validated pipeline whose nodes are built in process. In: a pipeline
// (file or JSON text), --set overrides, the smoke flag. Out: a Pipeline object; node(id, cell)
// runs that node and its upstream exactly as `mdlab run` would for that sweep cell
// (runtime::compute_node) and returns it as a component object, points, (points, stats) for a
// sampler or a dict of values for a metric.
#include <atomic>
#include <memory>

#include <pybind11/stl.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "components.hpp"
#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/executor.hpp"
#include "mdlab/runtime/pipeline_source.hpp"
#include "scratch_context.hpp"

namespace mdlab::python {

namespace py = pybind11;

namespace {

struct PipelineHandle {
    std::shared_ptr<const runtime::ValidatedPipeline> pipeline;
    std::string name;
};

std::size_t node_index(const runtime::ValidatedPipeline& vp, const std::string& id, const std::string& name) {
    std::string ids;
    for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
        if (vp.nodes[i].id == id) return i;
        ids += (ids.empty() ? "" : ", ") + vp.nodes[i].id;
    }
    runtime::Diagnostic d;
    d.file = name;
    d.key = "node";
    d.message = "no node '" + id + "'";
    d.hint = "nodes: " + ids;
    throw runtime::BadInput(d);
}

// The first node of the cell that failed, as the exception a run would report.
[[noreturn]] void raise_failure(const runtime::CellOutcome& outcome, const runtime::ValidatedPipeline& vp,
                                const std::string& name) {
    for (std::size_t i = 0; i < outcome.nodes.size(); ++i) {
        const runtime::NodeOutcome& n = outcome.nodes[i];
        if (n.status != runtime::NodeStatus::failed) continue;
        if (n.input_error) {
            runtime::Diagnostic d;
            d.file = name;
            d.node = vp.nodes[i].id;
            d.key = n.error_key;
            d.message = n.error;
            throw runtime::BadInput(d);
        }
        throw Error(name + ": node '" + vp.nodes[i].id + "' failed: " + n.error);
    }
    throw Error(name + ": the node was not computed (cancelled)");
}

py::object node(const PipelineHandle& p, const std::string& id, std::size_t cell) {
    const runtime::ValidatedPipeline& vp = *p.pipeline;
    const std::size_t target = node_index(vp, id, p.name);
    if (cell >= vp.cells.size()) {
        runtime::Diagnostic d;
        d.file = p.name;
        d.key = "cell";
        d.message = "cell " + std::to_string(cell) + " does not exist";
        d.hint = "the pipeline has " + std::to_string(vp.cells.size()) + " sweep cell(s), numbered from 0";
        throw runtime::BadInput(d);
    }
    ScratchObserver observer;
    static const std::atomic<bool> never_cancelled{false};
    runtime::CellOutcome outcome;
    NodeValue value;
    {
        py::gil_scoped_release nogil;
        value = runtime::compute_node(vp, registry(), cell, target, observer, never_cancelled, &outcome);
    }
    if (target >= outcome.nodes.size() || outcome.nodes[target].status != runtime::NodeStatus::ok)
        raise_failure(outcome, vp, p.name);
    const Values& values = outcome.nodes[target].values;
    switch (vp.node(vp.cells[cell], target).plugin->spec.kind) {
    case Kind::metric: return to_dict(values);
    case Kind::sampler: return py::make_tuple(wrap(std::move(value), id), to_dict(values));
    default: {
        const runtime::Node& n = vp.node(vp.cells[cell], target);
        return wrap(std::move(value), id, n.plugin, vp.cells[cell].params[target]);
    }
    }
}

PipelineHandle read(const runtime::PipelineSource& source, const std::vector<std::string>& sets, bool smoke) {
    return PipelineHandle{std::make_shared<const runtime::ValidatedPipeline>(
                              runtime::read_and_validate(source, sets, smoke, registry())),
                          source.name()};
}

}  // namespace

void bind_pipeline(py::module_& m) {
    py::class_<PipelineHandle>(m, "Pipeline", "A validated pipeline (not run); node(id, cell) builds one node in process.")
        .def("node", &node, py::arg("id"), py::arg("cell") = 0,
             "Runs node `id` of sweep cell `cell` and its upstream as `mdlab run` would, and returns it: an "
             "Estimator, Manifold or Process; points for a data node; (points, stats) for a sampler; a dict for a metric.")
        .def_property_readonly("nodes", [](const PipelineHandle& p) {
            std::vector<std::string> ids;
            for (const auto& n : p.pipeline->nodes) ids.push_back(n.id);
            return ids;
        })
        .def_property_readonly("cells", [](const PipelineHandle& p) { return p.pipeline->cells.size(); })
        .def("seed", [](const PipelineHandle& p, std::size_t cell) { return p.pipeline->cells.at(cell).seed; },
             py::arg("cell") = 0, "The seed of sweep cell `cell`.")
        .def_readonly("name", &PipelineHandle::name)
        .def("__repr__", [](const PipelineHandle& p) { return "<mdlab.Pipeline '" + p.name + "'>"; });
    m.def("_pipeline_file",
          [](const std::string& file, const std::vector<std::string>& sets, bool smoke) {
              return read(runtime::PipelineSource::file(file), sets, smoke);
          },
          py::arg("file"), py::arg("sets"), py::arg("smoke"));
    m.def("_pipeline_text",
          [](const std::string& json, const std::string& name, const std::vector<std::string>& sets, bool smoke) {
              return read(runtime::PipelineSource::text(json, name), sets, smoke);
          },
          py::arg("json"), py::arg("name"), py::arg("sets"), py::arg("smoke"));
}

}  // namespace mdlab::python
