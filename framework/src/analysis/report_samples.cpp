// The generated samples of report.html: scatter panels of the first seed in a grid whose rows
// are the sampler nodes and their alternatives and whose columns are the other swept values, so
// that the panels of one alternative line up and each column shares its configuration.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <mdlab/npy.hpp>

#include "mdlab/runtime/pca.hpp"
#include "mdlab/runtime/results.hpp"
#include "mdlab/runtime/svg_plot.hpp"
#include "report_sections.hpp"

namespace mdlab::runtime {

namespace {

// The data nodes (training sets) a node depends on, through its inputs, in the order found.
std::vector<const RunNode*> training_sets(const RunCell& cell, const RunNode& sampler) {
    std::vector<const RunNode*> found;
    std::set<std::string> seen{sampler.id};
    std::vector<const RunNode*> todo{&sampler};
    while (!todo.empty()) {
        const RunNode* n = todo.back();
        todo.pop_back();
        for (const auto& input : n->inputs) {
            const RunNode* source = cell.node(input.second);
            if (!source || !seen.insert(source->id).second) continue;
            if (source->kind == "data") found.push_back(source);
            todo.push_back(source);
        }
    }
    return found;
}

// Every stride-th finite point, at most `limit`.
std::vector<std::array<double, 2>> thinned(const std::vector<std::array<double, 2>>& points, std::size_t limit) {
    const std::size_t stride = std::max<std::size_t>(1, (points.size() + limit - 1) / limit);
    std::vector<std::array<double, 2>> out;
    for (std::size_t i = 0; i < points.size(); i += stride) out.push_back(points[i]);
    return out;
}

std::string sample_panel(const RunCell& cell, const RunNode& sampler, const ReportLimits& limits) {
    const std::string caption = "<figcaption><b>" + html_escape(sampler.id) + "</b> (" + html_escape(sampler.plugin) +
                                ") &middot; cell " + std::to_string(cell.index) + "</figcaption>\n";
    Matrix generated, train;
    std::string train_ids;
    try {
        generated = npy::read(sampler.points);
        for (const RunNode* data : training_sets(cell, sampler)) {
            Matrix m = npy::read(data->points);
            if (cols(m) != cols(generated)) continue;
            train_ids += (train_ids.empty() ? "" : "+") + data->id;
            if (rows(train) == 0) train = std::move(m);
            else train = xt::concatenate(xt::xtuple(train, m), 0);
        }
    } catch (const std::exception& e) {
        return "<figure><p class=\"note\">" + html_escape(e.what()) + "</p>" + caption + "</figure>\n";
    }
    const PrincipalPlane plane = principal_plane(rows(train) ? train : generated);
    const auto train_2d = thinned(project(train, plane), limits.points);
    const auto generated_2d = thinned(project(generated, plane), limits.points);
    std::vector<ScatterLayer> layers;
    if (rows(train))
        layers.push_back({fmt::format("{} ({} of {})", train_ids, train_2d.size(), rows(train)), "#9aa0a6", 3.5,
                          train_2d, false});
    layers.push_back({fmt::format("{} ({} of {})", sampler.id, generated_2d.size(), rows(generated)), "#d6336c", 2.5,
                      generated_2d, true});
    const std::string basis = rows(train) ? "of the training set" : "of the samples (no training set upstream)";
    return "<figure>\n" + scatter_svg(layers, "principal component 1 " + basis, "principal component 2") + caption +
           "</figure>\n";
}

// "key=value, ..." of the cell's axes of one kind (alternatives or the others), in axes order;
// a single alternatives axis by its label alone.
std::string axes_text(const RunRecord& run, const RunCell& cell, bool alternatives) {
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& a : run.axes)
        if (a.type != "seed" && a.key != "seed" && (a.type == "alternatives") == alternatives)
            values.emplace_back(a.key, axis_text(cell, a.key));
    if (alternatives && values.size() == 1) return values.front().second;
    std::string out;
    for (const auto& [k, v] : values) out += (out.empty() ? "" : ", ") + k + "=" + v;
    return out;
}

}  // namespace

std::string samples_section(const RunRecord& run, const ReportLimits& limits) {
    std::string out = "<h2>Generated samples</h2>\n";
    // First seed only: the other seeds repeat the picture with other noise.
    const RunAxis* seeds = run.axis("seed");
    const bool first_seed_only = seeds && !seeds->values.empty() && is_number(seeds->values.front());
    struct Panel {
        const RunCell* cell;
        const RunNode* node;
        std::size_t row, column;
    };
    std::vector<Panel> panels;
    std::vector<std::string> rows, columns;
    const auto index = [](std::vector<std::string>& list, const std::string& key) {
        auto it = std::find(list.begin(), list.end(), key);
        if (it == list.end()) it = list.insert(list.end(), key);
        return static_cast<std::size_t>(it - list.begin());
    };
    for (const RunCell& cell : run.cells) {
        if (first_seed_only && static_cast<double>(cell.seed) != number_of(seeds->values.front())) continue;
        for (const RunNode& n : cell.nodes)
            if (n.kind == "sampler" && n.status == "ok" && !n.points.empty()) {
                const std::string variant = axes_text(run, cell, true);
                panels.push_back({&cell, &n, index(rows, n.id + (variant.empty() ? "" : ": " + variant)),
                                  index(columns, axes_text(run, cell, false))});
            }
    }
    if (panels.empty()) return out + "<p class=\"note\">No sampler produced points in this run.</p>\n";
    out += "<p class=\"note\">Generated points (colour) over the training points that reached the sampler through "
           "its inputs (grey), projected on the two leading principal components of the training set; one row per "
           "sampler node and alternative, one column per configuration of the other swept axes";
    if (first_seed_only) out += "; seed " + plain_text(seeds->values.front()) + " only";
    // Whole rows while they fit the panel limit, so that columns stay aligned.
    const std::size_t shown_columns = std::min(columns.size(), limits.panels);
    const std::size_t shown_rows = std::min(rows.size(), std::max<std::size_t>(1, limits.panels / shown_columns));
    if (shown_rows * shown_columns < rows.size() * columns.size())
        out += fmt::format("; showing {} of {} rows and {} of {} columns", shown_rows, rows.size(), shown_columns,
                           columns.size());
    out += ".</p>\n<div class=\"grid\"><table class=\"samples\">\n<tr><th></th>";
    for (std::size_t c = 0; c < shown_columns; ++c) out += "<th class=\"text\">" + html_escape(columns[c]) + "</th>";
    out += "</tr>\n";
    for (std::size_t r = 0; r < shown_rows; ++r) {
        out += "<tr><th class=\"text\">" + html_escape(rows[r]) + "</th>";
        for (std::size_t c = 0; c < shown_columns; ++c) {
            out += "<td>";
            for (const Panel& p : panels)
                if (p.row == r && p.column == c) out += sample_panel(*p.cell, *p.node, limits);
            out += "</td>";
        }
        out += "</tr>\n";
    }
    return out + "</table></div>\n";
}

}  // namespace mdlab::runtime
