// A Python callable as a ScoreEstimator (see callable_score.hpp for the contract and threads).
#include "callable_score.hpp"

#include <cmath>
#include <mutex>

#include <fmt/format.h>
#include <pybind11/numpy.h>

namespace mdlab::python {

namespace py = pybind11;

SharedPyObject share_py_object(py::object o) {
    return SharedPyObject(new py::object(std::move(o)), [](py::object* p) {
        if (Py_IsInitialized()) {
            py::gil_scoped_acquire gil;
            delete p;
        } else {
            p->release();  // the interpreter is gone: nothing left to release
            delete p;
        }
    });
}

void CallbackError::restore() const {
    const py::object& e = *exception_;
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(e.ptr())), e.ptr());
}

void FirstCallbackError::keep(const CallbackError& e) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = e;
}

void FirstCallbackError::rethrow() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (error_) throw *error_;
}

void bind_callable_errors() {
    // Registered after bind_errors(): translators run newest first, so this one sees a
    // CallbackError before the PluginError translator (CallbackError is an mdlab::Error).
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const CallbackError& e) {
            e.restore();
        }
    });
}

namespace {

// Serialises the calls to every Python score function of the process: two estimators (two nodes,
// two cells) may share one function, and Python code runs one thread at a time anyway.
std::mutex python_calls;

// Adds `note` to a Python exception (PEP 678; on Python < 3.11 the note is kept in __notes__,
// which tracebacks do not print there).
void add_note(const py::object& exception, const std::string& note) {
    if (py::hasattr(exception, "add_note")) {
        exception.attr("add_note")(note);
        return;
    }
    py::list notes = py::hasattr(exception, "__notes__") ? py::list(exception.attr("__notes__")) : py::list();
    notes.append(note);
    exception.attr("__notes__") = notes;
}

class CallableEstimator : public ScoreEstimator {
public:
    CallableEstimator(SharedPyObject f, std::shared_ptr<const ForwardProcess> process, std::size_t dim, std::string node,
                      std::shared_ptr<FirstCallbackError> first)
        : f_(std::move(f)), process_(std::move(process)), dim_(dim), node_(std::move(node)), first_(std::move(first)) {}

    // In a pipeline: the node's id and its `process` input.
    void prepare(const Inputs& inputs, Context& ctx) override {
        if (node_.empty()) node_ = ctx.node_id();
        if (inputs.has("process")) process_ = inputs.process("process");
        if (!process_) throw Error("score estimator '" + node_ + "' (Python callable) has no forward process");
    }
    std::size_t dim() const override { return dim_; }
    const ForwardProcess& process() const override { return *process_; }

    void score(const Matrix& x, double t, Matrix& out) const override {
        if (cols(x) != dim_)
            throw InputError(fmt::format("score estimator '{}' (Python callable) scores points in R^{}, given {} columns",
                                         node_, dim_, cols(x)));
        const std::unique_lock<std::mutex> lock = lock_without_gil();
        py::gil_scoped_acquire gil;
        py::object result;
        try {
            result = (*f_)(read_only_view(x), t);
        } catch (py::error_already_set& e) {
            CallbackError error = callback_error(e, t);
            if (first_) first_->keep(error);
            throw error;
        }
        copy_result(result, rows(x), t, out);
    }

private:
    // The mutex that serialises the calls, taken without holding the GIL: a thread waiting here
    // while holding it would block the thread inside the callback forever.
    static std::unique_lock<std::mutex> lock_without_gil() {
        if (PyGILState_Check()) {
            py::gil_scoped_release release;
            return std::unique_lock<std::mutex>(python_calls);
        }
        return std::unique_lock<std::mutex>(python_calls);
    }

    // x as a float64 numpy array over the Matrix's own memory (the capsule base keeps pybind11
    // from copying it), flagged read-only.
    static py::array read_only_view(const Matrix& x) {
        const auto n = static_cast<py::ssize_t>(rows(x)), d = static_cast<py::ssize_t>(cols(x));
        py::array view(py::dtype::of<double>(), {n, d},
                       {d * static_cast<py::ssize_t>(sizeof(double)), static_cast<py::ssize_t>(sizeof(double))}, x.data(),
                       py::capsule(x.data(), [](void*) {}));
        py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return view;
    }

