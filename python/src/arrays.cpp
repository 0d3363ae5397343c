#include "arrays.hpp"

#include <cmath>
#include <cstring>
#include <utility>

#include "mdlab/runtime/diagnostics.hpp"

namespace mdlab::python {

namespace py = pybind11;

void bad_argument(const std::string& owner, const std::string& argument, std::string message, std::string hint) {
    runtime::Diagnostic d;
    d.node = owner;
    d.key = argument;
    d.message = std::move(message);
    d.hint = std::move(hint);
    throw runtime::BadInput(d);
}

namespace {

std::string shape_text(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string expected_text(const PointsShape& shape) {
    return "a 2-D C-contiguous float64 or float32 array of shape (n, " +
           (shape.width ? std::to_string(shape.width) : std::string("D")) + "), one point per row";
}

template <class T>
void copy_rows(const py::array& a, Matrix& m, const PointsShape& shape) {
    const T* src = static_cast<const T*>(a.data());
    double* dst = m.data();
    const std::size_t count = m.size();
    if constexpr (std::is_same_v<T, double>)
        std::memcpy(dst, src, count * sizeof(double));
    else
        for (std::size_t k = 0; k < count; ++k) dst[k] = static_cast<double>(src[k]);
    if (!shape.finite) return;
    for (std::size_t k = 0; k < count; ++k)
        if (!std::isfinite(dst[k]))
            bad_argument(shape.owner, shape.argument,
                         "row " + std::to_string(k / cols(m)) + " column " + std::to_string(k % cols(m)) + " is " +
                             std::to_string(dst[k]) + ", not a finite number",
                         "every coordinate must be finite");
}

}  // namespace

PointsArg read_points(py::handle obj, const PointsShape& shape) {
    if (!py::isinstance<py::array>(obj))
        bad_argument(shape.owner, shape.argument,
                     "got a " + std::string(py::str(obj.get_type().attr("__name__"))) + ", not a numpy array",
                     expected_text(shape));
    const auto a = py::reinterpret_borrow<py::array>(obj);
    const bool f64 = a.dtype().is(py::dtype::of<double>()), f32 = a.dtype().is(py::dtype::of<float>());
    if (!f64 && !f32)
        bad_argument(shape.owner, shape.argument, "has dtype " + std::string(py::str(a.dtype())),
                     expected_text(shape) + " (convert with x.astype(numpy.float64))");
    if (a.ndim() != 2)
        bad_argument(shape.owner, shape.argument,
                     "has shape " + shape_text(a) + " (" + std::to_string(a.ndim()) + "-D)", expected_text(shape));
    if (shape.width && static_cast<std::size_t>(a.shape(1)) != shape.width)
        bad_argument(shape.owner, shape.argument,
                     "has shape " + shape_text(a) + ": " + std::to_string(a.shape(1)) + " columns, not " +
                         std::to_string(shape.width),
                     expected_text(shape));
    if (!(a.flags() & py::array::c_style))
        bad_argument(shape.owner, shape.argument, "is not C-contiguous (a transposed or sliced view)",
                     expected_text(shape) + " (use numpy.ascontiguousarray(x))");
    PointsArg out;
    out.float32 = f32;
    out.points = Matrix::from_shape({static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))});
    if (f64)
        copy_rows<double>(a, out.points, shape);
    else
        copy_rows<float>(a, out.points, shape);
    return out;
}

namespace {

// Moves the xtensor into a heap object that the capsule deletes with the numpy array.
template <class Tensor>
py::array hand_over(Tensor&& t, bool float32) {
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
    if (float32) {
        py::array_t<float> out(shape);
        float* dst = out.mutable_data();
        for (std::size_t k = 0; k < t.size(); ++k) dst[k] = static_cast<float>(t.data()[k]);
        return std::move(out);
    }
    auto* owner = new Tensor(std::move(t));
    py::capsule free_when_done(owner, [](void* p) { delete static_cast<Tensor*>(p); });
    return py::array_t<double>(shape, owner->data(), free_when_done);
}

}  // namespace

py::array to_numpy(Matrix&& m, bool float32) { return hand_over(std::move(m), float32); }
py::array to_numpy(Vector&& v, bool float32) { return hand_over(std::move(v), float32); }

}  // namespace mdlab::python
