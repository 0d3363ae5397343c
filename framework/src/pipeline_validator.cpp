// Validating a pipeline against the plugin registry and expanding its sweep into cells.
#include <algorithm>
#include <functional>
#include <set>

#include <boost/json/serialize.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

namespace fs = std::filesystem;

std::size_t ValidatedPipeline::node_index(const std::string& id) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (nodes[i].id == id) return i;
    throw Error("no node '" + id + "'");
}

namespace {

std::string value_kind_phrase(ValueKind k) {
    switch (k) {
    case ValueKind::manifold: return "a manifold";
    case ValueKind::points: return "points (a sample step or a sampler)";
    case ValueKind::process: return "a forward process";
    case ValueKind::estimator: return "a score estimator";
    case ValueKind::none: return "nothing";
    }
    return "?";
}

class Validator {
public:
    Validator(Pipeline& p, const std::vector<Override>& overrides, const Registry& reg)
        : p_(p), doc_(p.document), overrides_(overrides), reg_(reg) {}

    ValidatedPipeline run() {
        ValidatedPipeline out;
        for (std::size_t i = 0; i < p_.nodes.size(); ++i) ids_[p_.nodes[i].id] = i;
        base_.resize(p_.nodes.size());
        out.nodes.resize(p_.nodes.size());
        for (std::size_t i = 0; i < p_.nodes.size(); ++i) {
            out.nodes[i].id = p_.nodes[i].id;
            out.nodes[i].plugin = plugin(p_.nodes[i]);
            if (out.nodes[i].plugin) params(p_.nodes[i], *out.nodes[i].plugin, base_[i]);
        }
        apply_overrides(out);
        for (std::size_t i = 0; i < p_.nodes.size(); ++i)
            if (out.nodes[i].plugin) inputs(p_.nodes[i], *out.nodes[i].plugin, out);
        errors_.throw_if_any();
        out.order = topological_order(out);
        check_sweep(out);
        errors_.throw_if_any();
        out.cells = expand(out);
        errors_.throw_if_any();  // a missing file is reported once, not again by the plugin
        instantiate(out);
        errors_.throw_if_any();
        out.pipeline = std::move(p_);
        return out;
    }

private:
    void error(const std::string& pointer, bool at_key, std::string node, std::string key, std::string message,
               std::string hint = {}) {
        const SourcePos pos = at_key ? doc_.key_position(pointer) : doc_.position(pointer);
        errors_.add(Diagnostic{doc_.name(), pos.line, pos.column, pointer, std::move(node), std::move(key),
                               std::move(message), std::move(hint)});
    }
    std::vector<std::string> ids() const {
        std::vector<std::string> out;
        for (const auto& n : p_.nodes) out.push_back(n.id);
        return out;
    }

    const PluginRecord* plugin(const NodeDecl& n) {
        if (n.plugin.empty()) return nullptr;
        const PluginRecord* rec = reg_.find(n.plugin);
        if (!rec)
            error(n.pointer + "/plugin", false, n.id, "plugin", "unknown plugin '" + n.plugin + "'",
                  suggest(n.plugin, reg_.names(), "available plugins") + " (see `mdlab plugins`)");
        return rec;
    }

    void params(const NodeDecl& n, const PluginRecord& rec, Params& out) {
        for (const auto& spec : rec.spec.params)
            if (spec.default_value) out.set(spec.key, *spec.default_value);
        std::vector<std::string> valid;
        for (const auto& s : rec.spec.params) valid.push_back(s.key);
        for (const auto& kv : n.params) {
            const std::string key(kv.key());
            const std::string ptr = n.pointer + "/params/" + pointer_escape(key);
            const ParamSpec* spec = rec.spec.find_param(key);
            if (!spec) {
                error(ptr, true, n.id, key, "unknown parameter of plugin '" + rec.spec.name + "'",
                      suggest(key, valid, "valid parameters") + " (see `mdlab describe " + rec.spec.name + "`)");
                continue;
            }
            Bound b = bind_param(*spec, kv.value());
            if (!b.value) error(ptr, false, n.id, key, b.error, spec->doc);
            else out.set(key, *b.value);
        }
        for (const auto& spec : rec.spec.params)
            if (spec.is_required() && !n.params.contains(spec.key) && !overridden(n.id, spec.key))
                error(n.pointer, false, n.id, spec.key, "missing required parameter (" + expected_form(spec) + ")", spec.doc);
    }

