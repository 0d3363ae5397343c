#include "mdlab/runtime/family_decls.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/suggest.hpp"

namespace mdlab::runtime {

namespace json = boost::json;

namespace {

void unknown_fields(const json::object& o, const std::vector<std::string>& fields, const std::string& pointer,
                    std::vector<DeclProblem>& problems) {
    for (const auto& kv : o)
        if (std::find(fields.begin(), fields.end(), kv.key()) == fields.end())
            problems.push_back({pointer + "/" + std::string(kv.key()), "unknown field '" + std::string(kv.key()) + "' (" +
                                                                           suggest(kv.key(), fields, "valid fields") + ")"});
}

std::string required_string(const json::object& o, const char* key, const std::string& pointer,
                            std::vector<DeclProblem>& problems) {
    const json::value* v = o.if_contains(key);
    if (!v || !v->is_string() || v->as_string().empty()) {
        problems.push_back({pointer + "/" + key, std::string("\"") + key + "\" must be a non-empty string"});
        return {};
    }
    return std::string(v->as_string());
}

double optional_number(const json::object& o, const char* key, double fallback, const std::string& pointer,
                       std::vector<DeclProblem>& problems) {
    const json::value* v = o.if_contains(key);
    if (!v) return fallback;
    if (!v->is_number()) {
        problems.push_back({pointer + "/" + key, std::string("\"") + key + "\" must be a number"});
        return fallback;
    }
    return v->to_number<double>();
}

// The declaration's object, or a problem showing the expected form; fields it does not know are problems.
const json::object* declaration(const json::value& v, const std::string& pointer, const char* form,
                                const std::vector<std::string>& fields, std::vector<DeclProblem>& problems) {
    const json::object* o = v.if_object();
    if (!o) problems.push_back({pointer, form});
    else unknown_fields(*o, fields, pointer, problems);
    return o;
}

void check_metric(const std::string& metric, const std::string& pointer, std::vector<DeclProblem>& problems) {
    if (!metric.empty() && split_metric(metric).first.empty())
        problems.push_back({pointer, "a metric is \"<metric node id>.<value name>\"; '" + metric + "' is not"});
}

}  // namespace

std::pair<std::string, std::string> split_metric(const std::string& metric) {
    const auto dot = metric.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == metric.size()) return {};
    return {metric.substr(0, dot), metric.substr(dot + 1)};
}

CorrelationDecl parse_correlation(const json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems) {
    CorrelationDecl d;
    d.pointer = pointer;
    const json::object* o = declaration(v, pointer,
                                        "a correlation is {\"y\": \"<node>.<value>\", \"x\": [\"<node>.<value>\", ...]}, "
                                        "optionally \"where\", \"bootstrap\", \"level\"",
                                        {"y", "x", "where", "bootstrap", "level"}, problems);
    if (!o) return d;
    d.y = required_string(*o, "y", pointer, problems);
    check_metric(d.y, pointer + "/y", problems);
    const json::value* x = o->if_contains("x");
    if (!x || !x->is_array() || x->as_array().empty())
        problems.push_back({pointer + "/x", "\"x\" must be a non-empty list of \"<node>.<value>\""});
    else
        for (std::size_t i = 0; i < x->as_array().size(); ++i) {
            const json::value& e = x->as_array()[i];
            const std::string p = pointer + "/x/" + std::to_string(i);
            if (!e.is_string()) problems.push_back({p, "expected \"<node>.<value>\""});
            else {
                d.x.emplace_back(e.as_string());
                check_metric(d.x.back(), p, problems);
            }
        }
    if (const json::value* w = o->if_contains("where")) {
        if (!w->is_object()) problems.push_back({pointer + "/where", "\"where\" is an object of sweep key: value"});
        else
            for (const auto& kv : w->as_object()) {
                if (kv.value().is_object() || kv.value().is_array() || kv.value().is_null())
                    problems.push_back({pointer + "/where/" + std::string(kv.key()), "expected a string or a number"});
                else d.where.emplace_back(std::string(kv.key()), plain_text(kv.value()));
            }
    }
    const double b = optional_number(*o, "bootstrap", 2000, pointer, problems);
    if (!(b >= 100 && b <= 1e6 && b == std::floor(b)))
        problems.push_back({pointer + "/bootstrap", "\"bootstrap\" is a whole number of resamples in [100, 1000000]"});
    else d.bootstrap = static_cast<std::size_t>(b);
    d.level = optional_number(*o, "level", 0.95, pointer, problems);
    if (!(d.level >= 0.5 && d.level < 1.0))
        problems.push_back({pointer + "/level", "\"level\" is the interval's level, in [0.5, 1)"});
    return d;
}

