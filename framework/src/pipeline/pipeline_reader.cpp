// Reading a pipeline file's structure: fields, their types, node ids, the sweep.
#include "mdlab/runtime/param_binding.hpp"
#include <optional>
#include <regex>

#include <boost/json/serialize.hpp>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

namespace {

const std::vector<std::string> top_keys{"name", "description", "seed", "nodes", "sweep", "rates",
                                        "correlations", "equivalence", "plots", "smoke"};
const std::vector<std::string> node_keys{"id", "plugin", "params", "inputs", "shared_where_present"};
const std::vector<std::string> sweep_keys{"grid", "zip", "alternatives"};

class Reader {
public:
    explicit Reader(Pipeline& p) : p_(p), doc_(p.document) {}

    void error(const std::string& pointer, std::string message, std::string hint = {}, std::string node = {},
               std::string key = {}, bool at_key = false) {
        const SourcePos pos = at_key ? doc_.key_position(pointer) : doc_.position(pointer);
        errors_.add(Diagnostic{doc_.name(), pos.line, pos.column, pointer, std::move(node), std::move(key),
                               std::move(message), std::move(hint)});
    }

    void read() {
        const auto& root = doc_.root();
        if (!root.is_object()) {
            error("", "the pipeline must be a JSON object", "{\"seed\": 1, \"nodes\": [...]}");
            errors_.throw_if_any();
        }
        const auto& obj = root.as_object();
        for (const auto& kv : obj)
            if (std::find(top_keys.begin(), top_keys.end(), kv.key()) == top_keys.end())
                error("/" + pointer_escape(kv.key()), "unknown top-level key", suggest(kv.key(), top_keys, "valid keys"),
                      {}, std::string(kv.key()), true);
        if (auto* v = obj.if_contains("name")) {
            if (v->is_string()) p_.name = std::string(v->as_string());
            else error("/name", "expected a string");
        }
        if (p_.name.empty()) p_.name = p_.file.stem().string();
        if (auto* v = obj.if_contains("description")) {
            if (v->is_string()) p_.description = std::string(v->as_string());
            else error("/description", "expected a string");
        }
        if (auto* v = obj.if_contains("seed")) {
            if (v->is_int64() && v->as_int64() >= 0) p_.seed = static_cast<std::uint64_t>(v->as_int64());
            else if (v->is_uint64()) p_.seed = v->as_uint64();
            else error("/seed", "the seed must be a non-negative integer", {}, {}, "seed");
        } else {
            error("", "missing \"seed\": every pipeline names its random seed", "add \"seed\": 1 (any non-negative integer)", {}, "seed");
        }
        if (auto* v = obj.if_contains("nodes")) nodes(*v);
        else error("", "missing \"nodes\": the list of components", "add \"nodes\": [{\"id\": ..., \"plugin\": ...}, ...]", {}, "nodes");
        if (auto* v = obj.if_contains("sweep")) sweep(*v);
        if (auto* v = obj.if_contains("rates")) rates(*v);
        if (auto* v = obj.if_contains("correlations")) declarations(*v, "/correlations", p_.correlations, parse_correlation);
        if (auto* v = obj.if_contains("equivalence")) declarations(*v, "/equivalence", p_.equivalence, parse_equivalence);
        if (auto* v = obj.if_contains("plots")) declarations(*v, "/plots", p_.plots, parse_plot);
        if (auto* v = obj.if_contains("smoke")) smoke(*v);
        errors_.throw_if_any();
    }

private:
    void nodes(const boost::json::value& v) {
        if (!v.is_array() || v.as_array().empty()) {
            error("/nodes", "\"nodes\" must be a non-empty array of node objects");
            return;
        }
        static const std::regex id_pattern("[A-Za-z0-9_-]+");
        std::map<std::string, std::string> seen;  // id -> pointer
        const auto& arr = v.as_array();
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const std::string ptr = "/nodes/" + std::to_string(i);
            if (!arr[i].is_object()) {
                error(ptr, "a node must be an object with \"id\" and \"plugin\"");
                continue;
            }
            const auto& o = arr[i].as_object();
            NodeDecl n;
            n.pointer = ptr;
            if (auto* id = o.if_contains("id"); id && id->is_string()) n.id = std::string(id->as_string());
            for (const auto& kv : o)
                if (std::find(node_keys.begin(), node_keys.end(), kv.key()) == node_keys.end())
                    error(ptr + "/" + pointer_escape(kv.key()), "unknown node field", suggest(kv.key(), node_keys, "valid fields"),
                          n.id, std::string(kv.key()), true);
            if (n.id.empty()) {
                error(o.contains("id") ? ptr + "/id" : ptr, "every node needs a non-empty string \"id\"");
                continue;
            }
            if (!std::regex_match(n.id, id_pattern))
                error(ptr + "/id", "node id '" + n.id + "' may only contain letters, digits, '_' and '-'", {}, n.id, "id");
            if (auto [it, fresh] = seen.emplace(n.id, ptr); !fresh) {
                const SourcePos first = doc_.position(it->second);
                error(ptr + "/id", "duplicate node id",
                      "the first node with this id is at line " + std::to_string(first.line) + " (" + it->second + ")", n.id, "id");
            }
            if (auto* pl = o.if_contains("plugin"); pl && pl->is_string() && !pl->as_string().empty())
                n.plugin = std::string(pl->as_string());
            else
                error(o.contains("plugin") ? ptr + "/plugin" : ptr, "every node needs a string \"plugin\"", "run `mdlab plugins` to list them", n.id, "plugin");
            if (auto* pa = o.if_contains("params")) {
                if (pa->is_object()) n.params = pa->as_object();
                else error(ptr + "/params", "\"params\" must be an object of key: value", {}, n.id, "params");
            }
            if (auto* sw = o.if_contains("shared_where_present")) shared_where_present(*sw, n);
            if (auto* in = o.if_contains("inputs")) {
                if (!in->is_object()) {
                    error(ptr + "/inputs", "\"inputs\" must be an object of port: node id", {}, n.id, "inputs");
                } else {
                    for (const auto& kv : in->as_object()) {
                        if (kv.value().is_string())
                            n.inputs.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
                        else
                            error(ptr + "/inputs/" + pointer_escape(kv.key()), "an input names a node id (a string)", {},
                                  n.id, std::string(kv.key()));
                    }
                }
            }
            p_.nodes.push_back(std::move(n));
        }
    }