    bool overridden(const std::string& node, const std::string& key) const {
        for (const auto& o : overrides_)
            if (o.node == node && o.key == key) return true;
        return false;
    }

    void apply_overrides(const ValidatedPipeline& vp) {
        for (const auto& o : overrides_) {
            Diagnostic d;
            d.file = "--set " + o.text;
            d.node = o.node;
            d.key = o.key;
            auto it = ids_.find(o.node);
            if (it == ids_.end()) {
                d.message = "no node with this id";
                d.hint = suggest(o.node, ids(), "node ids");
                errors_.add(d);
                continue;
            }
            const PluginRecord* rec = vp.nodes[it->second].plugin;
            if (!rec) continue;
            const ParamSpec* spec = rec->spec.find_param(o.key);
            if (!spec) {
                std::vector<std::string> valid;
                for (const auto& s : rec->spec.params) valid.push_back(s.key);
                d.message = "unknown parameter of plugin '" + rec->spec.name + "'";
                d.hint = suggest(o.key, valid, "valid parameters");
                errors_.add(d);
                continue;
            }
            Bound b = bind_param(*spec, o.value);
            if (!b.value) {
                d.message = b.error;
                d.hint = spec->doc;
                errors_.add(d);
                continue;
            }
            base_[it->second].set(o.key, *b.value);
            p_.nodes[it->second].params[o.key] = o.value;  // the resolved pipeline shows it
        }
    }

    void inputs(const NodeDecl& n, const PluginRecord& rec, ValidatedPipeline& vp) {
        std::vector<std::string> ports;
        for (const auto& s : rec.spec.inputs) ports.push_back(s.name);
        std::set<std::string> connected;
        for (const auto& [port, source] : n.inputs) {
            const std::string ptr = n.pointer + "/inputs/" + pointer_escape(port);
            const PortSpec* spec = rec.spec.find_input(port);
            if (!spec) {
                error(ptr, true, n.id, port, "plugin '" + rec.spec.name + "' has no input '" + port + "'",
                      suggest(port, ports, "its inputs"));
                continue;
            }
            connected.insert(port);
            auto it = ids_.find(source);
            if (it == ids_.end()) {
                error(ptr, false, n.id, port, "input names node '" + source + "', which does not exist",
                      suggest(source, producers(spec->kind, vp), "nodes giving " + value_kind_phrase(spec->kind)));
                continue;
            }
            const PluginRecord* src = vp.nodes[it->second].plugin;
            if (src && output_of(src->spec.kind) != spec->kind) {
                error(ptr, false, n.id, port,
                      "input '" + port + "' expects " + value_kind_phrase(spec->kind) + ", but node '" + source + "' (" +
                          src->spec.name + ", a " + std::string(to_string(src->spec.kind)) + ") gives " +
                          value_kind_phrase(output_of(src->spec.kind)),
                      suggest(source, producers(spec->kind, vp), "nodes giving " + value_kind_phrase(spec->kind)));
                continue;
            }
            vp.nodes[ids_.at(n.id)].inputs.emplace_back(port, it->second);
        }
        for (const auto& s : rec.spec.inputs)
            if (s.required && !connected.count(s.name))
                error(n.pointer, false, n.id, s.name,
                      "missing input '" + s.name + "' (" + value_kind_phrase(s.kind) + ": " + s.doc + ")",
                      "add \"inputs\": {\"" + s.name + "\": \"<node id>\"}; " +
                          suggest("", producers(s.kind, vp), "nodes giving " + value_kind_phrase(s.kind)));
    }

