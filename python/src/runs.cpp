// Runs from Python. In: a pipeline (a file, or JSON text with the name messages give it) and the
// options of `mdlab run`. Out: the run folder, written as the command writes it, and what the
// folder does not hold (exit code, failures with their keys, resumed and cancelled cells);
// mdlab/runs.py reads the rest from the folder.
//
// The run executes on a thread of its own while the calling thread, holding the GIL only between
// short waits, polls for Python signals: on Ctrl-C (KeyboardInterrupt) it sets the run's cancel
// flag (the runtime's own SIGINT handler is never installed), waits for the run to stop after
// its current cell and re-raises KeyboardInterrupt; the folder can then be resumed.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"
#include "callable_pipeline.hpp"
#include "mdlab/runtime/run.hpp"

namespace mdlab::python {

namespace py = pybind11;

namespace {

struct RunRequest {
    std::string pipeline;  // a file's path, or JSON text
    bool is_text = false;
    std::string name;  // the text's name in messages ("<dict>", "<string>")
    runtime::RunOptions options;
};

runtime::PipelineSource source_of(const RunRequest& r) {
    return r.is_text ? runtime::PipelineSource::text(r.pipeline, r.name) : runtime::PipelineSource::file(r.pipeline);
}

// Waits for the run's result in short slices without the GIL; between them checks for a
// Python signal. A KeyboardInterrupt (or any error a signal handler raised) cancels the run.
runtime::RunResult wait_polling_signals(std::future<runtime::RunResult>& result, std::atomic<bool>& cancel,
                                        std::optional<py::error_already_set>& interrupt) {
    using namespace std::chrono_literals;
    for (;;) {
        {
            py::gil_scoped_release nogil;
            if (result.wait_for(50ms) == std::future_status::ready) break;
        }
        if (!interrupt && PyErr_CheckSignals() != 0) {
            interrupt.emplace();  // takes the error out of the interpreter until re-raised
            cancel = true;
        }
    }
    py::gil_scoped_release nogil;
    return result.get();
}

py::dict result_dict(const runtime::RunResult& r) {
    py::list failures;
    for (const auto& f : r.failures)
        failures.append(py::dict(py::arg("cell") = f.cell, py::arg("node") = f.node,
                                 py::arg("key") = f.key.empty() ? py::object(py::none()) : py::str(f.key),
                                 py::arg("message") = f.message, py::arg("input_error") = f.input_error));
    return py::dict(py::arg("folder") = r.folder.string(), py::arg("exit_code") = r.exit_code(),
                    py::arg("failures") = failures, py::arg("cells") = r.cells,
                    py::arg("cells_run") = r.outcome.cells.size(), py::arg("cancelled") = r.cancelled(),
                    py::arg("resumed") = r.resumed, py::arg("resumed_cells") = r.resumed_cells);
}

py::dict run_pipeline(RunRequest request, const py::dict& callables) {
    CallablesForRun lent(callables);  // the `callable` nodes' Python functions (callable_pipeline.hpp)
    std::atomic<bool> cancel{false};
    request.options.cancel = &cancel;
    std::unique_ptr<runtime::Run> run;
    {
        py::gil_scoped_release nogil;
        run = std::make_unique<runtime::Run>(registry(), source_of(request), request.options);
    }
    std::packaged_task<runtime::RunResult()> task([&run] { return run->execute(); });
    std::future<runtime::RunResult> result = task.get_future();
    std::thread worker(std::move(task));
    std::optional<py::error_already_set> interrupt;
    std::optional<runtime::RunResult> r;
    try {
        r = wait_polling_signals(result, cancel, interrupt);
    } catch (...) {
        cancel = true;
        worker.join();
        throw;
    }
    worker.join();
    if (interrupt) throw *interrupt;
    lent.rethrow();  // an exception a Python callable raised, as itself
    return result_dict(*r);
}

}  // namespace

void bind_runs(py::module_& m) {
    m.def(
        "run_pipeline",
        [](std::string pipeline, bool is_text, std::string name, std::string out, std::vector<std::string> sets,
           bool smoke, bool force, int threads, bool progress, const py::dict& callables, const std::string& isolation) {
            RunRequest r{std::move(pipeline), is_text, std::move(name), {}};
            r.options.out = out;
            r.options.sets = std::move(sets);
            r.options.smoke = smoke;
            r.options.force = force;
            r.options.threads = threads;
            r.options.progress = progress;
            const auto how = runtime::isolation_from(isolation);
            if (!how) throw py::value_error("isolation: '" + isolation + "' is not one of: process, none");
            r.options.isolation = *how;
            return run_pipeline(std::move(r), callables);
        },
        py::arg("pipeline"), py::arg("is_text"), py::arg("name"), py::arg("out"), py::arg("sets"), py::arg("smoke"),
        py::arg("force"), py::arg("threads"), py::arg("progress"), py::arg("callables") = py::dict(), py::arg("isolation") = "process",
        "Runs a pipeline (a file, or JSON text named `name`) as `mdlab run` does; returns the folder, exit code, "
        "failures and cell counts. Ctrl-C stops it after the current cell and raises KeyboardInterrupt.");
}

}  // namespace mdlab::python