    // The node's shared params that a variant whose plugin lacks them leaves out: a list of keys
    // of its "params".
    void shared_where_present(const boost::json::value& v, NodeDecl& n) {
        const std::string ptr = n.pointer + "/shared_where_present";
        if (!v.is_array()) {
            error(ptr, "\"shared_where_present\" must be a list of keys of the node's \"params\"",
                  "for example \"shared_where_present\": [\"denoise\"]", n.id, "shared_where_present");
            return;
        }
        std::vector<std::string> keys;
        for (const auto& kv : n.params) keys.emplace_back(kv.key());
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
            const auto& key = v.as_array()[i];
            if (key.is_string() && n.params.contains(key.as_string())) {
                n.shared_where_present.emplace_back(key.as_string());
                continue;
            }
            const std::string text = key.is_string() ? std::string(key.as_string()) : std::string();
            error(ptr + "/" + std::to_string(i),
                  key.is_string() ? "'" + text + "' is not one of the node's params, so no variant inherits it"
                                  : "a key of the node's \"params\" (a string)",
                  keys.empty() ? "the node has no params" : suggest(text, keys, "the node's params"), n.id, "shared_where_present");
        }
    }

    void sweep(const boost::json::value& v) {
        if (!v.is_object()) {
            error("/sweep", "\"sweep\" must be an object such as {\"grid\": {\"node.param\": [values]}}");
            return;
        }
        // Axes come in the order written, so the user decides which varies fastest (the last).
        for (const auto& kv : v.as_object()) {
            const std::string field(kv.key());
            if (field == "grid") grid(kv.value());
            else if (field == "zip") zip(kv.value());
            else if (field == "alternatives") alternatives(kv.value());
            else
                error("/sweep/" + pointer_escape(field), "unknown sweep field", suggest(field, sweep_keys, "valid fields"),
                      {}, field, true);
        }
    }

    // A "seed" or "node.param" key with its list of values; false after reporting a problem.
    bool sweep_key(const std::string& key, const boost::json::value& values, const std::string& pointer, SweepKey& out) {
        out.key = key;
        out.pointer = pointer;
        if (key != "seed") {
            const auto dot = key.find('.');
            if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
                error(pointer, "a sweep key is \"seed\" or \"<node id>.<param>\"", {}, {}, key, true);
                return false;
            }
            out.node = key.substr(0, dot);
            out.param = key.substr(dot + 1);
        }
        if (!values.is_array() || values.as_array().empty()) {
            error(pointer, "a sweep axis is a non-empty array of values", {}, out.node, key);
            return false;
        }
        out.values.assign(values.as_array().begin(), values.as_array().end());
        return true;
    }

    void grid(const boost::json::value& v) {
        if (!v.is_object()) {
            error("/sweep/grid", "\"grid\" must be an object of \"node.param\": [values]");
            return;
        }
        for (const auto& kv : v.as_object()) {
            SweepAxis a;
            a.type = SweepAxis::Type::grid;
            a.pointer = "/sweep/grid/" + pointer_escape(kv.key());
            a.keys.emplace_back();
            if (sweep_key(std::string(kv.key()), kv.value(), a.pointer, a.keys.back())) p_.sweep.push_back(std::move(a));
        }
    }

    void zip(const boost::json::value& v) {
        if (v.is_object()) return zip_group(v.as_object(), "/sweep/zip");
        if (v.is_array() && !v.as_array().empty()) {
            for (std::size_t i = 0; i < v.as_array().size(); ++i) {
                const std::string ptr = "/sweep/zip/" + std::to_string(i);
                if (v.as_array()[i].is_object()) zip_group(v.as_array()[i].as_object(), ptr);
                else error(ptr, "a zip group is an object of \"node.param\": [values] of equal lengths");
            }
            return;
        }
        error("/sweep/zip", "\"zip\" must be an object of \"node.param\": [values] (equal lengths), or a list of such objects");
    }

    void zip_group(const boost::json::object& o, const std::string& pointer) {
        SweepAxis a;
        a.type = SweepAxis::Type::zip;
        a.pointer = pointer;
        for (const auto& kv : o) {
            SweepKey k;
            if (!sweep_key(std::string(kv.key()), kv.value(), pointer + "/" + pointer_escape(kv.key()), k)) return;
            if (!a.keys.empty() && k.values.size() != a.keys.front().values.size()) {
                error(k.pointer, "zipped keys vary together, so their lists need equal lengths: '" + k.key + "' has " +
                                     std::to_string(k.values.size()) + " values, '" + a.keys.front().key + "' has " +
                                     std::to_string(a.keys.front().values.size()),
                      "use \"grid\" for keys that should combine with each other", k.node, k.key, true);
                return;
            }
            a.keys.push_back(std::move(k));
        }
        if (a.keys.empty()) error(pointer, "a zip group needs at least one key");
        else p_.sweep.push_back(std::move(a));
    }

    void alternatives(const boost::json::value& v) {
        if (!v.is_object()) {
            error("/sweep/alternatives", "\"alternatives\" must be an object of node id: [variants]",
                  "{\"score\": [{\"plugin\": \"empirical\"}, {\"plugin\": \"kernel_smoothed\", \"params\": {...}}]}");
            return;
        }
        for (const auto& kv : v.as_object()) {
            const std::string id(kv.key());
            SweepAxis a;
            a.type = SweepAxis::Type::alternatives;
            a.pointer = "/sweep/alternatives/" + pointer_escape(id);
            const NodeDecl* base = find_node(id);
            if (!base) {
                std::vector<std::string> ids;
                for (const auto& n : p_.nodes) ids.push_back(n.id);
                error(a.pointer, "alternatives name node '" + id + "', which does not exist", suggest(id, ids, "node ids"),
                      id, id, true);
                continue;
            }
            if (!kv.value().is_array() || kv.value().as_array().empty()) {
                error(a.pointer, "the alternatives of a node are a non-empty list of variants {\"plugin\", \"params\", \"inputs\", \"label\"}",
                      {}, id, id);
                continue;
            }
            SweepKey key;
            key.key = id;
            key.node = id;
            key.pointer = a.pointer;
            const auto& list = kv.value().as_array();
            bool ok = true;
            for (std::size_t i = 0; i < list.size(); ++i) {
                auto variant = alternative(*base, list[i], a.pointer + "/" + std::to_string(i));
                if (!variant) {
                    ok = false;
                    continue;
                }
                for (const auto& l : key.values)
                    if (l.as_string() == variant->second) {
                        error(a.pointer + "/" + std::to_string(i), "two alternatives of node '" + id + "' have the label '" +
                                  variant->second + "'",
                              "give each a distinct \"label\"", id, "label");
                        ok = false;
                    }
                key.values.emplace_back(variant->second);
                a.variants.push_back(std::move(variant->first));
            }
            a.keys.push_back(std::move(key));
            if (ok) p_.sweep.push_back(std::move(a));
        }
    }

    const NodeDecl* find_node(const std::string& id) const {
        for (const auto& n : p_.nodes)
            if (n.id == id) return &n;
        return nullptr;
    }

    // A variant: the declared node with the variant's plugin and inputs in place of its own, and its
    // params: the node's (shared) params, each replaced by the variant's own value where it gives one.
    std::optional<std::pair<NodeDecl, std::string>> alternative(const NodeDecl& base, const boost::json::value& v,
                                                                const std::string& ptr) {
        static const std::vector<std::string> fields{"label", "plugin", "params", "inputs"};
        if (!v.is_object()) {
            error(ptr, "an alternative is an object with \"plugin\" and optionally \"params\", \"inputs\", \"label\"", {}, base.id);
            return std::nullopt;
        }
        const auto& o = v.as_object();
        for (const auto& kv : o)
            if (std::find(fields.begin(), fields.end(), kv.key()) == fields.end())
                error(ptr + "/" + pointer_escape(kv.key()), "unknown field of an alternative", suggest(kv.key(), fields, "valid fields"),
                      base.id, std::string(kv.key()), true);
        NodeDecl n = base;
        n.pointer = ptr;
        n.node_pointer = base.pointer;
        for (const auto& kv : base.params) n.inherited.emplace_back(kv.key());
        if (auto* pl = o.if_contains("plugin")) {
            if (!pl->is_string() || pl->as_string().empty()) {
                error(ptr + "/plugin", "\"plugin\" must be a plugin name", "run `mdlab plugins` to list them", base.id, "plugin");
                return std::nullopt;
            }
            n.plugin = std::string(pl->as_string());
        }
        if (auto* pa = o.if_contains("params")) {
            if (!pa->is_object()) {
                error(ptr + "/params", "\"params\" must be an object of key: value", {}, base.id, "params");
                return std::nullopt;
            }
            for (const auto& kv : pa->as_object()) {
                n.params[kv.key()] = kv.value();
                n.inherited.erase(std::remove(n.inherited.begin(), n.inherited.end(), kv.key()), n.inherited.end());
            }
        }
        if (auto* in = o.if_contains("inputs")) {
            if (!in->is_object()) {
                error(ptr + "/inputs", "\"inputs\" must be an object of port: node id", {}, base.id, "inputs");
                return std::nullopt;
            }
            n.inputs.clear();
            for (const auto& kv : in->as_object()) {
                if (!kv.value().is_string()) {
                    error(ptr + "/inputs/" + pointer_escape(kv.key()), "an input names a node id (a string)", {}, base.id,
                          std::string(kv.key()));
                    return std::nullopt;
                }
                n.inputs.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
            }
        }
        std::string label = n.plugin;
        if (auto* l = o.if_contains("label")) {
            if (!l->is_string() || l->as_string().empty()) {
                error(ptr + "/label", "\"label\" must be a non-empty string", {}, base.id, "label");
                return std::nullopt;
            }
            label = std::string(l->as_string());
        }
        return std::make_pair(std::move(n), std::move(label));
    }

    void rates(const boost::json::value& v) {
        static const std::vector<std::string> fields{"metric", "over", "reference"};
        if (!v.is_array()) {
            error("/rates", "\"rates\" must be a list of {\"metric\": \"<node>.<value>\", \"over\": \"<sweep key>\"}");
            return;
        }
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
            const std::string ptr = "/rates/" + std::to_string(i);
            const auto& item = v.as_array()[i];
            const auto* o = item.if_object();
            const auto* metric = o ? o->if_contains("metric") : nullptr;
            const auto* over = o ? o->if_contains("over") : nullptr;
            if (!metric || !metric->is_string() || !over || !over->is_string()) {
                error(ptr, "a rate fit is {\"metric\": \"<metric node>.<value>\", \"over\": \"<sweep key>\"}",
                      "optionally \"reference\": {\"name\": exponent, ...}");
                continue;
            }
            for (const auto& kv : *o)
                if (std::find(fields.begin(), fields.end(), kv.key()) == fields.end())
                    error(ptr + "/" + pointer_escape(kv.key()), "unknown field of a rate fit", suggest(kv.key(), fields, "valid fields"),
                          {}, std::string(kv.key()), true);
            RateDecl r;
            r.metric = std::string(metric->as_string());
            r.over = std::string(over->as_string());
            r.pointer = ptr;
            if (const auto* ref = o->if_contains("reference")) {
                if (!ref->is_object()) error(ptr + "/reference", "\"reference\" is an object of name: exponent");
                else
                    for (const auto& kv : ref->as_object()) {
                        if (kv.value().is_number()) r.reference.emplace_back(std::string(kv.key()), kv.value().to_number<double>());
                        else error(ptr + "/reference/" + pointer_escape(kv.key()), "a reference exponent is a number");
                    }
            }
            p_.rates.push_back(std::move(r));
        }
    }

    // A list of declarations parsed by family_decls.cpp; its problems become diagnostics.
    template <class Decl, class Parse>
    void declarations(const boost::json::value& v, const std::string& pointer, std::vector<Decl>& out, Parse parse) {
        if (!v.is_array()) {
            error(pointer, "\"" + pointer.substr(1) + "\" must be a list of declarations");
            return;
        }
        for (std::size_t i = 0; i < v.as_array().size(); ++i) {
            std::vector<DeclProblem> problems;
            Decl d = parse(v.as_array()[i], pointer + "/" + std::to_string(i), problems);
            for (const auto& p : problems) error(p.pointer, p.message);
            if (problems.empty()) out.push_back(std::move(d));
        }
    }

    void smoke(const boost::json::value& v) {
        static const std::vector<std::string> fields{"set", "sweep"};
        if (!v.is_object()) {
            error("/smoke", "\"smoke\" must be an object {\"set\": {\"node.key\": value}, \"sweep\": {\"key\": [values]}}");
            return;
        }
        p_.smoke.declared = true;
        for (const auto& kv : v.as_object()) {
            const std::string field(kv.key());
            if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
                error("/smoke/" + pointer_escape(field), "unknown smoke field", suggest(field, fields, "valid fields"), {}, field, true);
                continue;
            }
            if (!kv.value().is_object()) {
                error("/smoke/" + field, "\"" + field + "\" must be an object");
                continue;
            }
            auto& out = field == "set" ? p_.smoke.set : p_.smoke.sweep;
            for (const auto& e : kv.value().as_object()) out.emplace_back(std::string(e.key()), e.value());
        }
    }

    Pipeline& p_;
    const JsonDocument& doc_;
    DiagnosticList errors_;
};

}  // namespace

