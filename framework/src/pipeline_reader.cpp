// Reading a pipeline file's structure: fields, their types, node ids, the sweep.
#include "mdlab/runtime/param_binding.hpp"
#include <regex>

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/pipeline.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

namespace {

const std::vector<std::string> top_keys{"name", "description", "seed", "nodes", "sweep"};
const std::vector<std::string> node_keys{"id", "plugin", "params", "inputs"};
const std::vector<std::string> sweep_keys{"grid"};

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

    void sweep(const boost::json::value& v) {
        if (!v.is_object()) {
            error("/sweep", "\"sweep\" must be an object such as {\"grid\": {\"node.param\": [values]}}");
            return;
        }
        for (const auto& kv : v.as_object())
            if (std::find(sweep_keys.begin(), sweep_keys.end(), kv.key()) == sweep_keys.end())
                error("/sweep/" + pointer_escape(kv.key()), "unknown sweep field", suggest(kv.key(), sweep_keys, "valid fields"),
                      {}, std::string(kv.key()), true);
        auto* grid = v.as_object().if_contains("grid");
        if (!grid) return;
        if (!grid->is_object()) {
            error("/sweep/grid", "\"grid\" must be an object of \"node.param\": [values]");
            return;
        }
        for (const auto& kv : grid->as_object()) {
            SweepAxis a;
            a.key = std::string(kv.key());
            a.pointer = "/sweep/grid/" + pointer_escape(a.key);
            if (a.key != "seed") {
                const auto dot = a.key.find('.');
                if (dot == std::string::npos || dot == 0 || dot + 1 == a.key.size()) {
                    error(a.pointer, "a sweep key is \"seed\" or \"<node id>.<param>\"", {}, {}, a.key, true);
                    continue;
                }
                a.node = a.key.substr(0, dot);
                a.param = a.key.substr(dot + 1);
            }
            if (!kv.value().is_array() || kv.value().as_array().empty()) {
                error(a.pointer, "a sweep axis is a non-empty array of values", {}, a.node, a.key);
                continue;
            }
            for (const auto& x : kv.value().as_array()) a.values.push_back(x);
            p_.sweep.push_back(std::move(a));
        }
    }

    Pipeline& p_;
    const JsonDocument& doc_;
    DiagnosticList errors_;
};

}  // namespace

Pipeline read_pipeline_text(std::string text, const std::string& name, const std::filesystem::path& base_dir) {
    Pipeline p{JsonDocument::parse(std::move(text), name), base_dir / std::filesystem::path(name).filename(), {}, {}, 0, {}, {}};
    Reader(p).read();
    return p;
}

Pipeline read_pipeline(const std::filesystem::path& file) {
    Pipeline p{JsonDocument::load(file), file, {}, {}, 0, {}, {}};
    Reader(p).read();
    return p;
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
    return Override{text, text.substr(0, dot), text.substr(dot + 1, eq - dot - 1), parse_cli_value(text.substr(eq + 1))};
}

}  // namespace mdlab::runtime