    std::vector<std::string> producers(ValueKind k, const ValidatedPipeline& vp) const {
        std::vector<std::string> out;
        for (const auto& n : vp.nodes)
            if (n.plugin && output_of(n.plugin->spec.kind) == k) out.push_back(n.id);
        return out;
    }

    std::vector<std::size_t> topological_order(const ValidatedPipeline& vp) {
        std::vector<int> state(vp.nodes.size(), 0);  // 0 new, 1 on stack, 2 done
        std::vector<std::size_t> order, stack;
        bool cyclic = false;
        std::function<void(std::size_t)> visit = [&](std::size_t i) {
            if (cyclic || state[i] == 2) return;
            if (state[i] == 1) {
                std::string path;
                auto from = std::find(stack.begin(), stack.end(), i);
                for (auto it = from; it != stack.end(); ++it) path += vp.nodes[*it].id + " -> ";
                path += vp.nodes[i].id;
                error(p_.nodes[i].pointer + "/inputs", false, vp.nodes[i].id, "inputs", "the inputs form a cycle: " + path,
                      "a node cannot depend on its own output; remove one of these inputs");
                cyclic = true;
                return;
            }
            state[i] = 1;
            stack.push_back(i);
            for (const auto& in : vp.nodes[i].inputs) visit(in.second);
            stack.pop_back();
            state[i] = 2;
            order.push_back(i);
        };
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) visit(i);
        errors_.throw_if_any();
        return order;
    }

    void check_sweep(const ValidatedPipeline& vp) {
        std::set<std::string> keys;
        for (const auto& a : p_.sweep) {
            if (!keys.insert(a.key).second) error(a.pointer, true, a.node, a.key, "this sweep key appears twice");
            if (a.node.empty()) {
                for (std::size_t i = 0; i < a.values.size(); ++i)
                    if (!(a.values[i].is_int64() && a.values[i].as_int64() >= 0) && !a.values[i].is_uint64())
                        error(a.pointer + "/" + std::to_string(i), false, {}, "seed", "a seed must be a non-negative integer");
                continue;
            }
            auto it = ids_.find(a.node);
            if (it == ids_.end()) {
                error(a.pointer, true, a.node, a.param, "sweep names node '" + a.node + "', which does not exist",
                      suggest(a.node, ids(), "node ids"));
                continue;
            }
            const PluginRecord* rec = vp.nodes[it->second].plugin;
            const ParamSpec* spec = rec ? rec->spec.find_param(a.param) : nullptr;
            if (!spec) {
                std::vector<std::string> valid;
                if (rec)
                    for (const auto& s : rec->spec.params) valid.push_back(s.key);
                error(a.pointer, true, a.node, a.param, "unknown parameter of plugin '" + (rec ? rec->spec.name : "?") + "'",
                      suggest(a.param, valid, "valid parameters"));
                continue;
            }
            for (std::size_t i = 0; i < a.values.size(); ++i) {
                Bound b = bind_param(*spec, a.values[i]);
                if (!b.value) error(a.pointer + "/" + std::to_string(i), false, a.node, a.param, b.error, spec->doc);
            }
        }
    }

