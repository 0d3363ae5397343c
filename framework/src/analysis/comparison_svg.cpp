// A comparison plot as inline SVG: per line its 95% band (path.band), its means joined
// (path.line) and dotted (circle.mean), and the fresh-sample baseline as a grey band with a
// dashed line; linear or log axes. The <svg> carries data-lines and data-x-scale/data-y-scale,
// every line and band its data-line label, so a test can count them in the DOM.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "mdlab/runtime/comparison.hpp"
#include "mdlab/runtime/svg_plot.hpp"

namespace mdlab::runtime {

namespace {

constexpr double width = 460, left = 66, right = 444, top = 30, bottom = 250;

// One axis: data value -> pixel, linear or in log10 units, with its ticks.
struct Axis {
    bool log = false;
    double lo = 0, hi = 1;        // in axis units (log10 of the value when log)
    double from = 0, to = 1;      // pixels of lo and hi

    double unit(double v) const { return log ? (v > 0 ? std::log10(v) : -INFINITY) : v; }
    double pixel(double v) const {
        const double u = unit(v);
        const double p = from + (u - lo) / (hi - lo) * (to - from);
        return std::clamp(p, std::min(from, to), std::max(from, to));  // off-frame values sit on the edge
    }
    // Fit [lo, hi] around the given values with a margin (a span of 1 unit when they are all equal).
    void fit(const std::vector<double>& values, double margin) {
        double a = INFINITY, b = -INFINITY;
        for (double v : values)
            if (const double u = unit(v); std::isfinite(u)) a = std::min(a, u), b = std::max(b, u);
        if (!(a <= b)) a = 0, b = 1;
        const double span = b - a;
        if (span < 1e-12 * std::max(1.0, std::abs(a))) {
            const double half = log ? 0.5 : std::max(0.5, std::abs(a) * 0.1);
            lo = a - half, hi = b + half;
        } else {
            lo = a - margin * span, hi = b + margin * span;
        }
    }
    std::vector<double> ticks() const {
        return log ? log_ticks(std::pow(10.0, lo), std::pow(10.0, hi)) : round_ticks(lo, hi);
    }
};

std::string path_through(const std::vector<std::array<double, 2>>& pixels) {
    std::string d;
    for (const auto& p : pixels) d += fmt::format("{}{:.1f} {:.1f}", d.empty() ? "M" : " L", p[0], p[1]);
    return d;
}

// The band between ci_low and ci_high over the points with an interval: a closed outline, or
// for a single point a short vertical bar (a band of no width would not show).
std::string band_path(const std::vector<ComparisonPoint>& points, const Axis& x, const Axis& y) {
    std::vector<std::array<double, 2>> upper, lower;
    for (const auto& p : points)
        if (std::isfinite(p.stats.ci_low) && std::isfinite(p.stats.ci_high)) {
            upper.push_back({x.pixel(p.x), y.pixel(p.stats.ci_high)});
            lower.push_back({x.pixel(p.x), y.pixel(p.stats.ci_low)});
        }
    if (upper.empty()) return {};
    if (upper.size() == 1) {
        const double px = upper[0][0];
        upper = {{px - 4, upper[0][1]}, {px + 4, upper[0][1]}};
        lower = {{px - 4, lower[0][1]}, {px + 4, lower[0][1]}};
    }
    std::reverse(lower.begin(), lower.end());
    upper.insert(upper.end(), lower.begin(), lower.end());
    return path_through(upper) + " Z";
}

std::vector<std::array<double, 2>> mean_pixels(const std::vector<ComparisonPoint>& points, const Axis& x, const Axis& y) {
    std::vector<std::array<double, 2>> out;
    for (const auto& p : points)
        if (std::isfinite(p.stats.mean) && (!y.log || p.stats.mean > 0)) out.push_back({x.pixel(p.x), y.pixel(p.stats.mean)});
    return out;
}

}  // namespace

std::string comparison_svg(const ComparisonPlot& plot) {
    Axis x{plot.x_log, 0, 1, left, right}, y{plot.y_log, 0, 1, bottom, top};
    std::vector<double> xs = plot.x_positions, ys;
    const auto take = [&](const std::vector<ComparisonPoint>& points) {
        for (const auto& p : points) ys.push_back(p.stats.mean);
    };
    for (const auto& l : plot.lines) take(l.points);
    take(plot.baseline);
    // The frame holds the means and, within reason, the intervals: two seeds give intervals
    // 12.7 standard errors wide, which would flatten the lines; what lies beyond is drawn at the edge.
    {
        Axis means = y;
        means.fit(ys, 0);
        const double span = std::max(means.hi - means.lo, 1e-12), a = means.lo - span, b = means.hi + span;
        const auto interval = [&](const std::vector<ComparisonPoint>& points) {
            for (const auto& p : points)
                for (double v : {p.stats.ci_low, p.stats.ci_high})
                    if (const double u = y.unit(v); std::isfinite(u)) ys.push_back(y.log ? std::pow(10.0, std::clamp(u, a, b)) : std::clamp(u, a, b));
        };
        for (const auto& l : plot.lines) interval(l.points);
        interval(plot.baseline);
    }
    x.fit(xs, plot.x_numeric ? 0.05 : 0.0);
    if (!plot.x_numeric) x.lo -= 0.5, x.hi += 0.5;
    y.fit(ys, 0.06);

    std::string frame = fmt::format(R"(<rect class="frame" x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#999"/>)",
                                    left, top, right - left, bottom - top) + "\n";
    // x ticks at the swept values (every k-th when crowded), categories by name.
    const std::size_t stride = std::max<std::size_t>(1, (plot.x_values.size() + 7) / 8);
    for (std::size_t i = 0; i < plot.x_values.size(); i += stride) {
        const double v = plot.x_positions[i];
        if (plot.x_log && !(v > 0)) continue;
        const double px = x.pixel(v);
        frame += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#e3e3e3"/>)"
                             R"(<text x="{0:.1f}" y="{3}" text-anchor="middle">{4}</text>)",
                             px, top, bottom, bottom + 15, html_escape(plot.x_values[i])) + "\n";
    }
    for (double t : y.ticks()) {
        const double py = y.pixel(t);
        frame += fmt::format(R"(<line x1="{1}" y1="{0:.1f}" x2="{2}" y2="{0:.1f}" stroke="#e3e3e3"/>)"
                             R"(<text x="{3}" y="{4:.1f}" text-anchor="end">{5}</text>)",
                             py, left, right, left - 5, py + 4, tick_label(t)) + "\n";
    }
    std::string x_label = plot.x;
    for (const auto& k : plot.x_partners) x_label += ", " + k;
    frame += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}{}</text>)", (left + right) / 2, bottom + 32,
                         html_escape(x_label), plot.x_log ? " (log scale)" : "") + "\n";
    frame += fmt::format(R"svg(<text x="14" y="{0}" text-anchor="middle" transform="rotate(-90 14 {0})">{1}{2}</text>)svg",
                         (top + bottom) / 2, html_escape(plot.metric()), plot.y_log ? " (log scale)" : "") + "\n";

    std::string marks;
    if (!plot.baseline.empty()) {
        std::vector<ComparisonPoint> reference = plot.baseline;
        if (reference.size() == 1) {  // one x value: a level across the frame
            ComparisonPoint a = reference[0], b = reference[0];
            a.x = x.log ? std::pow(10.0, x.lo) : x.lo;
            b.x = x.log ? std::pow(10.0, x.hi) : x.hi;
            reference = {a, b};
        }
        if (const std::string band = band_path(reference, x, y); !band.empty())
            marks += fmt::format(R"(<path class="baseline-band" d="{}" fill="#777" fill-opacity="0.16" stroke="none"/>)", band) + "\n";
        marks += fmt::format(R"(<path class="baseline" d="{}" fill="none" stroke="#555" stroke-width="1.4" stroke-dasharray="6 4"/>)",
                             path_through(mean_pixels(reference, x, y))) + "\n";
    }
    for (std::size_t i = 0; i < plot.lines.size(); ++i) {
        const ComparisonLine& line = plot.lines[i];
        const std::string colour = plot_colour(i), label = html_escape(line.label);
        if (const std::string band = band_path(line.points, x, y); !band.empty())
            marks += fmt::format(R"(<path class="band" data-line="{}" d="{}" fill="{}" fill-opacity="0.18" stroke="none"/>)",
                                 label, band, colour) + "\n";
    }
    for (std::size_t i = 0; i < plot.lines.size(); ++i) {
        const ComparisonLine& line = plot.lines[i];
        const std::string colour = plot_colour(i), label = html_escape(line.label);
        const auto means = mean_pixels(line.points, x, y);
        marks += fmt::format(R"(<path class="line" data-line="{}" d="{}" fill="none" stroke="{}" stroke-width="2"{}/>)", label,
                             path_through(means), colour, line_dash(i)) + "\n";
        for (const auto& p : means)
            marks += fmt::format(R"(<circle class="mean" cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}" stroke="#fff"/>)", p[0],
                                 p[1], colour) + "\n";
    }

    std::string legend;
    double ly = bottom + 54;
    for (std::size_t i = 0; i < plot.lines.size(); ++i) {
        const std::string label = plot.lines[i].label.empty() ? plot.metric() : plot.lines[i].label;
        legend += fmt::format(R"(<rect x="{}" y="{}" width="24" height="10" fill="{}" fill-opacity="0.18"/>)"
                              R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2"{}/><text x="{}" y="{}">{}</text>)",
                              left, ly - 9, plot_colour(i), left, ly - 4, left + 24, ly - 4, plot_colour(i), line_dash(i), left + 32, ly,
                              html_escape(label)) + "\n";
        ly += 16;
    }
    if (!plot.baseline.empty()) {
        legend += fmt::format(R"(<rect x="{}" y="{}" width="24" height="10" fill="#777" fill-opacity="0.16"/>)"
                              R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" stroke-dasharray="6 4"/><text x="{}" y="{}">{}</text>)",
                              left, ly - 9, left, ly - 4, left + 24, ly - 4, left + 32, ly,
                              html_escape(plot.node + "." + plot.baseline_value + ": a fresh sample of the data")) + "\n";
        ly += 16;
    }
    const double height = ly;
    return fmt::format(R"(<svg data-plot="comparison" data-metric="{}" data-x="{}" data-lines="{}" data-x-scale="{}" )"
                       R"(data-y-scale="{}" data-baseline="{}" width="{}" height="{}" viewBox="0 0 {} {}" role="img">)",
                       html_escape(plot.metric()), html_escape(plot.x), plot.lines.size(), plot.x_log ? "log" : "linear",
                       plot.y_log ? "log" : "linear", plot.baseline.empty() ? "no" : "yes", width, height, width, height) + "\n" +
           fmt::format(R"(<text x="{}" y="20" font-weight="bold">{} vs {}</text>)", left, html_escape(plot.metric()),
                       html_escape(plot.x)) + "\n" + frame + marks + legend + "</svg>\n";
}

}  // namespace mdlab::runtime
