// The public kernels of libmdlab_kernels (softmax_score.hpp, fma_chains.hpp): validate the call,
// then run it on the instruction-set path isa::active() names (kernel_entries.hpp,
// MDLAB_ISA_DISPATCH in mdlab/isa.hpp).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_entries.hpp"
#include "mdlab/kernels/detail/fma_chains.hpp"

namespace mdlab::kernels {

namespace {

void check(const Matrix& x, std::size_t n, std::size_t d, double a, double v) {
    if (n == 0) throw Error("softmax_score: there are no keys");
    if (cols(x) != d)
        throw Error("softmax_score: the queries have " + std::to_string(cols(x)) + " columns, the keys have " +
                    std::to_string(d));
    if (!(v > 0.0) || !std::isfinite(v))
        throw Error("softmax_score: the variance must be positive and finite, got " + std::to_string(v));
    if (!std::isfinite(a)) throw Error("softmax_score: the scale must be finite, got " + std::to_string(a));
}

// Whether the index prunes for some of 8 rows spread over x: ordering the queries costs a
// descent per query, which pays only where queries stream short candidate lists.
bool index_prunes(const KeyIndex& index, const Matrix& x, double a, double v, double tau) {
    KeyIndex::Scratch scratch;
    std::vector<std::uint32_t> list;
    const std::size_t m = rows(x), samples = 8;
    for (std::size_t k = 0; k < samples; ++k)
        if (index.worth_it(index.candidates(row(x, k * (m - 1) / (samples - 1)), a, v, list, scratch, tau))) return true;
    return false;
}

}  // namespace

void softmax_score(const Matrix& x, const SoftmaxKeys& keys, double a, double v, Matrix& out, Vector* log_norm,
                   double tangent_variance, Precision precision, SoftmaxStats* stats) {
    const std::size_t m = rows(x), d = keys.dim();
    check(x, keys.size(), d, a, v);
    if (!(tangent_variance >= 0.0) || !std::isfinite(tangent_variance))
        throw Error("softmax_score: the tangent variance must be finite and >= 0, got " +
                    std::to_string(tangent_variance));
    const bool tangent = tangent_variance > 0.0;
    if (tangent && !keys.has_tangents())
        throw Error("softmax_score: a tangent variance was given but the keys have no tangent bases");
    if (out.shape()[0] != m || out.shape()[1] != d) out.resize({m, d});
    if (log_norm && log_norm->shape()[0] != m) log_norm->resize({m});

    detail::SoftmaxCall call;
    call.x = x.data();
    call.m = m;
    call.keys = &keys;
    call.a = a;
    call.v = v;
    call.tau = tangent_variance;
    if (tangent) {
        call.c = tangent_variance / (v + tangent_variance);
        call.one_minus_c = v / (v + tangent_variance);
    }
    call.precision = precision;
    call.out = out.data();
    call.log_norm = log_norm ? log_norm->data() : nullptr;
    // With an index, nearby queries run one after another: at N = 10^6 a query's ~50 kept blocks
    // are 400 KB of keys, which the next query then finds in cache (1.4x faster, measured).
    std::vector<std::uint32_t> order;
    if (keys.index() && m >= 64 && a != 0.0 && index_prunes(*keys.index(), x, a, v, tangent_variance)) {
        order = keys.index()->query_order(x, a);
        call.order = order.data();
    }
    SoftmaxStats local;
    local.queries = m;
    local.path = isa::active();
    if (m > 0) [&] { MDLAB_ISA_DISPATCH(mdlab::kernels, softmax_entry(call, local)); }();
    if (stats) *stats = local;
}

std::size_t stream_blocks(const SoftmaxKeys& keys, double a, double v, const double* const* rows, std::size_t count,
                          const std::uint32_t* blocks, std::size_t nblocks, double* const* out,
                          double* const* log_norm, Precision precision) {
    if (keys.size() == 0) throw Error("stream_blocks: there are no keys");
    for (std::size_t i = 0; i < nblocks && blocks; ++i)
        if (blocks[i] >= keys.blocks())
            throw Error("stream_blocks: block " + std::to_string(blocks[i]) + " is out of range (the keys have " +
                        std::to_string(keys.blocks()) + ")");
    detail::StreamCall call{&keys, a, v, rows, count, blocks, nblocks, out, log_norm, precision};
    MDLAB_ISA_DISPATCH(mdlab::kernels, stream_entry(call));
}

void exp_nonpositive(const double* t, double* out, std::size_t n) { MDLAB_ISA_DISPATCH(mdlab::kernels, exp_entry(t, out, n)); }
void exp_nonpositive(const float* t, float* out, std::size_t n) { MDLAB_ISA_DISPATCH(mdlab::kernels, exp_entry(t, out, n)); }

FmaChainRun fma_chains(bool f32, double b, double c, long iterations) {
    const auto run = [&]() -> detail::FmaChains { MDLAB_ISA_DISPATCH(mdlab::kernels, fma_chains_entry(f32, b, c, iterations)); }();
    return FmaChainRun{run.sum, run.lanes, run.chains, isa::active()};
}

}  // namespace mdlab::kernels