    std::vector<Cell> expand(const ValidatedPipeline& vp) {
        std::size_t total = 1;
        for (const auto& a : p_.sweep) {
            total *= a.values.size();
            if (total > 1000000) {
                error("/sweep/grid", false, {}, {}, "the sweep has more than a million cells");
                errors_.throw_if_any();
            }
        }
        std::vector<Cell> cells(total);
        for (std::size_t c = 0; c < total; ++c) {
            Cell& cell = cells[c];
            cell.index = c;
            cell.seed = p_.seed;
            cell.params = base_;
            std::size_t rest = c;
            // Last axis varies fastest.
            std::vector<std::size_t> pick(p_.sweep.size());
            for (std::size_t k = p_.sweep.size(); k-- > 0;) {
                pick[k] = rest % p_.sweep[k].values.size();
                rest /= p_.sweep[k].values.size();
            }
            for (std::size_t k = 0; k < p_.sweep.size(); ++k) {
                const SweepAxis& a = p_.sweep[k];
                const boost::json::value& v = a.values[pick[k]];
                cell.assignments.emplace_back(a.key, v);
                if (a.node.empty()) {
                    cell.seed = v.is_uint64() ? v.as_uint64() : static_cast<std::uint64_t>(v.as_int64());
                    continue;
                }
                const std::size_t i = ids_.at(a.node);
                cell.params[i].set(a.param, *bind_param(*vp.nodes[i].plugin->spec.find_param(a.param), v).value);
            }
            resolve_paths(vp, cell);
        }
        return cells;
    }

    // Paths are relative to the pipeline file's folder; the file must exist.
    void resolve_paths(const ValidatedPipeline& vp, Cell& cell) {
        const fs::path base = p_.file.parent_path();
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
            if (!vp.nodes[i].plugin) continue;
            for (const auto& spec : vp.nodes[i].plugin->spec.params) {
                if (spec.type != ParamType::path || !cell.params[i].has(spec.key)) continue;
                const std::string& v = cell.params[i].string(spec.key);
                if (v.empty()) continue;
                fs::path resolved = fs::path(v).is_absolute() ? fs::path(v) : base / v;
                std::error_code ec;
                if (!fs::is_regular_file(resolved, ec)) {
                    const std::string key = spec.key;
                    if (reported_paths_.insert(vp.nodes[i].id + "." + key + "=" + v).second)
                        error(p_.nodes[i].pointer + "/params/" + pointer_escape(key), false, vp.nodes[i].id, key,
                              "file '" + resolved.string() + "' does not exist or is not a regular file",
                              "relative paths are taken from the pipeline file's folder");
                    continue;
                }
                cell.params[i].set(spec.key, resolved.string());
            }
        }
    }

    // Constructs every component once per distinct parameter set, so that checks a plugin
    // makes across its parameters fail before anything runs.
    void instantiate(const ValidatedPipeline& vp) {
        std::set<std::string> done;
        for (const auto& cell : vp.cells) {
            for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
                const PluginRecord* rec = vp.nodes[i].plugin;
                if (!rec || rec->builtin()) continue;
                std::string sig = vp.nodes[i].id;
                for (const auto& [k, v] : cell.params[i].all()) sig += "|" + k + "=" + boost::json::serialize(to_json(v));
                if (!done.insert(sig).second) continue;
                try {
                    reg_.create(*rec, cell.params[i]);
                } catch (const InputError& e) {
                    const std::string ptr = p_.nodes[i].pointer + (e.key().empty() ? "" : "/params/" + pointer_escape(e.key()));
                    error(p_.nodes[i].params.contains(e.key()) ? ptr : p_.nodes[i].pointer, false, vp.nodes[i].id, e.key(),
                          e.what(), cell.assignments.empty() ? std::string() : "in sweep cell " + std::to_string(cell.index));
                } catch (const std::exception& e) {
                    error(p_.nodes[i].pointer, false, vp.nodes[i].id, {},
                          std::string("plugin '") + rec->spec.name + "' failed to construct: " + e.what());
                }
            }
        }
    }

    Pipeline& p_;
    const JsonDocument& doc_;
    const std::vector<Override>& overrides_;
    const Registry& reg_;
    std::map<std::string, std::size_t> ids_;
    std::vector<Params> base_;
    std::set<std::string> reported_paths_;
    DiagnosticList errors_;
};

}  // namespace

ValidatedPipeline validate(Pipeline pipeline, const std::vector<Override>& overrides, const Registry& registry) {
    return Validator(pipeline, overrides, registry).run();
}

}  // namespace mdlab::runtime
