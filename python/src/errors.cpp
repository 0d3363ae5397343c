// mdlab's errors as Python exceptions. In: a C++ exception leaving a bound function. Out:
//   mdlab.InputError (a ValueError): bad pipelines, parameters, arrays or files, with the same
//       text as the command line (file:line:col, node, key, the valid choices), one per line;
//   mdlab.PluginError (a RuntimeError): a plugin or a run that failed on good input.
#include "bindings.hpp"
#include "mdlab/error.hpp"
#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::python {

namespace py = pybind11;

void bind_errors(py::module_& m) {
    static py::exception<runtime::BadInput> input_error(m, "InputError", PyExc_ValueError);
    static py::exception<Error> plugin_error(m, "PluginError", PyExc_RuntimeError);
    // Tracebacks name them as users import them: mdlab.InputError, not mdlab._mdlab.InputError.
    input_error.attr("__module__") = "mdlab";
    plugin_error.attr("__module__") = "mdlab";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const runtime::BadInput& e) {
            std::string text;
            for (const auto& d : e.diagnostics()) text += (text.empty() ? "" : "\n") + d.format();
            input_error(text.c_str());
        } catch (const InputError& e) {
            input_error(e.what());
        } catch (const Error& e) {
            plugin_error(e.what());
        }
    });
}

}  // namespace mdlab::python
