#include "mdlab/runtime/rate_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "mdlab/runtime/csv_text.hpp"
#include "mdlab/runtime/student_t.hpp"
#include "mdlab/runtime/summary.hpp"

namespace mdlab::runtime {

namespace {
constexpr double nan = std::numeric_limits<double>::quiet_NaN();
}

LineFit fit_line(const std::vector<double>& u, const std::vector<double>& v) {
    LineFit f{u.size(), nan, nan, nan, nan, nan, nan};
    if (u.size() != v.size() || u.size() < 3) return f;
    const double n = static_cast<double>(u.size());
    double u_mean = 0.0, v_mean = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) u_mean += u[i], v_mean += v[i];
    u_mean /= n;
    v_mean /= n;
    double suu = 0.0, suv = 0.0, svv = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) {
        suu += (u[i] - u_mean) * (u[i] - u_mean);
        suv += (u[i] - u_mean) * (v[i] - v_mean);
        svv += (v[i] - v_mean) * (v[i] - v_mean);
    }
    if (!(suu > 0.0)) return f;
    f.slope = suv / suu;
    f.intercept = v_mean - f.slope * u_mean;
    double residual = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) {
        const double e = v[i] - f.intercept - f.slope * u[i];
        residual += e * e;
    }
    f.se = std::sqrt(residual / (n - 2.0) / suu);
    const double half = t95(n - 2.0) * f.se;
    f.ci_low = f.slope - half;
    f.ci_high = f.slope + half;
    f.r2 = svv > 0.0 ? 1.0 - residual / svv : nan;
    return f;
}

namespace {

struct CellGroup {
    std::vector<std::pair<std::string, std::string>> key;
    std::vector<const RunCell*> cells;
};

// Cells that agree on every non-seed axis except `over` and its zip partners.
std::vector<CellGroup> groups_over(const RunRecord& run, const std::string& over) {
    const std::vector<std::string> excluded = run.axis_keys(over);
    std::vector<std::string> keys;
    for (const auto& k : non_seed_axes(run))
        if (std::find(excluded.begin(), excluded.end(), k) == excluded.end()) keys.push_back(k);
    std::vector<CellGroup> groups;
    for (const RunCell& cell : run.cells) {
        std::vector<std::pair<std::string, std::string>> key;
        for (const auto& k : keys) key.emplace_back(k, axis_text(cell, k));
        auto g = std::find_if(groups.begin(), groups.end(), [&](const CellGroup& x) { return x.key == key; });
        if (g == groups.end()) g = groups.insert(groups.end(), CellGroup{key, {}});
        g->cells.push_back(&cell);
    }
    return groups;
}

double value_of(const RunNode& node, const std::string& name) {
    for (const auto& [k, v] : node.values)
        if (k == name) return v;
    return nan;
}

// Collects the group's points and fits them; `fit` arrives with node, value, over, reference.
void fit_group(RateFit& fit, const CellGroup& group) {
    fit.group = group.key;
    std::size_t missing = 0;
    for (const RunCell* cell : group.cells) {
        const boost::json::value* x = cell->axis_value(fit.over);
        if (!x || !is_number(*x)) {
            fit.status = "not_numeric";
            fit.reason = fmt::format("{} = '{}' in cell {} is not a number", fit.over, axis_text(*cell, fit.over),
                                     cell->index);
            return;
        }
        const RunNode* node = cell->node(fit.node);
        const double y = node ? value_of(*node, fit.value) : nan;
        if (!std::isfinite(y)) {
            ++missing;
            continue;
        }
        fit.x.push_back(number_of(*x));
        fit.y.push_back(y);
    }
    const std::string left_out =
        missing ? fmt::format("{} cell{} without a finite {} left out", missing, missing == 1 ? "" : "s", fit.metric())
                : std::string();
    std::size_t non_positive = 0;
    for (std::size_t i = 0; i < fit.x.size(); ++i) non_positive += fit.x[i] <= 0.0 || fit.y[i] <= 0.0;
    if (non_positive) {
        fit.status = "non_positive";
        fit.reason = fmt::format("{} of {} points have {} or {} <= 0: no logarithm", non_positive, fit.x.size(),
                                 fit.metric(), fit.over);
        return;
    }
    const std::size_t distinct = std::set<double>(fit.x.begin(), fit.x.end()).size();
    if (distinct < 3) {
        fit.status = "too_few_points";
        fit.reason = fmt::format("{} distinct value{} of {} with a finite {}; a fit needs 3", distinct,
                                 distinct == 1 ? "" : "s", fit.over, fit.metric());
        if (!left_out.empty()) fit.reason += " (" + left_out + ")";
        return;
    }
    std::vector<double> u, v;
    for (std::size_t i = 0; i < fit.x.size(); ++i) u.push_back(std::log(fit.x[i])), v.push_back(std::log(fit.y[i]));
    fit.fit = fit_line(u, v);
    fit.status = "ok";
    fit.reason = left_out;
}

bool appears(const RunRecord& run, const std::string& node, const std::string& value) {
    for (const RunCell& cell : run.cells)
        if (const RunNode* n = cell.node(node))
            for (const auto& kv : n->values)
                if (kv.first == value) return true;
    return false;
}

std::vector<RateFit> declared_fits(const RunRecord& run) {
    std::vector<RateFit> fits;
    for (const RunRate& d : run.rates) {
        RateFit base;
        base.node = d.node;
        base.value = d.value;
        base.over = d.over;
        base.reference = d.reference;
        const RunAxis* axis = run.axis(d.over);
        if (!axis || axis->type == "seed" || d.over == "seed") {
            base.status = "unknown_axis";
            base.reason = "'" + d.over + "' is not a swept parameter of this run";
            fits.push_back(base);
            continue;
        }
        if (!appears(run, d.node, d.value)) {
            base.status = "unknown_metric";
            base.reason = "no node '" + d.node + "' reported a value '" + d.value + "'";
            fits.push_back(base);
            continue;
        }
        for (const CellGroup& g : groups_over(run, d.over)) {
            RateFit fit = base;
            fit_group(fit, g);
            fits.push_back(std::move(fit));
        }
    }
    return fits;
}

std::string reference_text(const RateFit& f, const char* between, const char* separator) {
    std::string out;
    for (const auto& [name, exponent] : f.reference)
        out += (out.empty() ? "" : separator) + name + between + fmt::format("{}", exponent);
    return out;
}

}  // namespace