Pipeline read_pipeline_text(std::string text, const std::string& name, const std::filesystem::path& base_dir) {
    Pipeline p{JsonDocument::parse(std::move(text), name), base_dir / std::filesystem::path(name).filename(), {}, {}, 0, {}, {}, {}, {}, {}, {}, {}};
    Reader(p).read();
    return p;
}

Pipeline read_pipeline(const std::filesystem::path& file) {
    Pipeline p{JsonDocument::load(file), file, {}, {}, 0, {}, {}, {}, {}, {}, {}, {}};
    Reader(p).read();
    return p;
}

std::string_view to_string(SweepAxis::Type t) {
    switch (t) {
    case SweepAxis::Type::grid: return "grid";
    case SweepAxis::Type::zip: return "zip";
    case SweepAxis::Type::alternatives: return "alternatives";
    }
    return "?";
}

bool NodeDecl::inherits(const std::string& key) const {
    return std::find(inherited.begin(), inherited.end(), key) != inherited.end();
}

std::string NodeDecl::param_pointer(const std::string& key) const {
    if (!params.contains(key)) return pointer;
    return (inherits(key) ? node_pointer : pointer) + "/params/" + pointer_escape(key);
}

std::vector<const SweepKey*> Pipeline::sweep_keys() const {
    std::vector<const SweepKey*> out;
    for (const auto& a : sweep)
        for (const auto& k : a.keys) out.push_back(&k);
    return out;
}

