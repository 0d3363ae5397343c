// A Python callable f(x, t) -> scores as mdlab's ScoreEstimator. In: the callable, the forward
// process (or the node's `process` input, given at prepare()), the dimension and the node's
// name. Out: an estimator any built-in sampler or score metric can use; denoise() is Tweedie's
// formula over score() (the SDK's default).
//
// Each score() call takes the GIL only around the callback. x reaches f as a read-only float64
// numpy view of the points (n x dim, no copy, valid during the call only); f returns an array of
// the same shape, float64 or float32 (or a torch tensor, converted once with .numpy()), with
// finite values, copied into the result.
//
// Threads: the nodes of a run (samplers, metrics, cells) call score() from oneTBB worker threads
// in parallel. The calls to Python score functions are serialised by one mutex, taken before the
// GIL (and with the GIL released when the calling thread holds it), so that a callable that is
// not thread-safe (a network with state, a counter; shared by two nodes) is safe, and no two
// threads wait on each other's lock. The GIL would serialise the Python code anyway; only code
// that releases it (torch kernels) loses some parallelism. (A mutex rather than one calling
// thread: no queue to hand calls over, and a sampler called from Python runs on its caller.)
//
// Errors: an exception f raises leaves score() as CallbackError, carrying the Python exception
// with a note naming the node and t; the module's translator raises that same object again in
// Python. A wrong shape, dtype or a non-finite value throws mdlab::InputError naming the node.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <pybind11/pybind11.h>

#include <mdlab/components.hpp>

// Types holding Python objects are hidden, as pybind11's own are (else GCC warns).
#define MDLAB_PY_HIDDEN __attribute__((visibility("hidden")))

namespace mdlab::python {

// A Python object that may be released on a thread without the GIL (a oneTBB worker, the
// runtime's node cache): its last owner takes the GIL to drop the reference.
using SharedPyObject = std::shared_ptr<pybind11::object>;
SharedPyObject share_py_object(pybind11::object o);

// A Python exception raised by a callable while C++ ran, on its way back to Python. what() is
// "<type>: <message>" plus the note, for the run's log and the node's failure.
class MDLAB_PY_HIDDEN CallbackError : public Error {  // holds Python objects: as hidden as pybind11's
public:
    CallbackError(const std::string& what, SharedPyObject exception) : Error(what), exception_(std::move(exception)) {}
    // Sets the Python error indicator to the original exception (needs the GIL).
    void restore() const;

private:
    SharedPyObject exception_;
};

// The first CallbackError of a run, kept so that the run raises it in Python when it returns
// (the runtime itself records only the text of a node's failure). Thread-safe.
class MDLAB_PY_HIDDEN FirstCallbackError {
public:
    void keep(const CallbackError& e);
    // Throws the kept error, if any (the translator then raises it in Python).
    void rethrow() const;

private:
    mutable std::mutex mutex_;
    std::optional<CallbackError> error_;
};

// `process` may be null and `node` empty: the estimator then takes its node's `process` input
// and id at prepare().
// Throws InputError when f is not callable.
std::shared_ptr<ScoreEstimator> callable_estimator(pybind11::object f, std::shared_ptr<const ForwardProcess> process,
                                                   std::size_t dim, std::string node);
// The same without the GIL (f checked already), reporting raised exceptions to `first` too.
std::unique_ptr<ScoreEstimator> callable_estimator(SharedPyObject f, std::shared_ptr<const ForwardProcess> process,
                                                   std::size_t dim, std::string node,
                                                   std::shared_ptr<FirstCallbackError> first);

// Raises CallbackError's Python exception in Python (the module's exception translator).
void bind_callable_errors();

}  // namespace mdlab::python