std::vector<RateFit> fit_rates(const RunRecord& run) { return declared_fits(run); }

std::string rates_csv(const RunRecord& run, const std::vector<RateFit>& fits) {
    const std::vector<std::string> axes = non_seed_axes(run);
    std::vector<std::string> header{"metric", "over"};
    header.insert(header.end(), axes.begin(), axes.end());
    for (const char* c : {"source", "status", "n", "slope", "se", "ci_low", "ci_high", "intercept", "r2", "reference",
                          "reason"})
        header.emplace_back(c);
    std::string out = csv_line(header);
    for (const RateFit& f : fits) {
        std::vector<std::string> row{f.metric(), f.over};
        for (const auto& k : axes) {
            auto it = std::find_if(f.group.begin(), f.group.end(), [&](const auto& kv) { return kv.first == k; });
            row.push_back(it == f.group.end() ? std::string() : it->second);
        }
        const bool ok = f.ok();
        // source: every fit is declared now; the column stays for readers of earlier files.
        row.insert(row.end(), {"declared", f.status, std::to_string(f.x.size()),
                               ok ? csv_number(f.fit.slope) : "", ok ? csv_number(f.fit.se) : "",
                               ok ? csv_number(f.fit.ci_low) : "", ok ? csv_number(f.fit.ci_high) : "",
                               ok ? csv_number(f.fit.intercept) : "", ok ? csv_number(f.fit.r2) : "",
                               reference_text(f, "=", ";"), f.reason});
        out += csv_line(row);
    }
    return out;
}

std::string group_text(const RateFit& f) {
    std::string out;
    for (const auto& [k, v] : f.group) out += (out.empty() ? "" : ", ") + k + "=" + v;
    return out;
}

std::string rates_text(const std::vector<RateFit>& fits) {
    if (fits.empty()) return {};
    std::string out = "rates: slope of log(metric) against log(parameter), 95% CI\n";
    for (const RateFit& f : fits) {
        const std::string group = group_text(f);
        out += "  " + f.metric() + " vs " + f.over + (group.empty() ? "" : " [" + group + "]") + ": ";
        if (f.ok()) {
            out += fmt::format("slope {:.4g} [{:.4g}, {:.4g}]  n={}  r2={:.3g}", f.fit.slope, f.fit.ci_low,
                               f.fit.ci_high, f.fit.n, f.fit.r2);
            if (!f.reference.empty()) out += "  reference " + reference_text(f, " ", ", ");
        } else {
            out += "no fit (" + f.status + "): " + f.reason;
        }
        out += "\n";
    }
    return out + "\n";
}

}  // namespace mdlab::runtime
