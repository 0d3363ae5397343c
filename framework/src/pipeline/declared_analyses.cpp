// The analyses a pipeline declares. In: its rates, correlations and equivalence tests, its sweep
// and the plugins of its nodes. Out: problems reported where one names a value that is not a
// metric node's, a key that is not (a numeric) sweep key, or a value the key does not take.
#include <algorithm>

#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/suggest.hpp"
#include "validation_stages.hpp"

namespace mdlab::runtime {

namespace {

std::vector<std::string> metric_nodes(const ValidatedPipeline& vp) {
    std::vector<std::string> out;
    for (const auto& n : vp.nodes)
        if (n.plugin && n.plugin->spec.kind == Kind::metric) out.push_back(n.id);
    return out;
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

// A declared rate names a metric node and a numeric sweep key.
void check_rates(ValidationState& state, const ValidatedPipeline& vp) {
    const Pipeline& p = state.pipeline;
    std::vector<std::string> numeric_keys;
    for (const auto& a : p.sweep)
        if (a.type != SweepAxis::Type::alternatives)
            for (const auto& k : a.keys)
                if (k.key != "seed") numeric_keys.push_back(k.key);
    const std::vector<std::string> metrics = metric_nodes(vp);
    for (const auto& r : p.rates) {
        const auto dot = r.metric.find('.');
        const std::string node = r.metric.substr(0, dot);
        if (dot == std::string::npos || dot + 1 == r.metric.size() || !contains(metrics, node))
            state.error(r.pointer + "/metric", false, node, "metric",
                        "a rate's metric is \"<metric node id>.<value name>\"; '" + r.metric + "' is not",
                        suggest(node, metrics, "metric nodes"));
        const SweepKey* over = nullptr;
        for (const SweepKey* k : p.sweep_keys())
            if (k->key == r.over) over = k;
        if (!over || !contains(numeric_keys, r.over)) {
            state.error(r.pointer + "/over", false, {}, "over",
                        "a rate is fitted over a swept numeric parameter; '" + r.over + "' is not one",
                        suggest(r.over, numeric_keys, "numeric sweep keys"));
            continue;
        }
        for (std::size_t i = 0; i < over->values.size(); ++i)
            if (!over->values[i].is_number() || over->values[i].to_number<double>() <= 0)
                state.error(over->pointer + "/" + std::to_string(i), false, over->node, over->param,
                            "a rate is fitted on log axes, so '" + r.over + "' needs positive numbers");
    }
}

namespace {

// A metric value "<node>.<value>" whose node is a metric node; reported at `pointer` otherwise.
void check_metric_value(ValidationState& state, const std::vector<std::string>& metrics, const std::string& m,
                        const std::string& pointer) {
    const std::string node = split_metric(m).first;
    if (!contains(metrics, node))
        state.error(pointer, false, node, {}, "'" + m + "' does not name a value of a metric node (\"<node>.<value>\")",
                    suggest(node, metrics, "metric nodes"));
}

// The sweep key named `key`; reported at `pointer` (null returned) when there is none.
const SweepKey* find_sweep_key(ValidationState& state, const std::string& key, const std::string& pointer) {
    std::vector<std::string> keys;
    for (const SweepKey* k : state.pipeline.sweep_keys()) {
        if (k->key == key) return k;
        if (k->key != "seed") keys.push_back(k->key);
    }
    state.error(pointer, false, {}, {}, "'" + key + "' is not a sweep key", suggest(key, keys, "sweep keys"));
    return nullptr;
}

// The axis (index into pipeline.sweep) holding a key.
std::size_t axis_of(const Pipeline& p, const SweepKey* key) {
    for (std::size_t a = 0; a < p.sweep.size(); ++a)
        for (const auto& k : p.sweep[a].keys)
            if (&k == key) return a;
    return p.sweep.size();
}

}  // namespace

// Declared correlations and equivalence tests name metric nodes, sweep keys and their values.
void check_comparisons(ValidationState& state, const ValidatedPipeline& vp) {
    const Pipeline& p = state.pipeline;
    const std::vector<std::string> metrics = metric_nodes(vp);
    const auto has_value = [&](const SweepKey& k, const std::string& v, const std::string& pointer) {
        std::vector<std::string> texts;
        for (const auto& x : k.values) texts.push_back(plain_text(x));
        if (!contains(texts, v))
            state.error(pointer, false, {}, {}, "'" + v + "' is not a value of the sweep key '" + k.key + "'",
                        suggest(v, texts, "values"));
    };
    for (const auto& c : p.correlations) {
        check_metric_value(state, metrics, c.y, c.pointer + "/y");
        for (std::size_t i = 0; i < c.x.size(); ++i)
            check_metric_value(state, metrics, c.x[i], c.pointer + "/x/" + std::to_string(i));
        for (const auto& [key, value] : c.where)
            if (const SweepKey* k = find_sweep_key(state, key, c.pointer + "/where")) has_value(*k, value, c.pointer + "/where");
    }
    for (const auto& e : p.equivalence) {
        check_metric_value(state, metrics, e.metric, e.pointer + "/metric");
        if (e.axis == "seed")
            state.error(e.pointer + "/axis", false, {}, {},
                        "the pairs are formed by seed, so the compared axis cannot be 'seed'");
        else if (const SweepKey* k = find_sweep_key(state, e.axis, e.pointer + "/axis")) {
            has_value(*k, e.test, e.pointer + "/test");
            has_value(*k, e.control, e.pointer + "/control");
        }
    }
}

namespace {

// An x axis that is a measured value ("gen.nfe", "w.w2"): not a sweep key, "<node>.<value>".
bool measured_x(const Pipeline& p, const std::string& x) {
    for (const SweepKey* k : p.sweep_keys())
        if (k->key == x) return false;
    const auto dot = x.find('.');
    return dot != std::string::npos && dot > 0 && dot + 1 < x.size();
}

}  // namespace

// Declared plots: x is a non-seed sweep key or a measured value of a sampler or metric node, the
// lines keys are non-seed sweep keys (of another axis than a swept x), y names metric values, and a
// log x scale over a sweep key has positive numbers to take.
void check_plots(ValidationState& state, const ValidatedPipeline& vp) {
    const Pipeline& p = state.pipeline;
    const std::vector<std::string> metrics = metric_nodes(vp);
    const auto not_seed = [&](const std::string& key, const std::string& pointer, const char* role) {
        if (key != "seed") return true;
        state.error(pointer, false, {}, {}, std::string("'seed' cannot be ") + role +
                    ": every plot shows the mean and the 95% interval over the seeds");
        return false;
    };
    std::vector<std::string> measuring;  // nodes whose values may be an x axis: samplers (nfe) and metrics
    for (const auto& n : vp.nodes)
        if (n.plugin && (n.plugin->spec.kind == Kind::metric || n.plugin->spec.kind == Kind::sampler))
            measuring.push_back(n.id);
    for (const auto& plot : p.plots) {
        for (std::size_t i = 0; i < plot.y.size(); ++i)
            check_metric_value(state, metrics, plot.y[i], plot.pointer + "/y" + (plot.y.size() > 1 ? "/" + std::to_string(i) : ""));
        if (measured_x(state.pipeline, plot.x)) {
            const auto [node, value] = split_metric(plot.x);
            const bool sampler = contains(measuring, node) && !contains(metrics, node);
            if (!contains(measuring, node) || (sampler && value != "nfe")) {
                std::vector<std::string> keys;
                for (const SweepKey* k : p.sweep_keys())
                    if (k->key != "seed") keys.push_back(k->key);
                state.error(plot.pointer + "/x", false, node, {},
                            "'" + plot.x + "' is neither a sweep key nor a measured value (a sampler's \"<node>.nfe\" "
                            "or a metric's \"<node>.<value>\")",
                            suggest(plot.x, keys, "sweep keys"));
            }
            for (std::size_t i = 0; i < plot.lines.size(); ++i)
                not_seed(plot.lines[i], plot.pointer + "/lines", "a lines key") &&
                    find_sweep_key(state, plot.lines[i], plot.pointer + "/lines");
            continue;
        }
        const SweepKey* x = not_seed(plot.x, plot.pointer + "/x", "the x axis")
                                ? find_sweep_key(state, plot.x, plot.pointer + "/x") : nullptr;
        if (x && plot.x_scale == "log")
            for (const auto& v : x->values)
                if (!v.is_number() || !(v.to_number<double>() > 0)) {
                    state.error(plot.pointer + "/x_scale", false, {}, "x_scale",
                                "a log x axis needs positive numbers, and '" + plot.x + "' takes " + plain_text(v),
                                "use \"x_scale\": \"linear\" or \"auto\"");
                    break;
                }
        for (std::size_t i = 0; i < plot.lines.size(); ++i) {
            const std::string pointer = plot.pointer + "/lines" + (plot.lines.size() > 1 ? "/" + std::to_string(i) : "");
            if (!not_seed(plot.lines[i], pointer, "a lines key")) continue;
            const SweepKey* k = find_sweep_key(state, plot.lines[i], pointer);
            if (k && x && axis_of(p, k) == axis_of(p, x))
                state.error(pointer, false, {}, {},
                            "'" + plot.lines[i] + "' varies together with the x axis '" + plot.x +
                                "' (one axis of the sweep): each line would have one point",
                            "choose a key of another axis for \"lines\"");
        }
    }
}

}  // namespace mdlab::runtime
