// The contract between the `mlp` plugin (mdlab_mlp.so, no libtorch) and its libtorch backend
// (mlp_torch/mlp_torch.so, next to the plugin), which the plugin loads on first use.
//
// Why two libraries: the host loads every plugin library when it starts, and loading libtorch
// costs about a second and 150 MB for each mdlab command and test, whether or not a pipeline
// uses the network. The backend is loaded only when an mlp node is prepared. Its folder name
// keeps the registry (which loads files mdlab_*.so of the plugin folder) from taking it for a plugin.
#pragma once
#include <mdlab/components.hpp>
#include <mdlab/params.hpp>

namespace mdlab_mlp {

// Folder and file of the backend, relative to the folder of mdlab_mlp.so.
inline constexpr const char* backend_folder = "mlp_torch";
inline constexpr const char* backend_file = "mlp_torch.so";

// extern "C" entry points of the backend.
inline constexpr const char* create_symbol = "mdlab_mlp_torch_create";
inline constexpr const char* signature_symbol = "mdlab_mlp_torch_signature";

// Creates the untrained estimator from the plugin's validated parameters (keys as declared by
// the plugin's describe()); the caller owns it. Errors propagate as mdlab exceptions.
using CreateFn = mdlab::ScoreEstimator* (*)(const mdlab::Params& params);
// The backend's MDLAB_BUILD_SIGNATURE: it must equal the plugin's.
using SignatureFn = const char* (*)();

}  // namespace mdlab_mlp
