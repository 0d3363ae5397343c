// The FMA peak loop of the active instruction-set path (mdlab/isa.hpp), for `mdlab bench peak`:
// `iterations` rounds of `chains` independent FMA chains, each one register wide
// (sdk/src/kernels/fma_chains_isa.cpp says how it is kept honest). 2 flops per lane and FMA.
#pragma once
#include "mdlab/isa.hpp"

namespace mdlab::kernels {

struct FmaChainRun {
    double sum = 0.0;     // the chains' sum (use it, so the work is not removed)
    int lanes = 0;        // lanes per register
    int chains = 0;       // independent chains
    isa::Path path = isa::Path::generic;
};

// a_k <- a_k * b + c for every chain, `iterations` times; f32: in float lanes.
MDLAB_KERNELS_API FmaChainRun fma_chains(bool f32, double b, double c, long iterations);

}  // namespace mdlab::kernels
