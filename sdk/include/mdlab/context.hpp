// What the runtime offers a plugin while it runs: random streams, an output folder, a log,
// progress reporting and cancellation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "mdlab/abi.hpp"
#include "mdlab/rng.hpp"

namespace mdlab {

class MDLAB_VISIBLE Context {
public:
    virtual ~Context() = default;
    // The pipeline seed of this sweep cell.
    virtual std::uint64_t seed() const = 0;
    // The id of the node being run.
    virtual const std::string& node_id() const = 0;
    // Folder of this sweep cell in the run directory, for extra outputs (trajectories, curves).
    virtual const std::filesystem::path& output_dir() const = 0;
    virtual void log(std::string_view message) = 0;
    // Fraction of this node's work done, in [0, 1].
    virtual void progress(double fraction) = 0;
    // True once the user asked the run to stop: long loops should return early by throwing.
    virtual bool cancelled() const = 0;

    // A stream private to this node: seed, node id and purpose name it.
    RandomStream stream(std::string_view purpose) const {
        return RandomStream(seed(), node_id() + "/" + std::string(purpose));
    }
    // A stream shared by every node that asks for the same name, for example the initial
    // noise of all samplers, so that compared components see identical noise.
    RandomStream shared_stream(std::string_view name) const {
        return RandomStream(seed(), "shared/" + std::string(name));
    }
};

}  // namespace mdlab
