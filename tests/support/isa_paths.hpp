// Runs a kernel test once per instruction-set path this CPU supports (mdlab/isa.hpp): a machine
// with AVX-512 also tests the AVX2 and generic paths. Put MDLAB_ON_EVERY_ISA_PATH(); first in a
// TEST_CASE: Catch2 runs the case again for each path (GENERATE), with the kernels forced to it
// and the path named in every failure message.
#pragma once
#include <catch2/catch.hpp>

#include <mdlab/isa.hpp>

#define MDLAB_ON_EVERY_ISA_PATH()                                                                    \
    const mdlab::isa::Path mdlab_isa_path = GENERATE(from_range(mdlab::isa::supported_paths()));     \
    const mdlab::isa::Override mdlab_isa_override(mdlab_isa_path);                                   \
    INFO("instruction-set path: " << mdlab::isa::name(mdlab_isa_path))
