// Input files the plugins read only when a cell runs, read now: a sampler's initial points
// (ParamRole::initial_points, a .npy file) and the `points` step's file. A broken file is
// reported by `mdlab validate`, before a run folder exists. Each file is read once; its shape is
// kept for the memory and disk estimates (state.file_shapes). Other path parameters are read by
// their plugins when constructed (trial_plugins.cpp).
#include <cmath>

#include <mdlab/npy.hpp>
#include <mdlab/point_file.hpp>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/registry.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// Initial points as the samplers read them: a non-empty .npy array of finite numbers.
Matrix read_initial_points(const std::string& file, const std::string& key) {
    Matrix m;
    try {
        m = npy::read(file);
    } catch (const InputError& e) {
        throw InputError(e.what(), key);
    }
    if (rows(m) == 0) throw InputError(file + ": the file holds no points", key);
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k]))
            throw InputError(file + ": initial point " + std::to_string(k / cols(m)) + " is not finite", key);
    return m;
}

}  // namespace

void check_input_files(ValidationState& state, const ValidatedPipeline& vp) {
    const std::string points_step = points_step_spec().name;
    std::map<std::string, std::string> failed;  // file -> its problem, reported once per node and key
    std::set<std::string> reported;
    for (const Cell& cell : vp.cells) {
        std::vector<std::size_t> dims;  // computed for the first cell that needs them
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const Node& node = vp.node(cell, i);
            if (!node.plugin) continue;
            const PluginSpec& spec = node.plugin->spec;
            const bool initial = spec.kind == Kind::sampler && !role_text(spec, cell.params[i], ParamRole::initial_points).empty();
            const bool points = spec.kind == Kind::data && spec.name == points_step;
            if (!initial && !points) continue;
            const std::string key = initial ? spec.find_param(ParamRole::initial_points)->key : "path";
            const std::string file = cell.params[i].string(key);
            std::string problem;
            if (auto f = failed.find(file); f != failed.end()) problem = f->second;
            else if (!state.file_shapes.count(file)) {
                try {
                    const Matrix m = initial ? read_initial_points(file, key) : point_file::read_points(file, key);
                    state.file_shapes[file] = {rows(m), cols(m)};
                } catch (const InputError& e) {
                    problem = failed[file] = e.what();
                }
            }
            if (problem.empty() && initial) {
                if (dims.empty()) dims = point_dims(vp, cell);
                const std::size_t have = state.file_shapes[file].second;
                if (dims[i] > 1 && have != dims[i])
                    problem = file + ": initial points have " + std::to_string(have) + " columns, the points of node '" +
                              node.id + "' have dimension " + std::to_string(dims[i]);
            }
            if (!problem.empty() && reported.insert(node.id + "." + key + "=" + problem).second)
                state.error(state.decl(cell, i).param_pointer(key), false, node.id, key, problem,
                            initial ? "give a .npy file of n x D finite numbers, or leave " + key + " empty for prior draws"
                                    : "give a .npy or .csv file of finite numbers, one point per row");
        }
    }
}

}  // namespace mdlab::runtime
