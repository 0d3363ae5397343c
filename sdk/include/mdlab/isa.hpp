// The instruction-set path of mdlab's hot kernels, chosen at run time.
//
// The kernels of libmdlab_kernels (the softmax score, the vector exp, the FMA peak loop) are
// compiled three times in every build: for AVX-512 (x86-64-v4), for AVX2 + FMA (x86-64-v3) and
// for the build's baseline (-march of mdlab::build_flags, x86-64-v2 by default). The first kernel
// call picks the best path the CPU supports, as OpenBLAS's DYNAMIC_ARCH and simdjson do, so one
// build runs at full speed on every x86-64 machine. The environment variable MDLAB_ISA
// (avx512, avx2 or generic) forces a path; naming one the CPU lacks is an error (the mdlab
// command exits 2 with it). Results are bit-identical across thread counts on one path; different
// paths agree to rounding (docs/cluster.md states the tolerance).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#define MDLAB_KERNELS_API __attribute__((visibility("default")))

namespace mdlab::isa {

enum class Path { generic = 0, avx2 = 1, avx512 = 2 };

// "generic", "avx2" or "avx512".
MDLAB_KERNELS_API const char* name(Path path);
// The path called `text`, if any.
MDLAB_KERNELS_API std::optional<Path> parse(std::string_view text);
// The valid names, "avx512|avx2|generic".
MDLAB_KERNELS_API std::string choices();
// What the CPU names itself (the brand string), and which paths it and the OS can run.
MDLAB_KERNELS_API std::string cpu_name();
MDLAB_KERNELS_API bool supported(Path path);
MDLAB_KERNELS_API std::vector<Path> supported_paths();  // best first
MDLAB_KERNELS_API Path best();

// The path the kernels use: MDLAB_ISA if set, else best(). Decided at the first call; throws
// mdlab::Error when MDLAB_ISA is not a path name or names one this CPU cannot run (the message
// names the variable, the value, the choices and what the CPU supports).
MDLAB_KERNELS_API Path active();

// Tests and benchmarks: run the kernels on another supported path while this object lives
// (process-wide; switch only while no kernel runs). Throws mdlab::Error if the CPU lacks it.
class MDLAB_KERNELS_API Override {
public:
    explicit Override(Path path);
    ~Override();
    Override(const Override&) = delete;
    Override& operator=(const Override&) = delete;

private:
    int previous_;
};

}  // namespace mdlab::isa

// Per-path code of your own (docs/writing-plugins.md): sources compiled once per path by
// mdlab_add_isa_sources put their functions in `namespace SCOPE::MDLAB_ISA_NAMESPACE`
// (mdlab/kernels/detail/simd_vector.hpp), i.e. SCOPE::isa_generic, SCOPE::isa_avx2 and
// SCOPE::isa_avx512. Declare a function in all three with MDLAB_ISA_DECLARE and call the copy
// of the active path with MDLAB_ISA_DISPATCH (`return`s the call's value):
//   MDLAB_ISA_DECLARE(my_plugin, double sum_squares(const double* x, std::size_t n))
//   double sum_squares(const double* x, std::size_t n) { MDLAB_ISA_DISPATCH(my_plugin, sum_squares(x, n)); }
#define MDLAB_ISA_DECLARE(scope, declaration)    \
    namespace scope::isa_generic { declaration; } \
    namespace scope::isa_avx2 { declaration; }    \
    namespace scope::isa_avx512 { declaration; }
#define MDLAB_ISA_DISPATCH(scope, call)                                \
    switch (::mdlab::isa::active()) {                                  \
        case ::mdlab::isa::Path::avx512: return scope::isa_avx512::call; \
        case ::mdlab::isa::Path::avx2: return scope::isa_avx2::call;     \
        case ::mdlab::isa::Path::generic: break;                         \
    }                                                                  \
    return scope::isa_generic::call