    CallbackError callback_error(py::error_already_set& e, double t) const {
        py::object exception = e.value();
        if (e.trace()) PyException_SetTraceback(exception.ptr(), e.trace().ptr());  // where f raised it
        const std::string note = fmt::format("in score estimator '{}' (Python callable) at t = {}", node_, t);
        add_note(exception, note);
        const std::string text = fmt::format("{}: {} ({})", py::str(py::type::handle_of(exception).attr("__name__")).cast<std::string>(),
                                             py::str(exception).cast<std::string>(), note);
        return CallbackError(text, share_py_object(std::move(exception)));
    }

    std::string fault(double t, const std::string& what) const {
        return fmt::format("score estimator '{}' (Python callable) at t = {}: {}", node_, t, what);
    }

    // The callback's result (a numpy array or a torch tensor) checked and copied into out.
    void copy_result(py::object result, std::size_t n, double t, Matrix& out) const {
        if (!py::isinstance<py::array>(result) && py::hasattr(result, "detach") && py::hasattr(result, "numpy"))
            result = result.attr("detach")().attr("cpu")().attr("numpy")();  // a torch tensor
        if (!py::isinstance<py::array>(result))
            throw InputError(fault(t, "returned a " + py::str(py::type::handle_of(result).attr("__name__")).cast<std::string>() +
                                          ", not a numpy array (or torch tensor) of scores"));
        const auto a = py::reinterpret_borrow<py::array>(result);
        if (a.ndim() != 2 || static_cast<std::size_t>(a.shape(0)) != n || static_cast<std::size_t>(a.shape(1)) != dim_) {
            std::string shape;
            for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? " x " : "") + std::to_string(a.shape(i));
            throw InputError(fault(t, fmt::format("returned an array of shape ({}), not {} x {} (one score per point)",
                                                  shape, n, dim_)));
        }
        out = Matrix::from_shape({n, dim_});
        if (py::isinstance<py::array_t<double>>(a))
            copy_rows<double>(a, t, out);
        else if (py::isinstance<py::array_t<float>>(a))
            copy_rows<float>(a, t, out);
        else
            throw InputError(fault(t, "returned an array of dtype " + py::str(a.dtype()).cast<std::string>() +
                                          ", not float64 or float32"));
    }

    template <class T>
    void copy_rows(const py::array& a, double t, Matrix& out) const {
        const auto in = a.unchecked<T, 2>();  // any strides
        for (py::ssize_t i = 0; i < in.shape(0); ++i)
            for (py::ssize_t j = 0; j < in.shape(1); ++j) {
                const double v = static_cast<double>(in(i, j));
                if (!std::isfinite(v)) throw InputError(fault(t, fmt::format("returned a non-finite score ({}) in row {}", v, i)));
                out(static_cast<std::size_t>(i), static_cast<std::size_t>(j)) = v;
            }
    }

    SharedPyObject f_;
    std::shared_ptr<const ForwardProcess> process_;
    std::size_t dim_;
    std::string node_;
    std::shared_ptr<FirstCallbackError> first_;
};

}  // namespace

std::shared_ptr<ScoreEstimator> callable_estimator(py::object f, std::shared_ptr<const ForwardProcess> process,
                                                   std::size_t dim, std::string node) {
    if (!PyCallable_Check(f.ptr()))
        throw InputError("the score of '" + node + "' is a " + py::str(py::type::handle_of(f).attr("__name__")).cast<std::string>() +
                         ", not a callable f(x, t)");
    return callable_estimator(share_py_object(std::move(f)), std::move(process), dim, std::move(node), nullptr);
}

std::unique_ptr<ScoreEstimator> callable_estimator(SharedPyObject f, std::shared_ptr<const ForwardProcess> process,
                                                   std::size_t dim, std::string node,
                                                   std::shared_ptr<FirstCallbackError> first) {
    return std::make_unique<CallableEstimator>(std::move(f), std::move(process), dim, std::move(node), std::move(first));
}

}  // namespace mdlab::python
