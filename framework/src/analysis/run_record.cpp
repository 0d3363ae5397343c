#include "mdlab/runtime/run_record.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "mdlab/runtime/json_precise_parse.hpp"

#include "mdlab/runtime/diagnostics.hpp"
#include "mdlab/runtime/run_directory.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace mdlab::runtime {

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

double number_of(const json::value& v) {
    return is_number(v) ? v.to_number<double>() : std::numeric_limits<double>::quiet_NaN();
}

const json::value* RunCell::axis_value(const std::string& key) const {
    for (const auto& [k, v] : sweep)
        if (k == key) return &v;
    return nullptr;
}

const RunNode* RunCell::node(const std::string& id) const {
    for (const auto& n : nodes)
        if (n.id == id) return &n;
    return nullptr;
}

const RunAxis* RunRecord::axis(const std::string& key) const {
    for (const auto& a : axes)
        if (a.key == key) return &a;
    return nullptr;
}

std::vector<std::string> RunRecord::axis_keys(const std::string& key) const {
    std::vector<std::string> keys{key};
    const RunAxis* a = axis(key);
    if (a && a->group >= 0)
        for (const auto& b : axes)
            if (b.key != key && b.type == a->type && b.group == a->group) keys.push_back(b.key);
    return keys;
}

namespace {

// Boost.JSON 1.81 writes non-finite doubles as the bare words NaN, Infinity and -Infinity
// (as Python's json module does) but cannot read them back: outside strings they become null.
std::string non_finite_as_null(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size()) out += text[++i];
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        bool replaced = false;
        for (const char* word : {"NaN", "Infinity", "-Infinity"}) {
            const std::size_t n = std::char_traits<char>::length(word);
            if (text.compare(i, n, word) == 0) {
                out += "null";
                i += n - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out += c;
    }
    return out;
}

// Reading one JSON file of the run folder; every complaint names the file and the JSON path.
class FileReader {
public:
    explicit FileReader(fs::path file) : file_(std::move(file)) {}

    json::value parse() const {
        std::ifstream in(file_, std::ios::binary);
        if (!in) fail("", "cannot open the file for reading");
        std::ostringstream text;
        text << in.rdbuf();
        boost::system::error_code ec;
        json::value v = parse_json_precise(non_finite_as_null(text.str()), ec);
        if (ec) fail("", "invalid JSON: " + ec.message());
        return v;
    }

    [[noreturn]] void fail(const std::string& pointer, const std::string& message) const {
        Diagnostic d;
        d.file = file_.string();
        d.json_path = pointer;
        d.message = message;
        d.hint = "the run folder's files are written by `mdlab run`; run the pipeline again to rewrite them";
        throw BadInput(d);
    }

    const json::object& object(const json::value& v, const std::string& pointer) const {
        if (!v.is_object()) fail(pointer, "expected a JSON object");
        return v.as_object();
    }
    const json::array& array(const json::value& v, const std::string& pointer) const {
        if (!v.is_array()) fail(pointer, "expected a JSON array");
        return v.as_array();
    }
    std::string string(const json::value& v, const std::string& pointer) const {
        if (!v.is_string()) fail(pointer, "expected a string");
        return std::string(v.as_string());
    }
    std::uint64_t count(const json::value& v, const std::string& pointer) const {
        if (v.is_uint64()) return v.as_uint64();
        if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
        fail(pointer, "expected a non-negative integer");
    }
    // Optional members: null when absent.
    static const json::value* member(const json::object& o, const char* key) {
        auto it = o.find(key);
        return it == o.end() ? nullptr : &it->value();
    }
    std::string optional_string(const json::object& o, const char* key, const std::string& pointer) const {
        const json::value* v = member(o, key);
        return v ? string(*v, pointer + "/" + key) : std::string();
    }

private:
    fs::path file_;
};

std::vector<std::pair<std::string, std::string>> read_inputs(const FileReader& r, const json::value& v,
                                                             const std::string& pointer) {
    std::vector<std::pair<std::string, std::string>> inputs;
    for (const auto& kv : r.object(v, pointer))
        inputs.emplace_back(std::string(kv.key()), r.string(kv.value(), pointer + "/" + std::string(kv.key())));
    return inputs;
}

// What pipeline.json says about each node: inputs (and plugin) for results.json of the
// earlier format.
struct PipelineInfo {
    std::string name, description;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> inputs;
    json::value rates;  // null when not declared
};

PipelineInfo read_pipeline_json(const fs::path& file) {
    PipelineInfo info;
    if (!fs::exists(file)) return info;
    const FileReader r(file);
    const json::value doc = r.parse();
    const json::object& root = r.object(doc, "");
    info.name = r.optional_string(root, "name", "");
    info.description = r.optional_string(root, "description", "");
    if (const json::value* nodes = FileReader::member(root, "nodes")) {
        const json::array& list = r.array(*nodes, "/nodes");
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string p = "/nodes/" + std::to_string(i);
            const json::object& n = r.object(list[i], p);
            const json::value* id = FileReader::member(n, "id");
            if (!id) r.fail(p, "node without an \"id\"");
            const json::value* inputs = FileReader::member(n, "inputs");
            info.inputs[r.string(*id, p + "/id")] = inputs ? read_inputs(r, *inputs, p + "/inputs")
                                                          : std::vector<std::pair<std::string, std::string>>{};
        }
    }
    if (const json::value* rates = FileReader::member(root, "rates")) info.rates = *rates;
    return info;
}

