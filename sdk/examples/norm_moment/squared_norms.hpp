// The example's per-path kernel: squared_norms.cpp is compiled once per instruction-set path
// (mdlab_add_isa_sources in CMakeLists.txt); squared_norms() calls the copy for this CPU.
#pragma once
#include <cstddef>

#include <mdlab/isa.hpp>

// out[i] = |y_i|^2 for the m rows of y (m x d, row-major).
MDLAB_ISA_DECLARE(norm_moment, void squared_norms(const double* y, std::size_t m, std::size_t d, double* out))

namespace norm_moment {
inline void squared_norms(const double* y, std::size_t m, std::size_t d, double* out) {
    MDLAB_ISA_DISPATCH(norm_moment, squared_norms(y, m, d, out));
}
}  // namespace norm_moment
