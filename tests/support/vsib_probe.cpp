// Does the CPU running this (in practice: qemu-x86_64 -cpu Haswell, tests/cli/test_isa_qemu.cpp)
// execute an AVX2 gather whose index register is ymm4 correctly?
//
// In a SIB byte an index field of 0b100 means "no index"; in the VSIB byte of a gather it means
// ymm4 (there is no "no index" there). QEMU 7.2 (Debian 12's qemu-user) decodes VSIB like SIB,
// so `vgatherqpd ymm2, [base + ymm4*8], ymm0` loads base[0] into every lane; later QEMU
// versions decode it right (an is_vsib flag in the modrm decoder). The AVX2 kernels of
// libmdlab_kernels contain such gathers (the table lookup of the vector exp, vector_exp.hpp,
// when the register allocator picks ymm4), so their results under such a QEMU are wrong.
//
// Prints what the gathers loaded; exits 0 when both are right, 1 when only the ymm4 one is
// wrong (the QEMU 7.2 bug), 2 when the gather is wrong with another index register too.
// Inline assembly only: built without -mavx2, and run only where AVX2 is present.
#include <cstdio>

namespace {

// out = {table[15], table[11], table[7], table[3]} gathered with the index in ymm4 or ymm5 (the
// register is part of the instruction text, hence one function per register).
#define MDLAB_GATHER_WITH_INDEX_IN(reg)                                                    \
    void gather_##reg(const double* table, const long long* index, double* out) {           \
        __asm__ volatile("vmovdqu (%[index]), %%" #reg "\n\t"                              \
                         "vpcmpeqd %%ymm2, %%ymm2, %%ymm2\n\t"                              \
                         "vxorpd %%ymm0, %%ymm0, %%ymm0\n\t"                                \
                         "vgatherqpd %%ymm2, (%[table],%%" #reg ",8), %%ymm0\n\t"          \
                         "vmovupd %%ymm0, (%[out])\n\t"                                     \
                         "vzeroupper"                                                     \
                         :                                                                \
                         : [index] "r"(index), [table] "r"(table), [out] "r"(out)         \
                         : "xmm0", "xmm2", #reg, "memory");                               \
    }
MDLAB_GATHER_WITH_INDEX_IN(ymm4)
MDLAB_GATHER_WITH_INDEX_IN(ymm5)
bool right(const double* out, const long long* index) {
    for (int i = 0; i < 4; ++i)
        if (out[i] != double(index[i]) + 0.5) return false;
    return true;
}

}  // namespace

int main() {
    double table[16];
    for (int i = 0; i < 16; ++i) table[i] = i + 0.5;
    const long long index[4] = {15, 11, 7, 3};
    double with4[4] = {}, with5[4] = {};
    gather_ymm4(table, index, with4);
    gather_ymm5(table, index, with5);
    std::printf("vgatherqpd index ymm4: %g %g %g %g\n", with4[0], with4[1], with4[2], with4[3]);
    std::printf("vgatherqpd index ymm5: %g %g %g %g\n(expected 15.5 11.5 7.5 3.5)\n", with5[0], with5[1], with5[2],
                with5[3]);
    if (!right(with5, index)) return 2;
    return right(with4, index) ? 0 : 1;
}