std::vector<RunRate> read_rates(const FileReader& r, const json::value& v, const std::string& pointer) {
    std::vector<RunRate> rates;
    const json::array& list = r.array(v, pointer);
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string p = pointer + "/" + std::to_string(i);
        const json::object& o = r.object(list[i], p);
        const std::string metric = r.optional_string(o, "metric", p);
        RunRate d;
        d.over = r.optional_string(o, "over", p);
        const auto dot = metric.find('.');  // node ids have no dots; value names may
        if (dot == std::string::npos || dot == 0 || dot + 1 == metric.size() || d.over.empty())
            r.fail(p, "a rate needs \"metric\": \"<node>.<value>\" and \"over\": \"<sweep key>\"");
        d.node = metric.substr(0, dot);
        d.value = metric.substr(dot + 1);
        if (const json::value* ref = FileReader::member(o, "reference"))
            for (const auto& kv : r.object(*ref, p + "/reference")) {
                if (!is_number(kv.value())) r.fail(p + "/reference/" + std::string(kv.key()), "expected a number");
                d.reference.emplace_back(std::string(kv.key()), number_of(kv.value()));
            }
        rates.push_back(std::move(d));
    }
    return rates;
}

// A list of declared comparisons in results.json (absent: none); a malformed one fails the read.
template <class Parse>
auto read_declarations(const FileReader& r, const json::object& root, const char* key, Parse parse) {
    std::vector<decltype(parse(json::value(), std::string(), std::declval<std::vector<DeclProblem>&>()))> out;
    const json::value* v = FileReader::member(root, key);
    if (!v) return out;
    const json::array& list = r.array(*v, std::string("/") + key);
    for (std::size_t i = 0; i < list.size(); ++i) {
        std::vector<DeclProblem> problems;
        out.push_back(parse(list[i], std::string("/") + key + "/" + std::to_string(i), problems));
        if (!problems.empty()) r.fail(problems.front().pointer, problems.front().message);
    }
    return out;
}

std::vector<RunAxis> read_axes(const FileReader& r, const json::value& v) {
    std::vector<RunAxis> axes;
    const json::array& list = r.array(v, "/axes");
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string p = "/axes/" + std::to_string(i);
        const json::object& o = r.object(list[i], p);
        RunAxis a;
        a.key = r.optional_string(o, "key", p);
        a.type = r.optional_string(o, "type", p);
        if (a.key.empty()) r.fail(p, "an axis needs a \"key\"");
        if (const json::value* g = FileReader::member(o, "group")) a.group = static_cast<int>(r.count(*g, p + "/group"));
        if (const json::value* values = FileReader::member(o, "values")) {
            const json::array& vs = r.array(*values, p + "/values");
            a.values.assign(vs.begin(), vs.end());
        }
        axes.push_back(std::move(a));
    }
    return axes;
}

// Earlier format: the axes are the first cell's sweep keys, values in order of appearance.
std::vector<RunAxis> derive_axes(const std::vector<RunCell>& cells) {
    std::vector<RunAxis> axes;
    if (cells.empty()) return axes;
    for (const auto& [key, value] : cells.front().sweep) {
        RunAxis a;
        a.key = key;
        a.type = key == "seed" ? "seed" : "grid";
        for (const auto& c : cells)
            if (const json::value* v = c.axis_value(key))
                if (std::find(a.values.begin(), a.values.end(), *v) == a.values.end()) a.values.push_back(*v);
        axes.push_back(std::move(a));
    }
    return axes;
}

}  // namespace

