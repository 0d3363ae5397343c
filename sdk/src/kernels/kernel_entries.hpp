// The kernels each instruction-set path of libmdlab_kernels provides (softmax_isa.cpp and
// fma_chains_isa.cpp are compiled once per path, each copy in its own namespace), and the calls
// the dispatching side (softmax_dispatch.cpp, fma_chains.cpp) hands them. Private to the library.
#pragma once
#include <cstddef>
#include <cstdint>

#include "mdlab/kernels/softmax_score.hpp"

namespace mdlab::kernels::detail {

// One softmax_score call, validated, with the outputs sized (softmax_dispatch.cpp).
struct SoftmaxCall {
    const double* x = nullptr;  // m x D, row-major
    std::size_t m = 0;
    const SoftmaxKeys* keys = nullptr;
    double a = 1.0, v = 1.0, tau = 0.0;
    double c = 0.0, one_minus_c = 1.0;  // tau / (v + tau) and v / (v + tau)
    Precision precision = Precision::f64;
    double* out = nullptr;       // m x D
    double* log_norm = nullptr;  // m, or nullptr
    // With a spatial index: the rows in the order to process them (nearby queries one after
    // another, so their key blocks are still in cache), or nullptr for 0..m-1. Results do not
    // depend on it (each query's result depends only on that query).
    const std::uint32_t* order = nullptr;
};

struct StreamCall {
    const SoftmaxKeys* keys = nullptr;
    double a = 1.0, v = 1.0;
    const double* const* rows = nullptr;
    std::size_t count = 0;
    const std::uint32_t* blocks = nullptr;
    std::size_t nblocks = 0;
    double* const* out = nullptr;
    double* const* log_norm = nullptr;
    Precision precision = Precision::f64;
};

// The FMA peak loop: `iterations` rounds of `chains` independent register-wide FMAs; returns
// the sum of the chains (so the work is used) and says the lanes and chains it used.
struct FmaChains {
    double sum = 0.0;
    int lanes = 0, chains = 0;
};

}  // namespace mdlab::kernels::detail

MDLAB_ISA_DECLARE(mdlab::kernels, void softmax_entry(const detail::SoftmaxCall& call, SoftmaxStats& stats))
MDLAB_ISA_DECLARE(mdlab::kernels, std::size_t stream_entry(const detail::StreamCall& call))
MDLAB_ISA_DECLARE(mdlab::kernels, void exp_entry(const double* t, double* out, std::size_t n))
MDLAB_ISA_DECLARE(mdlab::kernels, void exp_entry(const float* t, float* out, std::size_t n))
MDLAB_ISA_DECLARE(mdlab::kernels, detail::FmaChains fma_chains_entry(bool f32, double b, double c, long iterations))
