// Declared comparisons across the cells of a sweep (the pipeline's "correlations",
// "equivalence" and "plots" lists): shared by the pipeline reader, results.json and the run folder reader,
// so that one parser checks the fields wherever the declarations are read.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace mdlab::runtime {

// Spearman rank correlations of metric values x_k ("<node>.<value>") with y over the cells that
// match `where` (sweep key -> value text; every cell when empty), each with a bootstrap interval,
// and the differences rho(x_k, y) - rho(x_0, y) with paired bootstrap intervals.
struct CorrelationDecl {
    std::string y;
    std::vector<std::string> x;
    std::vector<std::pair<std::string, std::string>> where;
    std::size_t bootstrap = 2000;  // resamples
    double level = 0.95;           // two-sided interval level
    std::string pointer;
};

// A paired equivalence test (TOST) of `metric` between the cells with axis = test and axis =
// control, paired by seed within groups of the other non-seed axes: equivalent at level alpha
// when the (1 - 2 alpha) interval of the mean difference lies inside (-margin, margin).
struct EquivalenceDecl {
    std::string metric, axis, test, control;
    double margin = 0.0, alpha = 0.05;
    std::string pointer;
};

// An extra comparison plot (the pipeline's "plots" list): each metric value of `y` against the
// sweep key `x`, one line per combination of the `lines` keys' values (when not declared: the
// alternatives axes), one plot per combination of the other non-seed axes' values.
struct PlotDecl {
    std::string x;
    std::vector<std::string> y;      // "<node>.<value>", one plot each
    std::vector<std::string> lines;  // sweep keys; empty and declared: one line
    bool lines_declared = false;
    std::string x_scale = "auto", y_scale = "auto";  // one of plot_scales()
    std::string pointer;
};
// The scales a plot axis takes: auto (log when the values are positive and log-spaced), linear, log.
const std::vector<std::string>& plot_scales();

// One problem found while parsing: a JSON pointer below the declaration's and a message.
struct DeclProblem {
    std::string pointer, message;
};

// Parse one declaration; problems are appended (the returned value is meaningful only when
// none were added).
CorrelationDecl parse_correlation(const boost::json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems);
EquivalenceDecl parse_equivalence(const boost::json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems);
PlotDecl parse_plot(const boost::json::value& v, const std::string& pointer, std::vector<DeclProblem>& problems);

boost::json::value to_json(const CorrelationDecl& d);
boost::json::value to_json(const EquivalenceDecl& d);
boost::json::value to_json(const PlotDecl& d);

// "<node>.<value>" split at the first dot; {"", ""} when there is none or a side is empty.
std::pair<std::string, std::string> split_metric(const std::string& metric);

}  // namespace mdlab::runtime
