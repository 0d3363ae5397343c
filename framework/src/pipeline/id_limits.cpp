// Node ids name files in the run folder (cells/<i>/<id>.npy, written through <id>.npy.tmp.<pid>),
// so their length is bounded well below the file-name limit of common file systems (255 bytes).
// The characters are checked where ids are read (pipeline_reader.cpp).
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

constexpr std::size_t max_id_length = 128;

}  // namespace

void check_id_limits(ValidationState& state) {
    for (const NodeDecl& n : state.pipeline.nodes) {
        if (n.id.size() <= max_id_length) continue;
        const std::string shown = n.id.substr(0, 32) + "...";
        state.error(n.pointer + "/id", false, shown, "id",
                    "a node id is at most " + std::to_string(max_id_length) + " characters; this one has " +
                        std::to_string(n.id.size()),
                    "use a shorter id: it names the node's files in the run folder");
    }
}

}  // namespace mdlab::runtime