RunRecord load_run(const fs::path& dir) {
    const fs::path results_file = dir / "results.json";
    if (!fs::is_regular_file(results_file)) {
        Diagnostic d;
        d.file = dir.string();
        d.message = fs::is_directory(dir) ? "not a run folder: it has no results.json"
                                          : "not a run folder: no such folder";
        d.hint = "give the folder `mdlab run` wrote its results to (its --out)";
        throw BadInput(d);
    }
    const PipelineInfo pipeline = read_pipeline_json(dir / "pipeline.json");
    const FileReader r(results_file);
    const json::value doc = r.parse();
    const json::object& root = r.object(doc, "");

    RunRecord run;
    run.dir = dir;
    run.name = r.optional_string(root, "pipeline", "");
    if (run.name.empty()) run.name = pipeline.name.empty() ? dir.filename().string() : pipeline.name;
    run.description = r.optional_string(root, "description", "");
    if (run.description.empty()) run.description = pipeline.description;
    run.status = r.optional_string(root, "status", "");

    // Metric nodes of the earlier format: those with rows.
    std::set<std::string> metric_ids;
    if (const json::value* rows = FileReader::member(root, "rows"))
        for (const auto& row : r.array(*rows, "/rows"))
            if (row.is_object())
                if (const json::value* node = FileReader::member(row.as_object(), "node"); node && node->is_string())
                    metric_ids.insert(std::string(node->as_string()));

    const json::value* cells = FileReader::member(root, "cells");
    if (!cells) r.fail("", "no \"cells\" member");
    const json::array& cell_list = r.array(*cells, "/cells");
    for (std::size_t i = 0; i < cell_list.size(); ++i) {
        const std::string p = "/cells/" + std::to_string(i);
        const json::object& jc = r.object(cell_list[i], p);
        RunCell cell;
        const json::value* index = FileReader::member(jc, "cell");
        if (!index) r.fail(p, "a cell needs its \"cell\" index");
        cell.index = r.count(*index, p + "/cell");
        if (const json::value* seed = FileReader::member(jc, "seed")) cell.seed = r.count(*seed, p + "/seed");
        if (const json::value* sweep = FileReader::member(jc, "sweep"))
            for (const auto& kv : r.object(*sweep, p + "/sweep")) cell.sweep.emplace_back(std::string(kv.key()), kv.value());
        if (const json::value* cost = FileReader::member(jc, "cost"))
            for (const auto& kv : r.object(*cost, p + "/cost")) cell.cost.emplace_back(std::string(kv.key()), number_of(kv.value()));
        const json::value* nodes = FileReader::member(jc, "nodes");
        if (!nodes) r.fail(p, "a cell needs its \"nodes\"");
        for (const auto& kv : r.object(*nodes, p + "/nodes")) {
            const std::string np = p + "/nodes/" + std::string(kv.key());
            const json::object& jn = r.object(kv.value(), np);
            RunNode n;
            n.id = std::string(kv.key());
            n.plugin = r.optional_string(jn, "plugin", np);
            n.kind = r.optional_string(jn, "kind", np);
            n.status = r.optional_string(jn, "status", np);
            n.error = r.optional_string(jn, "error", np);
            if (const json::value* inputs = FileReader::member(jn, "inputs")) n.inputs = read_inputs(r, *inputs, np + "/inputs");
            else if (auto it = pipeline.inputs.find(n.id); it != pipeline.inputs.end()) n.inputs = it->second;
            if (const json::value* values = FileReader::member(jn, "values"))
                for (const auto& v : r.object(*values, np + "/values"))
                    n.values.emplace_back(std::string(v.key()), number_of(v.value()));  // null (NaN) stays NaN
            if (const json::value* points = FileReader::member(jn, "points")) {
                n.points = dir / r.string(*points, np + "/points");
            } else {
                const fs::path guess = dir / cell_folder(cell.index) / (n.id + ".npy");
                if (fs::is_regular_file(guess)) n.points = guess;
            }
            if (n.kind.empty()) {
                if (n.plugin == "sample") n.kind = "data";
                else if (metric_ids.count(n.id)) n.kind = "metric";
                else if (!n.points.empty()) n.kind = "sampler";
            }
            cell.nodes.push_back(std::move(n));
        }
        run.cells.push_back(std::move(cell));
    }

    if (const json::value* axes = FileReader::member(root, "axes")) run.axes = read_axes(r, *axes);
    else run.axes = derive_axes(run.cells);

    if (const json::value* rates = FileReader::member(root, "rates")) run.rates = read_rates(r, *rates, "/rates");
    else if (!pipeline.rates.is_null()) run.rates = read_rates(FileReader(dir / "pipeline.json"), pipeline.rates, "/rates");
    run.correlations = read_declarations(r, root, "correlations", parse_correlation);
    run.equivalence = read_declarations(r, root, "equivalence", parse_equivalence);
    run.plots = read_declarations(r, root, "plots", parse_plot);
    return run;
}

}  // namespace mdlab::runtime
