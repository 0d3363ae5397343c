// numpy arrays <-> mdlab::Matrix at the boundary of the extension module.
// In: a Python object given for a points argument. Out: a Matrix (float64 rows), or InputError
// naming the argument, the shape expected and what was given. Results go back to numpy without
// a copy of the Matrix's buffer (float32 when the caller passed float32).
#pragma once
#include <cstddef>
#include <string>

#include <mdlab/array.hpp>
#include <pybind11/numpy.h>

namespace mdlab::python {

struct PointsArg {
    Matrix points;
    bool float32 = false;  // the caller passed float32: answer in float32
};

// What a points argument must be. width 0: any number of columns.
struct PointsShape {
    std::string argument;    // the keyword as the user wrote it ("x", "data")
    std::string owner;       // the component or function it was given to, for the message
    std::size_t width = 0;
    bool finite = true;      // NaN and infinities are refused
};

// A 2-D C-contiguous float64 or float32 numpy array of `shape.width` columns (float64 rows are
// copied once into the Matrix, float32 converted in that same copy). Needs the GIL.
PointsArg read_points(pybind11::handle obj, const PointsShape& shape);

// The Matrix's buffer handed to numpy (a capsule owns it): no copy for float64; float32 is one
// converting copy. Needs the GIL.
pybind11::array to_numpy(Matrix&& m, bool float32 = false);
pybind11::array to_numpy(Vector&& v, bool float32 = false);

// Throws the module's InputError (mdlab.InputError) for `argument` of `owner`.
[[noreturn]] void bad_argument(const std::string& owner, const std::string& argument, std::string message,
                               std::string hint = {});

}  // namespace mdlab::python
