// Validating a pipeline against the plugin registry and expanding its sweep into cells.
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <variant>

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/param_binding.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/results.hpp"
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
        variant_params_.resize(p_.nodes.size());
        variant_decls_.assign(p_.nodes.size(), nullptr);
        out.nodes.resize(p_.nodes.size());
        out.alternatives.resize(p_.nodes.size());
        for (std::size_t i = 0; i < p_.nodes.size(); ++i) {
            out.nodes[i].id = p_.nodes[i].id;
            out.nodes[i].plugin = plugin(p_.nodes[i]);
            if (out.nodes[i].plugin) params(p_.nodes[i], *out.nodes[i].plugin, base_[i]);
        }
        alternatives(out);
        apply_overrides(out);
        for (std::size_t i = 0; i < p_.nodes.size(); ++i)
            if (out.nodes[i].plugin) inputs(p_.nodes[i], *out.nodes[i].plugin, out, out.nodes[i]);
        for (const auto& a : p_.sweep)
            if (a.type == SweepAxis::Type::alternatives) {
                const std::size_t i = ids_.at(a.keys.front().node);
                for (std::size_t v = 0; v < a.variants.size(); ++v)
                    if (out.alternatives[i][v].plugin)
                        inputs(a.variants[v], *out.alternatives[i][v].plugin, out, out.alternatives[i][v]);
            }
        errors_.throw_if_any();
        out.order = topological_order(out);
        check_sweep(out);
        check_rates(out);
        check_comparisons(out);
        errors_.throw_if_any();
        out.cells = expand(out);
        errors_.throw_if_any();  // a missing file is reported once, not again by the plugin
        check_memory(out);
        errors_.throw_if_any();
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

    // Each variant of a node with alternatives: its plugin (producing what the node produces)
    // and its parameters.
    void alternatives(ValidatedPipeline& vp) {
        for (const auto& a : p_.sweep) {
            if (a.type != SweepAxis::Type::alternatives) continue;
            const std::size_t i = ids_.at(a.keys.front().node);
            const PluginRecord* declared = vp.nodes[i].plugin;
            variant_decls_[i] = &a.variants;
            for (std::size_t v = 0; v < a.variants.size(); ++v) {
                const NodeDecl& d = a.variants[v];
                Node n;
                n.id = d.id;
                n.label = std::string(a.keys.front().values[v].as_string());
                n.plugin = plugin(d);
                variant_params_[i].emplace_back();
                if (n.plugin) params(d, *n.plugin, variant_params_[i].back());
                if (n.plugin && declared && output_of(n.plugin->spec.kind) != output_of(declared->spec.kind))
                    error(d.pointer + "/plugin", false, d.id, "plugin",
                          "alternative '" + n.label + "' of node '" + d.id + "' is a " + std::string(to_string(n.plugin->spec.kind)) +
                              " giving " + value_kind_phrase(output_of(n.plugin->spec.kind)) + ", but the node gives " +
                              value_kind_phrase(output_of(declared->spec.kind)),
                          "every alternative must produce what the nodes downstream expect");
                vp.alternatives[i].push_back(std::move(n));
            }
        }
    }

    bool overridden(const std::string& node, const std::string& key) const {
        for (const auto& o : overrides_)
            if (o.node == node && o.key == key) return true;
        return false;
    }

    void apply_overrides(const ValidatedPipeline& vp) {
        for (const auto& o : overrides_) {
            Diagnostic d;
            d.file = o.origin.empty() ? "--set " + o.text : o.origin;
            d.node = o.node;
            d.key = o.key;
            auto it = ids_.find(o.node);
            if (it == ids_.end()) {
                d.message = "no node with this id";
                d.hint = suggest(o.node, ids(), "node ids");
                errors_.add(d);
                continue;
            }
            const std::size_t i = it->second;
            // The node as declared and each of its alternatives that has the parameter.
            std::vector<std::pair<const PluginRecord*, Params*>> targets{{vp.nodes[i].plugin, &base_[i]}};
            for (std::size_t v = 0; v < vp.alternatives[i].size(); ++v)
                targets.emplace_back(vp.alternatives[i][v].plugin, &variant_params_[i][v]);
            bool applied = false, unknown = false;
            for (const auto& [rec, params] : targets) {
                if (!rec) continue;
                const ParamSpec* spec = rec->spec.find_param(o.key);
                if (!spec) continue;
                Bound b = bind_param(*spec, o.value);
                if (!b.value) {
                    d.message = b.error + (rec == vp.nodes[i].plugin ? "" : " (plugin '" + rec->spec.name + "')");
                    d.hint = spec->doc;
                    errors_.add(d);
                    unknown = true;
                    break;
                }
                params->set(o.key, *b.value);
                applied = true;
            }
            if (unknown || !vp.nodes[i].plugin) continue;
            if (!applied) {
                std::vector<std::string> valid;
                for (const auto& s : vp.nodes[i].plugin->spec.params) valid.push_back(s.key);
                d.message = "unknown parameter of plugin '" + vp.nodes[i].plugin->spec.name + "'";
                d.hint = suggest(o.key, valid, "valid parameters");
                errors_.add(d);
                continue;
            }
            p_.nodes[i].params[o.key] = o.value;  // the resolved pipeline shows it
        }
    }

    void inputs(const NodeDecl& n, const PluginRecord& rec, const ValidatedPipeline& vp, Node& target) {
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
            target.inputs.emplace_back(port, it->second);
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
            for (const auto& alt : vp.alternatives[i])  // one order serves every cell
                for (const auto& in : alt.inputs) visit(in.second);
            stack.pop_back();
            state[i] = 2;
            order.push_back(i);
        };
        for (std::size_t i = 0; i < vp.nodes.size(); ++i) visit(i);
        errors_.throw_if_any();
        return order;
    }

    // The plugins a sweep key's node runs with: its alternatives, or the node as declared.
    std::vector<const PluginRecord*> plugins_of(const ValidatedPipeline& vp, std::size_t i) const {
        std::vector<const PluginRecord*> out;
        if (vp.alternatives[i].empty()) out.push_back(vp.nodes[i].plugin);
        for (const auto& alt : vp.alternatives[i]) out.push_back(alt.plugin);
        return out;
    }

    void check_sweep(const ValidatedPipeline& vp) {
        std::set<std::string> keys;
        for (const auto& a : p_.sweep) {
            for (const SweepKey& k : a.keys) {
                if (!keys.insert(k.key).second) error(k.pointer, true, k.node, k.key, "this sweep key appears twice");
                if (a.type == SweepAxis::Type::alternatives) continue;  // checked by the reader and alternatives()
                if (k.node.empty()) {
                    for (std::size_t i = 0; i < k.values.size(); ++i)
                        if (!(k.values[i].is_int64() && k.values[i].as_int64() >= 0) && !k.values[i].is_uint64())
                            error(k.pointer + "/" + std::to_string(i), false, {}, "seed", "a seed must be a non-negative integer");
                    continue;
                }
                auto it = ids_.find(k.node);
                if (it == ids_.end()) {
                    error(k.pointer, true, k.node, k.param, "sweep names node '" + k.node + "', which does not exist",
                          suggest(k.node, ids(), "node ids"));
                    continue;
                }
                for (const PluginRecord* rec : plugins_of(vp, it->second)) {
                    const ParamSpec* spec = rec ? rec->spec.find_param(k.param) : nullptr;
                    if (!spec) {
                        std::vector<std::string> valid;
                        if (rec)
                            for (const auto& s : rec->spec.params) valid.push_back(s.key);
                        error(k.pointer, true, k.node, k.param,
                              "unknown parameter of plugin '" + (rec ? rec->spec.name : "?") + "'" +
                                  (vp.alternatives[it->second].empty() ? "" : " (a swept parameter must belong to every alternative of the node)"),
                              suggest(k.param, valid, "valid parameters"));
                        continue;
                    }
                    for (std::size_t i = 0; i < k.values.size(); ++i) {
                        Bound b = bind_param(*spec, k.values[i]);
                        if (!b.value) error(k.pointer + "/" + std::to_string(i), false, k.node, k.param, b.error, spec->doc);
                    }
                }
            }
        }
    }

    // A declared rate names a metric node and a numeric sweep key.
    void check_rates(const ValidatedPipeline& vp) {
        std::vector<std::string> numeric_keys;
        for (const auto& a : p_.sweep)
            if (a.type != SweepAxis::Type::alternatives)
                for (const auto& k : a.keys)
                    if (k.key != "seed") numeric_keys.push_back(k.key);
        std::vector<std::string> metrics;
        for (std::size_t i = 0; i < vp.nodes.size(); ++i)
            if (vp.nodes[i].plugin && vp.nodes[i].plugin->spec.kind == Kind::metric) metrics.push_back(vp.nodes[i].id);
        for (const auto& r : p_.rates) {
            const auto dot = r.metric.find('.');
            const std::string node = r.metric.substr(0, dot);
            if (dot == std::string::npos || dot + 1 == r.metric.size() ||
                std::find(metrics.begin(), metrics.end(), node) == metrics.end())
                error(r.pointer + "/metric", false, node, "metric",
                      "a rate's metric is \"<metric node id>.<value name>\"; '" + r.metric + "' is not",
                      suggest(node, metrics, "metric nodes"));
            const SweepKey* over = nullptr;
            for (const SweepKey* k : p_.sweep_keys())
                if (k->key == r.over) over = k;
            if (!over || std::find(numeric_keys.begin(), numeric_keys.end(), r.over) == numeric_keys.end()) {
                error(r.pointer + "/over", false, {}, "over", "a rate is fitted over a swept numeric parameter; '" + r.over + "' is not one",
                      suggest(r.over, numeric_keys, "numeric sweep keys"));
                continue;
            }
            for (std::size_t i = 0; i < over->values.size(); ++i)
                if (!over->values[i].is_number() || over->values[i].to_number<double>() <= 0)
                    error(over->pointer + "/" + std::to_string(i), false, over->node, over->param,
                          "a rate is fitted on log axes, so '" + r.over + "' needs positive numbers");
        }
    }

    // Declared correlations and equivalence tests name metric nodes, sweep keys and their values.
    void check_comparisons(const ValidatedPipeline& vp) {
        std::vector<std::string> metrics, keys;
        for (std::size_t i = 0; i < vp.nodes.size(); ++i)
            if (vp.nodes[i].plugin && vp.nodes[i].plugin->spec.kind == Kind::metric) metrics.push_back(vp.nodes[i].id);
        for (const SweepKey* k : p_.sweep_keys()) keys.push_back(k->key);
        const auto metric = [&](const std::string& m, const std::string& pointer) {
            const std::string node = split_metric(m).first;
            if (std::find(metrics.begin(), metrics.end(), node) == metrics.end())
                error(pointer, false, node, {}, "'" + m + "' does not name a value of a metric node (\"<node>.<value>\")",
                      suggest(node, metrics, "metric nodes"));
        };
        const auto sweep_key = [&](const std::string& key, const std::string& pointer) -> const SweepKey* {
            for (const SweepKey* k : p_.sweep_keys())
                if (k->key == key) return k;
            error(pointer, false, {}, {}, "'" + key + "' is not a sweep key", suggest(key, keys, "sweep keys"));
            return nullptr;
        };
        const auto has_value = [&](const SweepKey& k, const std::string& v, const std::string& pointer) {
            std::vector<std::string> texts;
            for (const auto& x : k.values) texts.push_back(plain_text(x));
            if (std::find(texts.begin(), texts.end(), v) == texts.end())
                error(pointer, false, {}, {}, "'" + v + "' is not a value of the sweep key '" + k.key + "'",
                      suggest(v, texts, "values"));
        };
        for (const auto& c : p_.correlations) {
            metric(c.y, c.pointer + "/y");
            for (std::size_t i = 0; i < c.x.size(); ++i) metric(c.x[i], c.pointer + "/x/" + std::to_string(i));
            for (const auto& [key, value] : c.where)
                if (const SweepKey* k = sweep_key(key, c.pointer + "/where")) has_value(*k, value, c.pointer + "/where");
        }
        for (const auto& e : p_.equivalence) {
            metric(e.metric, e.pointer + "/metric");
            if (e.axis == "seed")
                error(e.pointer + "/axis", false, {}, {}, "the pairs are formed by seed, so the compared axis cannot be 'seed'");
            else if (const SweepKey* k = sweep_key(e.axis, e.pointer + "/axis")) {
                has_value(*k, e.test, e.pointer + "/test");
                has_value(*k, e.control, e.pointer + "/control");
            }
        }
    }

    std::vector<Cell> expand(const ValidatedPipeline& vp) {
        std::size_t total = 1;
        for (const auto& a : p_.sweep) {
            total *= a.size();
            if (total > 1000000) {
                error("/sweep", false, {}, {}, "the sweep has more than a million cells");
                errors_.throw_if_any();
            }
        }
        std::vector<Cell> cells(total);
        for (std::size_t c = 0; c < total; ++c) {
            Cell& cell = cells[c];
            cell.index = c;
            cell.seed = p_.seed;
            cell.params = base_;
            cell.variant.assign(vp.nodes.size(), 0);
            std::size_t rest = c;
            // Last axis varies fastest.
            std::vector<std::size_t> pick(p_.sweep.size());
            for (std::size_t k = p_.sweep.size(); k-- > 0;) {
                pick[k] = rest % p_.sweep[k].size();
                rest /= p_.sweep[k].size();
            }
            for (std::size_t k = 0; k < p_.sweep.size(); ++k) {
                const SweepAxis& a = p_.sweep[k];
                if (a.type == SweepAxis::Type::alternatives) {
                    const std::size_t i = ids_.at(a.keys.front().node);
                    cell.variant[i] = pick[k];
                    cell.params[i] = variant_params_[i][pick[k]];
                }
            }
            for (std::size_t k = 0; k < p_.sweep.size(); ++k) {
                for (const SweepKey& key : p_.sweep[k].keys) {
                    const boost::json::value& v = key.values[pick[k]];
                    cell.assignments.emplace_back(key.key, v);
                    if (p_.sweep[k].type == SweepAxis::Type::alternatives) continue;
                    if (key.node.empty()) {
                        cell.seed = v.is_uint64() ? v.as_uint64() : static_cast<std::uint64_t>(v.as_int64());
                        continue;
                    }
                    const std::size_t i = ids_.at(key.node);
                    cell.params[i].set(key.param, *bind_param(*vp.node(cell, i).plugin->spec.find_param(key.param), v).value);
                }
            }
            resolve_paths(vp, cell);
        }
        return cells;
    }

    // Paths are relative to the pipeline file's folder; the file must exist.
    void resolve_paths(const ValidatedPipeline& vp, Cell& cell) {
        const fs::path base = p_.file.parent_path();
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
                    if (reported_paths_.insert(node.id + "." + key + "=" + v).second)
                        error(decl(cell, i).pointer + "/params/" + pointer_escape(key), false, node.id, key,
                              "file '" + resolved.string() + "' does not exist or is not a regular file",
                              "relative paths are taken from the pipeline file's folder");
                    continue;
                }
                cell.params[i].set(spec.key, resolved.string());
            }
        }
    }

    // An integer parameter as a size, if the node has it.
    static std::optional<std::size_t> size_param(const Params& params, const char* key) {
        auto it = params.all().find(key);
        if (it == params.all().end()) return std::nullopt;
        const auto* v = std::get_if<std::int64_t>(&it->second);
        if (!v || *v < 0) return std::nullopt;
        return static_cast<std::size_t>(*v);
    }

    // The dimension of the points node i works with: the first `ambient_dim` or `dim` found
    // upstream of it (1 when none is: a lower bound).
    std::size_t upstream_dim(const ValidatedPipeline& vp, const Cell& cell, std::size_t i, int depth = 0) const {
        for (const char* key : {"ambient_dim", "dim"})
            if (auto d = size_param(cell.params[i], key)) return *d;
        if (depth > 64) return 1;
        for (const auto& in : vp.node(cell, i).inputs)
            if (std::size_t d = upstream_dim(vp, cell, in.second, depth + 1); d > 1) return d;
        return 1;
    }

    // Sizes against the machine's memory before anything is allocated: a data or sampler node
    // holds n x D doubles (a sampler about three such arrays: its state, the score, the noise).
    void check_memory(const ValidatedPipeline& vp) {
        const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
        std::set<std::string> reported;
        for (const Cell& cell : vp.cells)
            for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
                const Node& node = vp.node(cell, i);
                if (!node.plugin || (node.plugin->spec.kind != Kind::data && node.plugin->spec.kind != Kind::sampler)) continue;
                const auto size = size_param(cell.params[i], "n");
                if (!size) continue;
                const std::size_t n = *size, d = upstream_dim(vp, cell, i);
                const double copies = node.plugin->spec.kind == Kind::sampler ? 3.0 : 1.0;
                const double bytes = static_cast<double>(n) * static_cast<double>(d) * 8.0 * copies;
                if (!(memory > 0.0) || bytes <= memory || !reported.insert(node.id).second) continue;
                const NodeDecl& decl_i = decl(cell, i);
                error(decl_i.params.contains("n") ? decl_i.pointer + "/params/n" : decl_i.pointer, false, node.id, "n",
                      fmt::format("n = {} points in R^{} need at least {} ({} x {} x 8 bytes{}), more than this machine's "
                                  "{} of memory",
                                  n, d, byte_text(bytes), n, d, copies > 1.0 ? " x 3 arrays a sampler holds" : "",
                                  byte_text(memory)),
                      cell.assignments.empty() ? "reduce n" : "reduce n (in sweep cell " + std::to_string(cell.index) + ")");
            }
    }

    static std::string byte_text(double bytes) {
        const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        while (bytes >= 1024.0 && u < 6) bytes /= 1024.0, ++u;
        return fmt::format("{:.3g} {}", bytes, units[u]);
    }

    // Constructs every component once per distinct parameter set, so that checks a plugin
    // makes across its parameters fail before anything runs.
    void instantiate(const ValidatedPipeline& vp) {
        std::set<std::string> done;
        for (const auto& cell : vp.cells) {
            for (std::size_t i = 0; i < vp.nodes.size(); ++i) {
                const PluginRecord* rec = vp.node(cell, i).plugin;
                if (!rec || rec->builtin()) continue;
                std::string sig = vp.nodes[i].id + "#" + rec->spec.name;
                for (const auto& [k, v] : cell.params[i].all()) sig += "|" + k + "=" + boost::json::serialize(to_json(v));
                if (!done.insert(sig).second) continue;
                try {
                    reg_.create(*rec, cell.params[i]);
                } catch (const InputError& e) {
                    const NodeDecl& d = decl(cell, i);
                    const std::string ptr = d.pointer + (e.key().empty() ? "" : "/params/" + pointer_escape(e.key()));
                    error(d.params.contains(e.key()) ? ptr : d.pointer, false, vp.nodes[i].id, e.key(),
                          e.what(), cell.assignments.empty() ? std::string() : "in sweep cell " + std::to_string(cell.index));
                } catch (const std::exception& e) {
                    error(decl(cell, i).pointer, false, vp.nodes[i].id, {},
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
    std::vector<std::vector<Params>> variant_params_;  // by node index, by alternative
    std::vector<const std::vector<NodeDecl>*> variant_decls_;  // by node index; null without alternatives

    // Node i as written for `cell`: its alternative's declaration there, or the node itself.
    const NodeDecl& decl(const Cell& cell, std::size_t i) const {
        return variant_decls_[i] ? (*variant_decls_[i])[cell.variant[i]] : p_.nodes[i];
    }
    std::set<std::string> reported_paths_;
    DiagnosticList errors_;
};

}  // namespace

ValidatedPipeline validate(Pipeline pipeline, const std::vector<Override>& overrides, const Registry& registry) {
    return Validator(pipeline, overrides, registry).run();
}

}  // namespace mdlab::runtime
