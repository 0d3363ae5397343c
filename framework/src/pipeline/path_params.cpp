// Path parameters. In: the expanded cells. Out: every non-empty path parameter made absolute,
// taken from the pipeline file's folder when relative; a file that does not exist is reported
// once (not again in each cell, nor later by the plugin).
#include <filesystem>
#include <set>

#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace fs = std::filesystem;

void resolve_paths(ValidationState& state, const ValidatedPipeline& vp, std::vector<Cell>& cells) {
    const fs::path base = state.pipeline.file.parent_path();
    std::set<std::string> reported;  // node.key=value
    for (Cell& cell : cells)
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const Node& node = vp.node(cell, i);
            if (!node.plugin) continue;
            for (const auto& spec : node.plugin->spec.params) {
                if (spec.type != ParamType::path || !cell.params[i].has(spec.key)) continue;
                const std::string& v = cell.params[i].string(spec.key);
                if (v.empty()) continue;
                fs::path resolved = fs::path(v).is_absolute() ? fs::path(v) : base / v;
                std::error_code ec;
                if (!fs::is_regular_file(resolved, ec)) {
                    const std::string key = spec.key;
                    if (reported.insert(node.id + "." + key + "=" + v).second)
                        state.error(state.decl(cell, i).param_pointer(key), false, node.id, key,
                                    "file '" + resolved.string() + "' does not exist or is not a regular file",
                                    "relative paths are taken from the pipeline file's folder");
                    continue;
                }
                cell.params[i].set(spec.key, resolved.string());
            }
        }
}

}  // namespace mdlab::runtime
