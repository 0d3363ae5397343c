// Compiled once per instruction-set path: MDLAB_ISA_NAMESPACE (from simd_vector.hpp) names the
// path, and simd::vec is that path's register (8 doubles with AVX-512, 4 with AVX2, 2 otherwise).
#include <cstddef>

#include <mdlab/kernels/detail/simd_vector.hpp>

#include "squared_norms.hpp"

namespace norm_moment::MDLAB_ISA_NAMESPACE {

namespace simd = mdlab::kernels::simd;

void squared_norms(const double* y, std::size_t m, std::size_t d, double* out) {
    constexpr std::size_t w = simd::width<double>;
    for (std::size_t i = 0; i < m; ++i) {
        const double* row = y + i * d;
        simd::vec<double> lanes{};
        std::size_t j = 0;
        for (; j + w <= d; j += w) {
            const simd::vec<double> v = simd::load(row + j);
            lanes = simd::fma(v, v, lanes);
        }
        double s = simd::hsum(lanes);  // lanes added in a fixed order
        for (; j < d; ++j) s += row[j] * row[j];
        out[i] = s;
    }
}

}  // namespace norm_moment::MDLAB_ISA_NAMESPACE