std::vector<Override> apply_smoke(Pipeline& p) {
    DiagnosticList errors;
    auto error = [&](const std::string& pointer, std::string key, std::string message, std::string hint = {}) {
        const SourcePos pos = p.document.key_position(pointer);
        errors.add(Diagnostic{p.document.name(), pos.line, pos.column, pointer, {}, std::move(key), std::move(message),
                              std::move(hint)});
    };
    if (!p.smoke.declared) {
        Diagnostic d;
        d.file = p.document.name();
        d.key = "smoke";
        d.message = "--smoke: this pipeline declares no smoke size";
        d.hint = "add \"smoke\": {\"set\": {\"node.key\": value}, \"sweep\": {\"key\": [values]}} to it";
        throw BadInput(d);
    }
    std::vector<std::string> known;
    for (const SweepKey* k : p.sweep_keys()) known.push_back(k->key);
    for (const auto& [key, values] : p.smoke.sweep) {
        const std::string ptr = "/smoke/sweep/" + pointer_escape(key);
        SweepAxis* axis = nullptr;
        SweepKey* target = nullptr;
        for (auto& a : p.sweep)
            for (auto& k : a.keys)
                if (k.key == key) axis = &a, target = &k;
        if (!target) {
            error(ptr, key, "the smoke size names sweep key '" + key + "', which the sweep does not have",
                  suggest(key, known, "sweep keys"));
            continue;
        }
        if (!values.is_array() || values.as_array().empty()) {
            error(ptr, key, "a smoke sweep entry is a non-empty list of values");
            continue;
        }
        if (axis->type != SweepAxis::Type::alternatives) {
            target->values.assign(values.as_array().begin(), values.as_array().end());
            target->pointer = ptr;
            continue;
        }
        // Alternatives: the smoke list picks variants by label.
        std::vector<boost::json::value> labels;
        std::vector<NodeDecl> variants;
        for (const auto& l : values.as_array()) {
            std::vector<std::string> choices;
            bool found = false;
            for (std::size_t i = 0; i < target->values.size(); ++i) {
                choices.emplace_back(target->values[i].as_string());
                if (l.is_string() && l.as_string() == target->values[i].as_string()) {
                    labels.push_back(target->values[i]);
                    variants.push_back(axis->variants[i]);
                    found = true;
                }
            }
            if (!found)
                error(ptr, key, "the smoke size picks alternatives of node '" + key + "' by label; '" +
                                    (l.is_string() ? std::string(l.as_string()) : std::string("(not a string)")) + "' is none of them",
                      suggest(l.is_string() ? std::string(l.as_string()) : std::string(), choices, "labels"));
        }
        target->values = std::move(labels);
        axis->variants = std::move(variants);
    }
    for (const auto& a : p.sweep)
        for (const auto& k : a.keys)
            if (k.values.size() != a.keys.front().values.size())
                error("/smoke/sweep", k.key,
                      "after the smoke size, zipped keys '" + a.keys.front().key + "' and '" + k.key + "' have different lengths (" +
                          std::to_string(a.keys.front().values.size()) + " and " + std::to_string(k.values.size()) + ")",
                      "give every key of a zip group the same number of values");
    std::vector<Override> out;
    for (const auto& [key, value] : p.smoke.set) {
        const std::string ptr = "/smoke/set/" + pointer_escape(key);
        const auto dot = key.find('.');
        if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
            error(ptr, key, "a smoke \"set\" key is \"<node id>.<param>\"");
            continue;
        }
        const SourcePos pos = p.document.position(ptr);
        out.push_back(Override{key + "=" + boost::json::serialize(value), key.substr(0, dot), key.substr(dot + 1), value,
                               p.document.name() + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) +
                                   " (smoke.set " + key + ")"});
    }
    errors.throw_if_any();
    return out;
}

Override parse_override(const std::string& text) {
    const auto eq = text.find('=');
    const auto dot = text.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 >= eq) {
        Diagnostic d;
        d.file = "--set " + text;
        d.message = "expected --set <node id>.<param>=<value>";
        d.hint = "for example --set gen.t_min=0.01 (values are JSON; bare words are strings)";
        throw BadInput(d);
    }
    return Override{text, text.substr(0, dot), text.substr(dot + 1, eq - dot - 1), parse_cli_value(text.substr(eq + 1)), {}};
}

}  // namespace mdlab::runtime