EquivalenceDecl parse_equivalence(const json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems) {
    EquivalenceDecl d;
    d.pointer = pointer;
    const json::object* o = declaration(v, pointer,
                                        "an equivalence test is {\"metric\": \"<node>.<value>\", \"axis\": \"<sweep key>\", "
                                        "\"test\": value, \"control\": value, \"margin\": number}, optionally \"alpha\"",
                                        {"metric", "axis", "test", "control", "margin", "alpha"}, problems);
    if (!o) return d;
    d.metric = required_string(*o, "metric", pointer, problems);
    check_metric(d.metric, pointer + "/metric", problems);
    d.axis = required_string(*o, "axis", pointer, problems);
    for (const char* k : {"test", "control"}) {
        const json::value* e = o->if_contains(k);
        if (!e || e->is_object() || e->is_array() || e->is_null())
            problems.push_back({pointer + "/" + k, std::string("\"") + k + "\" is a value of the axis (string or number)"});
        else (std::string(k) == "test" ? d.test : d.control) = plain_text(*e);
    }
    d.margin = optional_number(*o, "margin", NAN, pointer, problems);
    if (!(d.margin > 0.0) || !std::isfinite(d.margin))
        problems.push_back({pointer + "/margin", "\"margin\" is the equivalence margin, a positive number (required)"});
    d.alpha = optional_number(*o, "alpha", 0.05, pointer, problems);
    if (!(d.alpha > 0.0 && d.alpha < 0.5)) problems.push_back({pointer + "/alpha", "\"alpha\" lies in (0, 0.5)"});
    return d;
}

const std::vector<std::string>& plot_scales() {
    static const std::vector<std::string> scales{"auto", "linear", "log"};
    return scales;
}

namespace {

// A string or a list of strings (an empty list when allowed); problems name the field.
std::vector<std::string> string_or_list(const json::value& v, const std::string& pointer, const char* what,
                                        bool empty_ok, std::vector<DeclProblem>& problems) {
    std::vector<std::string> out;
    if (v.is_string()) {
        out.emplace_back(v.as_string());
        return out;
    }
    if (!v.is_array() || (!empty_ok && v.as_array().empty())) {
        problems.push_back({pointer, std::string("expected ") + what + " or a " + (empty_ok ? "" : "non-empty ") +
                                         "list of them"});
        return out;
    }
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
        if (v.as_array()[i].is_string()) out.emplace_back(v.as_array()[i].as_string());
        else problems.push_back({pointer + "/" + std::to_string(i), std::string("expected ") + what});
    }
    return out;
}

}  // namespace

PlotDecl parse_plot(const json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems) {
    PlotDecl d;
    d.pointer = pointer;
    const json::object* o = declaration(v, pointer,
                                        "a plot is {\"x\": \"<sweep key>\", \"y\": \"<node>.<value>\" or a list}, optionally "
                                        "\"lines\" (sweep keys), \"x_scale\", \"y_scale\"",
                                        {"x", "y", "lines", "x_scale", "y_scale"}, problems);
    if (!o) return d;
    d.x = required_string(*o, "x", pointer, problems);
    if (const json::value* y = o->if_contains("y")) {
        d.y = string_or_list(*y, pointer + "/y", "\"<node>.<value>\"", false, problems);
        for (std::size_t i = 0; i < d.y.size(); ++i)
            check_metric(d.y[i], pointer + "/y" + (y->is_array() ? "/" + std::to_string(i) : ""), problems);
    } else {
        problems.push_back({pointer + "/y", "\"y\" is required: the metric value(s) to plot, \"<node>.<value>\""});
    }
    if (const json::value* lines = o->if_contains("lines")) {
        d.lines = string_or_list(*lines, pointer + "/lines", "a sweep key", true, problems);
        d.lines_declared = true;
    }
    for (const char* key : {"x_scale", "y_scale"}) {
        const json::value* s = o->if_contains(key);
        if (!s) continue;
        const auto& scales = plot_scales();
        if (s->is_string() && std::find(scales.begin(), scales.end(), s->as_string()) != scales.end())
            (std::string(key) == "x_scale" ? d.x_scale : d.y_scale) = std::string(s->as_string());
        else
            problems.push_back({pointer + "/" + key, std::string("\"") + key + "\" is one of auto, linear, log; " +
                                                         (s->is_string()   ? "'" + std::string(s->as_string()) + "'"
                                                          : s->is_number() ? std::string("a number")
                                                                           : "a " + std::string(json::to_string(s->kind()))) +
                                                         " is not"});
    }
    return d;
}

json::value to_json(const CorrelationDecl& d) {
    json::array x;
    for (const auto& m : d.x) x.emplace_back(m);
    json::object where;
    for (const auto& [k, v] : d.where) where[k] = v;
    return json::object{{"y", d.y}, {"x", std::move(x)}, {"where", std::move(where)},
                        {"bootstrap", d.bootstrap}, {"level", d.level}};
}

json::value to_json(const EquivalenceDecl& d) {
    return json::object{{"metric", d.metric}, {"axis", d.axis},   {"test", d.test},
                        {"control", d.control}, {"margin", d.margin}, {"alpha", d.alpha}};
}

json::value to_json(const PlotDecl& d) {
    json::object o{{"x", d.x}, {"y", json::array(d.y.begin(), d.y.end())}, {"x_scale", d.x_scale}, {"y_scale", d.y_scale}};
    if (d.lines_declared) o["lines"] = json::array(d.lines.begin(), d.lines.end());
    return o;
}

}  // namespace mdlab::runtime
