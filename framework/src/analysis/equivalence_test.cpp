#include "mdlab/runtime/equivalence_test.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "mdlab/runtime/csv_text.hpp"
#include "mdlab/runtime/student_t.hpp"
#include "mdlab/runtime/summary.hpp"
#include "mdlab/runtime/svg_plot.hpp"

namespace mdlab::runtime {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

double value_of(const RunCell& cell, const std::string& node, const std::string& value) {
    if (const RunNode* n = cell.node(node))
        for (const auto& [k, v] : n->values)
            if (k == value) return v;
    return nan;
}

std::string group_label(const std::vector<std::pair<std::string, std::string>>& group) {
    std::string out;
    for (const auto& [k, v] : group) out += (out.empty() ? "" : ", ") + k + "=" + v;
    return out;
}

}  // namespace

TostResult tost(const std::vector<double>& d, double margin, double alpha) {
    TostResult r{d.size(), nan, nan, nan, nan, nan, false};
    if (d.size() < 2) return r;
    const double n = double(d.size());
    double mean = 0.0;
    for (double v : d) mean += v;
    mean /= n;
    double ss = 0.0;
    for (double v : d) ss += (v - mean) * (v - mean);
    r.mean = mean;
    r.se = std::sqrt(ss / (n - 1.0) / n);
    if (r.se == 0.0) {  // every difference equal: the interval is the point
        r.ci_low = r.ci_high = mean;
        r.equivalent = std::abs(mean) < margin;
        r.p = r.equivalent ? 0.0 : 1.0;
        return r;
    }
    const double t = student_t_quantile(1.0 - alpha, n - 1.0);
    r.ci_low = mean - t * r.se;
    r.ci_high = mean + t * r.se;
    // H0: mean <= -margin (rejected for large (mean + margin) / se) and H0: mean >= margin.
    const double p_low = 1.0 - student_t_cdf((mean + margin) / r.se, n - 1.0);
    const double p_high = student_t_cdf((mean - margin) / r.se, n - 1.0);
    r.p = std::max(p_low, p_high);
    r.equivalent = r.ci_low > -margin && r.ci_high < margin;
    return r;
}

std::vector<Equivalence> equivalence_tests(const RunRecord& run) {
    std::vector<Equivalence> rows;
    for (const EquivalenceDecl& d : run.equivalence) {
        const auto [node, value] = split_metric(d.metric);
        std::vector<std::string> others;
        for (const auto& k : non_seed_axes(run))
            if (k != d.axis) others.push_back(k);
        // group -> seed -> (test value, control value)
        std::map<std::vector<std::pair<std::string, std::string>>, std::map<std::uint64_t, std::pair<double, double>>> groups;
        bool seen_test = false, seen_control = false, seen_metric = false;
        for (const RunCell& cell : run.cells) {
            const std::string a = axis_text(cell, d.axis);
            const bool is_test = a == d.test, is_control = a == d.control;
            seen_test |= is_test;
            seen_control |= is_control;
            const double v = value_of(cell, node, value);
            seen_metric |= std::isfinite(v);
            if (!is_test && !is_control) continue;
            std::vector<std::pair<std::string, std::string>> key;
            for (const auto& k : others) key.emplace_back(k, axis_text(cell, k));
            auto& pair = groups[key].try_emplace(cell.seed, nan, nan).first->second;
            (is_test ? pair.first : pair.second) = v;
        }
        Equivalence base;
        base.decl = d;
        base.result = TostResult{0, nan, nan, nan, nan, nan, false};
        if (!seen_metric || !seen_test || !seen_control) {
            base.status = !seen_metric ? "unknown_metric" : "unknown_value";
            base.reason = !seen_metric ? "no cell reported '" + d.metric + "'"
                                       : "no cell has " + d.axis + " = '" + (seen_test ? d.control : d.test) + "'";
            rows.push_back(base);
            continue;
        }
        for (const auto& [key, seeds] : groups) {
            Equivalence e = base;
            e.group = key;
            std::vector<double> diff;
            std::size_t unpaired = 0;
            for (const auto& [seed, tc] : seeds) {
                if (std::isfinite(tc.first) && std::isfinite(tc.second)) diff.push_back(tc.first - tc.second);
                else ++unpaired;
            }
            e.result = tost(diff, d.margin, d.alpha);
            e.status = diff.size() >= 2 ? "ok" : "too_few_pairs";
            e.reason = unpaired ? fmt::format("{} seed{} without both values left out", unpaired, unpaired == 1 ? "" : "s")
                                : std::string();
            if (diff.size() < 2) e.reason = fmt::format("{} pair{} of seeds; a test needs 2", diff.size(),
                                                        diff.size() == 1 ? "" : "s");
            rows.push_back(std::move(e));
        }
    }
    return rows;
}

std::string equivalence_csv(const std::vector<Equivalence>& rows) {
    std::string out = csv_line({"metric", "axis", "test", "control", "group", "margin", "alpha", "status", "n",
                                "mean_difference", "se", "ci_low", "ci_high", "p", "equivalent", "reason"});
    for (const Equivalence& e : rows) {
        const TostResult& r = e.result;
        out += csv_line({e.decl.metric, e.decl.axis, e.decl.test, e.decl.control, group_label(e.group),
                         csv_number(e.decl.margin), csv_number(e.decl.alpha), e.status, std::to_string(r.n),
                         csv_number(r.mean), csv_number(r.se), csv_number(r.ci_low), csv_number(r.ci_high),
                         csv_number(r.p), e.status == "ok" ? (r.equivalent ? "yes" : "no") : "", e.reason});
    }
    return out;
}

namespace {
std::string title(const Equivalence& e) {
    const std::string g = group_label(e.group);
    return e.decl.metric + ": " + e.decl.axis + " = " + e.decl.test + " vs " + e.decl.control + (g.empty() ? "" : " [" + g + "]");
}
std::string verdict(const Equivalence& e) {
    const TostResult& r = e.result;
    return fmt::format("{} (difference {:.4g}, {:g}% interval [{:.4g}, {:.4g}], margin {:g}, p = {:.3g}, {} seeds)",
                       r.equivalent ? "equivalent" : "not shown equivalent", r.mean, 100 * (1 - 2 * e.decl.alpha),
                       r.ci_low, r.ci_high, e.decl.margin, r.p, r.n);
}
}  // namespace

std::string equivalence_text(const std::vector<Equivalence>& rows) {
    if (rows.empty()) return {};
    std::string out = "equivalence (paired TOST over seeds)\n";
    for (const Equivalence& e : rows)
        out += "  " + title(e) + ": " + (e.status == "ok" ? verdict(e) : "none (" + e.status + "): " + e.reason) + "\n";
    return out + "\n";
}

std::string equivalence_html(const std::vector<Equivalence>& rows) {
    if (rows.empty()) return {};
    std::string out = "<h2>Equivalence tests</h2>\n<p class=\"note\">Two one-sided t-tests on the differences "
                      "test &minus; control paired by seed: equivalent when the (1 &minus; 2&alpha;) interval of the "
                      "mean difference lies inside (&minus;margin, margin).</p>\n<ul>\n";
    for (const Equivalence& e : rows)
        out += "<li>" + html_escape(title(e)) + ": " +
               html_escape(e.status == "ok" ? verdict(e) : "none (" + e.status + "): " + e.reason) + "</li>\n";
    return out + "</ul>\n";
}

}  // namespace mdlab::runtime
