#include "mdlab/runtime/rank_correlation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <mdlab/rng.hpp>

#include "mdlab/runtime/csv_text.hpp"
#include "mdlab/runtime/family_decls.hpp"
#include "mdlab/runtime/summary.hpp"
#include "mdlab/runtime/svg_plot.hpp"

namespace mdlab::runtime {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double mean_rank = 0.5 * double(i + j) + 1.0;
        for (std::size_t k = i; k <= j; ++k) r[order[k]] = mean_rank;
        i = j + 1;
    }
    return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = double(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0.0 && syy > 0.0 ? sxy / std::sqrt(sxx * syy) : nan;
}

double value_of(const RunCell& cell, const std::string& metric) {
    const auto [node, value] = split_metric(metric);
    if (const RunNode* n = cell.node(node))
        for (const auto& [k, v] : n->values)
            if (k == value) return v;
    return nan;
}

bool reported(const RunRecord& run, const std::string& metric) {
    for (const RunCell& cell : run.cells)
        if (std::isfinite(value_of(cell, metric))) return true;
    return false;
}

// The q-quantile of sorted values, linear between order statistics.
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return nan;
    const double pos = q * double(sorted.size() - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (pos - double(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size() || x.size() < 3) return nan;
    return pearson(ranks(x), ranks(y));
}

std::vector<BootstrapInterval> bootstrap(std::size_t n, std::size_t resamples, double level, std::uint64_t seed,
                                         std::size_t statistics,
                                         const std::function<void(const std::vector<std::size_t>&, double*)>& stats) {
    std::vector<std::vector<double>> draws(statistics);
    mdlab::Rng rng(seed);
    std::vector<std::size_t> idx(n);
    std::vector<double> out(statistics);
    for (std::size_t b = 0; b < resamples; ++b) {
        for (auto& i : idx) i = std::min(n - 1, static_cast<std::size_t>(rng.uniform() * double(n)));
        stats(idx, out.data());
        for (std::size_t s = 0; s < statistics; ++s)
            if (std::isfinite(out[s])) draws[s].push_back(out[s]);
    }
    std::vector<BootstrapInterval> r;
    for (auto& d : draws) {
        std::sort(d.begin(), d.end());
        r.push_back({quantile(d, (1.0 - level) / 2.0), quantile(d, (1.0 + level) / 2.0), d.size()});
    }
    return r;
}

std::vector<Correlation> rank_correlations(const RunRecord& run) {
    std::vector<Correlation> rows;
    for (std::size_t di = 0; di < run.correlations.size(); ++di) {
        const CorrelationDecl& d = run.correlations[di];
        std::string where;
        for (const auto& [k, v] : d.where) where += (where.empty() ? "" : ", ") + k + "=" + v;
        Correlation base;
        base.y = d.y;
        base.where = where;
        base.level = d.level;
        base.rho = base.ci_low = base.ci_high = nan;
        // The family: matching cells where y and every x are finite.
        std::vector<std::vector<double>> xs(d.x.size());
        std::vector<double> ys;
        std::string missing;
        for (const std::string& m : d.x)
            if (!reported(run, m)) missing = m;
        if (!reported(run, d.y)) missing = d.y;
        std::size_t left_out = 0;
        for (const RunCell& cell : run.cells) {
            bool match = true;
            for (const auto& [k, v] : d.where) match = match && axis_text(cell, k) == v;
            if (!match) continue;
            bool finite = std::isfinite(value_of(cell, d.y));
            for (const std::string& m : d.x) finite = finite && std::isfinite(value_of(cell, m));
            if (!finite) {
                ++left_out;
                continue;
            }
            ys.push_back(value_of(cell, d.y));
            for (std::size_t k = 0; k < d.x.size(); ++k) xs[k].push_back(value_of(cell, d.x[k]));
        }
        const std::size_t n = ys.size(), K = d.x.size();
        // Statistics: rho_k for every x, then rho_k - rho_0 for k >= 1.
        const auto stats = [&](const std::vector<std::size_t>& idx, double* out) {
            std::vector<double> yy(idx.size()), xx(idx.size());
            for (std::size_t i = 0; i < idx.size(); ++i) yy[i] = ys[idx[i]];
            for (std::size_t k = 0; k < K; ++k) {
                for (std::size_t i = 0; i < idx.size(); ++i) xx[i] = xs[k][idx[i]];
                out[k] = spearman(xx, yy);
            }
            for (std::size_t k = 1; k < K; ++k) out[K + k - 1] = out[k] - out[0];
        };
        std::vector<double> point(2 * K - 1, nan);
        std::vector<BootstrapInterval> ci(2 * K - 1, BootstrapInterval{nan, nan, 0});
        std::string status = "ok", reason = left_out ? fmt::format("{} matching cell{} without finite values left out",
                                                                   left_out, left_out == 1 ? "" : "s")
                                                     : std::string();
        if (!missing.empty()) {
            status = "unknown_metric";
            reason = "no cell reported '" + missing + "'";
        } else if (n < 3) {
            status = "too_few_cells";
            reason = fmt::format("{} matching cell{} with finite values; a rank correlation needs 3", n, n == 1 ? "" : "s");
        } else {
            std::vector<std::size_t> all(n);
            std::iota(all.begin(), all.end(), 0);
            stats(all, point.data());
            ci = bootstrap(n, d.bootstrap, d.level, 0x6d646c6162ull + di, 2 * K - 1, stats);
        }
        for (std::size_t s = 0; s < 2 * K - 1; ++s) {
            Correlation c = base;
            c.x = s < K ? d.x[s] : d.x[s - K + 1];
            if (s >= K) c.base = d.x[0];
            c.status = status;
            c.reason = reason;
            c.n = n;
            c.rho = point[s];
            c.ci_low = ci[s].low;
            c.ci_high = ci[s].high;
            c.resamples = ci[s].used;
            rows.push_back(std::move(c));
        }
    }
    return rows;
}

std::string correlations_csv(const std::vector<Correlation>& rows) {
    std::string out = csv_line({"y", "x", "minus", "where", "status", "n", "rho", "ci_low", "ci_high", "level",
                                "resamples", "reason"});
    for (const Correlation& c : rows)
        out += csv_line({c.y, c.x, c.base, c.where, c.status, std::to_string(c.n), csv_number(c.rho),
                         csv_number(c.ci_low), csv_number(c.ci_high), csv_number(c.level), std::to_string(c.resamples),
                         c.reason});
    return out;
}

namespace {
std::string label(const Correlation& c) {
    return c.base.empty() ? "rho(" + c.x + ", " + c.y + ")"
                          : "rho(" + c.x + ", " + c.y + ") - rho(" + c.base + ", " + c.y + ")";
}
}  // namespace

std::string correlations_text(const std::vector<Correlation>& rows) {
    if (rows.empty()) return {};
    std::string out = "rank correlations (Spearman) across cells, bootstrap interval\n";
    for (const Correlation& c : rows) {
        out += "  " + label(c) + (c.where.empty() ? "" : " [" + c.where + "]") + ": ";
        if (c.status == "ok")
            out += fmt::format("{:.3f} [{:.3f}, {:.3f}] ({:g}%)  n={}", c.rho, c.ci_low, c.ci_high, 100 * c.level, c.n);
        else out += "none (" + c.status + "): " + c.reason;
        out += "\n";
    }
    return out + "\n";
}

std::string correlations_html(const std::vector<Correlation>& rows) {
    if (rows.empty()) return {};
    std::string out = "<h2>Rank correlations</h2>\n<p class=\"note\">Spearman's rho across the selected cells (every "
                      "seed a member), with percentile bootstrap intervals over cells; a difference row uses the same "
                      "resamples for both correlations.</p>\n<table>\n<tr><th>correlation</th><th>cells</th><th>n</th>"
                      "<th>rho</th><th>interval</th><th>note</th></tr>\n";
    for (const Correlation& c : rows) {
        const bool ok = c.status == "ok";
        out += "<tr><td class=\"text\">" + html_escape(label(c)) + "</td><td class=\"text\">" + html_escape(c.where) +
               "</td><td>" + std::to_string(c.n) + "</td><td>" + (ok ? fmt::format("{:.3f}", c.rho) : "&ndash;") +
               "</td><td>" + (ok ? fmt::format("[{:.3f}, {:.3f}] ({:g}%)", c.ci_low, c.ci_high, 100 * c.level) : "&ndash;") +
               "</td><td class=\"text\">" + html_escape(ok ? c.reason : c.status + ": " + c.reason) + "</td></tr>\n";
    }
    return out + "</table>\n";
}

}  // namespace mdlab::runtime
