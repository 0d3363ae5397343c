// The contract between the `drifting_generator` plugin (mdlab_drifting_generator.so, no libtorch)
// and its libtorch backend (drifting_generator_torch/drifting_generator_torch.so, next to the
// plugin), loaded on the first sample() through mdlab/lazy_backend.hpp (which says why).
#pragma once
#include <mdlab/components.hpp>
#include <mdlab/params.hpp>

namespace drifting_generator {

// Folder and file of the backend, relative to the folder of mdlab_drifting_generator.so.
inline constexpr const char* backend_folder = "drifting_generator_torch";
inline constexpr const char* backend_file = "drifting_generator_torch.so";

// extern "C" entry points of the backend.
inline constexpr const char* create_symbol = "mdlab_drifting_generator_torch_create";
inline constexpr const char* signature_symbol = "mdlab_drifting_generator_torch_signature";

// Creates the sampler from the plugin's validated parameters (keys as declared by the plugin's
// describe()); the caller owns it. Errors propagate as mdlab exceptions.
using CreateFn = mdlab::Sampler* (*)(const mdlab::Params& params);

}  // namespace drifting_generator
