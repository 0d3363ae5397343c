// libFuzzer target: pipeline text through the reader, the smoke section and the validator.
// Every input must end in a valid pipeline or a BadInput listing what is wrong; anything else
// (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace mdlab::runtime;
    static const Registry registry;  // the built-in `sample` step; plugins are not loaded
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        Pipeline p = read_pipeline_text(text, "fuzz.json");
        Pipeline smoke = read_pipeline_text(text, "fuzz.json");
        validate(std::move(p), {}, registry);
        // apply_smoke edits `smoke` in place, so it must finish before the pipeline is moved:
        // a call in the argument list may run after the move (the order is unspecified).
        std::vector<Override> smoke_overrides = apply_smoke(smoke);
        validate(std::move(smoke), std::move(smoke_overrides), registry);
    } catch (const BadInput& e) {
        if (e.diagnostics().empty()) __builtin_trap();  // an error must say what is wrong
    }
    return 0;
}
