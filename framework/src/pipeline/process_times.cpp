// Times against the processes they belong to. In: the expanded cells. Out: problems reported: a
// parameter marked as a process time (ParamRole::process_time: a sampler's t_min, a metric's
// t_min and t_max, a training time) whose value lies outside (0, T] of a process upstream of its
// node, each named once with its node, key, value, the process and where the value is written.
// Also process_ranges() (process_times.hpp), which `mdlab score` uses for --t.
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/process_times.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

// A process's end time, constructed once per plugin and parameter set.
class EndTimes {
public:
    explicit EndTimes(const Registry& registry) : registry_(registry) {}
    double operator()(const PluginRecord& plugin, const Params& params) {
        auto key = std::make_pair(&plugin, params.all());
        auto it = cache_.find(key);
        if (it != cache_.end()) return it->second;
        const auto process = std::dynamic_pointer_cast<ForwardProcess>(registry_.create(plugin, params));
        if (!process) throw Error("plugin '" + plugin.spec.name + "' does not make a forward process");
        return cache_.emplace(std::move(key), process->t_end()).first->second;
    }

private:
    const Registry& registry_;
    std::map<std::pair<const PluginRecord*, std::map<std::string, ParamValue, std::less<>>>, double> cache_;
};

// The process nodes upstream of node `node` in `cell` (the node itself included), in index order.
std::set<std::size_t> upstream_processes(const ValidatedPipeline& vp, const Cell& cell, std::size_t node) {
    std::set<std::size_t> seen{node}, out;
    std::vector<std::size_t> todo{node};
    while (!todo.empty()) {
        const Node& n = vp.node(cell, todo.back());
        todo.pop_back();
        if (n.plugin && n.plugin->spec.kind == Kind::process) out.insert(vp.node_index(n.id));
        for (const auto& input : n.inputs)
            if (seen.insert(input.second).second) todo.push_back(input.second);
    }
    return out;
}

std::vector<ProcessRange> ranges_of(const ValidatedPipeline& vp, EndTimes& end_time, const Cell& cell,
                                    std::size_t node) {
    std::vector<ProcessRange> out;
    for (std::size_t p : upstream_processes(vp, cell, node)) {
        const Node& n = vp.node(cell, p);
        out.push_back(ProcessRange{n.id, n.plugin->spec.name, end_time(*n.plugin, cell.params[p])});
    }
    return out;
}

// The times a process-time parameter holds (one, or a list's).
std::vector<double> times_in(const ParamValue& value) {
    if (const auto* d = std::get_if<double>(&value)) return {*d};
    if (const auto* i = std::get_if<std::int64_t>(&value)) return {static_cast<double>(*i)};
    if (const auto* list = std::get_if<std::vector<double>>(&value)) return *list;
    return {};
}

// Where the value of `key` of node `i` in `cell` is written: the sweep's value when the key is
// swept, else the node's params, else the node.
std::string value_pointer(const ValidationState& state, const Cell& cell, std::size_t i, const std::string& key) {
    const NodeDecl& decl = state.decl(cell, i);
    for (const SweepAxis& axis : state.pipeline.sweep)
        for (const SweepKey& k : axis.keys)
            if (k.node == decl.id && k.param == key)
                for (const auto& [assigned, value] : cell.assignments)
                    if (assigned == k.key)
                        for (std::size_t v = 0; v < k.values.size(); ++v)
                            if (k.values[v] == value) return k.pointer + "/" + std::to_string(v);
    return decl.params.contains(key) ? decl.pointer + "/params/" + pointer_escape(key) : decl.pointer;
}

}  // namespace

std::string range_text(const ProcessRange& range) { return fmt::format("(0, {}]", range.t_end); }

std::vector<ProcessRange> process_ranges(const ValidatedPipeline& vp, const Registry& registry, std::size_t cell,
                                         std::size_t node) {
    EndTimes end_time(registry);
    return ranges_of(vp, end_time, vp.cells.at(cell), node);
}

void check_process_times(ValidationState& state, const ValidatedPipeline& vp) {
    EndTimes end_time(state.registry);
    std::set<std::tuple<std::size_t, std::string, double, std::string>> reported;  // node, key, value, process
    for (const Cell& cell : vp.cells)
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            const Node& node = vp.node(cell, i);
            if (!node.plugin) continue;
            std::optional<std::vector<ProcessRange>> ranges;  // looked up once a time is found
            for (const auto& [role, key] : node.plugin->spec.roles) {
                if (role != ParamRole::process_time || !cell.params[i].has(key)) continue;
                if (!ranges) ranges = ranges_of(vp, end_time, cell, i);
                for (double t : times_in(cell.params[i].all().find(key)->second))
                    for (const ProcessRange& range : *ranges) {
                        if (t >= 0.0 && t <= range.t_end) continue;  // 0: a default the plugin chooses
                        if (!reported.emplace(i, key, t, range.node).second) continue;
                        state.error(value_pointer(state, cell, i, key), false, vp.nodes[i].id, key,
                                    fmt::format("{} = {} lies outside the time range {} of process '{}' ({}) that "
                                                "node '{}' works on",
                                                key, t, range_text(range), range.node, range.plugin, vp.nodes[i].id),
                                    fmt::format("a time in {}: the process ends at T = {}", range_text(range),
                                                range.t_end) +
                                        (cell.assignments.empty() ? "" : " (sweep cell " + std::to_string(cell.index) + ")"));
                    }
            }
        }
}

}  // namespace mdlab::runtime
