#include "mdlab/runtime/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace mdlab::runtime {

std::string html_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string tick_label(double v) {
    std::string s = fmt::format("{:g}", v);
    const auto e = s.find('e');
    if (e == std::string::npos) return s;
    std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
    const bool negative = exponent[0] == '-';
    exponent.erase(0, exponent.find_first_not_of("+-0"));
    return mantissa + "e" + (negative ? "-" : "") + exponent;
}

std::vector<double> log_ticks(double lo, double hi) {
    std::vector<double> ticks;
    for (const std::vector<double>& multipliers : {std::vector<double>{1}, std::vector<double>{1, 2, 5}}) {
        ticks.clear();
        for (int k = static_cast<int>(std::floor(std::log10(lo))); k <= static_cast<int>(std::ceil(std::log10(hi))); ++k)
            for (double m : multipliers) {
                const double t = m * std::pow(10.0, k);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
            }
        if (ticks.size() >= 3) return ticks;
    }
    return round_ticks(lo, hi);  // less than about a decade
}

std::vector<double> round_ticks(double lo, double hi) {
    std::vector<double> ticks;
    if (!(hi > lo) || !std::isfinite(hi - lo)) return {lo};
    const double rough = (hi - lo) / 3, power = std::pow(10.0, std::floor(std::log10(rough)));
    const double f = rough / power;
    const double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
    const double slack = 1e-9 * (hi - lo);
    for (double k = std::ceil((lo - slack) / step); k * step <= hi + slack; ++k)
        ticks.push_back(std::abs(k * step) < slack ? 0.0 : k * step);  // no -0 label
    return ticks;
}

namespace {
const std::vector<std::string> palette{"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                       "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
}  // namespace

std::string plot_colour(std::size_t i) { return palette[i % palette.size()]; }

std::string line_dash(std::size_t i) {
    static const std::vector<std::string> dashes{"", R"( stroke-dasharray="7 3")", R"( stroke-dasharray="2 3")"};
    return dashes[(i / palette.size()) % dashes.size()];
}

namespace {

std::string dots_path(const std::vector<std::array<double, 2>>& pixels, const std::string& color, double dot) {
    if (pixels.empty()) return {};
    std::string d;
    for (const auto& p : pixels) d += fmt::format("M{:.1f} {:.1f}h0", p[0], p[1]);
    // Zero-length subpaths with round caps are drawn as dots: one element for many points.
    return fmt::format(R"(<path class="dots" d="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linecap="round"/>)",
                       d, color, dot) + "\n";
}

// [lo, hi] of one coordinate of a layer: all finite values, or the central 99% of them.
void extend_range(std::vector<double> values, bool robust, double& lo, double& hi) {
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }), values.end());
    if (values.empty()) return;
    std::sort(values.begin(), values.end());
    const std::size_t cut = robust ? values.size() / 200 : 0;
    lo = std::min(lo, values[cut]);
    hi = std::max(hi, values[values.size() - 1 - cut]);
}

}  // namespace

std::string scatter_svg(const std::vector<ScatterLayer>& layers, const std::string& x_label, const std::string& y_label) {
    constexpr double width = 300, height = 300, box = 262, left = 28, top = 8;
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
    for (const auto& layer : layers) {
        std::vector<double> xs, ys;
        for (const auto& p : layer.points) xs.push_back(p[0]), ys.push_back(p[1]);
        extend_range(xs, layer.robust_frame, x_lo, x_hi);
        extend_range(ys, layer.robust_frame, y_lo, y_hi);
    }
    if (!(x_lo <= x_hi)) x_lo = y_lo = -1, x_hi = y_hi = 1;
    // Equal scales: a circle stays a circle.
    const double cx = (x_lo + x_hi) / 2, cy = (y_lo + y_hi) / 2;
    double half = std::max(x_hi - x_lo, y_hi - y_lo) / 2 * 1.08;
    if (!(half > 0)) half = 1;

    std::string body;
    std::size_t outside = 0;
    for (const auto& layer : layers) {
        std::vector<std::array<double, 2>> pixels;
        for (const auto& p : layer.points) {
            const double u = (p[0] - cx + half) / (2 * half), v = (cy + half - p[1]) / (2 * half);
            if (!(u >= 0 && u <= 1 && v >= 0 && v <= 1)) {
                ++outside;
                continue;
            }
            pixels.push_back({left + u * box, top + v * box});
        }
        body += dots_path(pixels, layer.color, layer.dot);
    }
    std::string legend;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const double y = top + 14 + 14 * static_cast<double>(i);
        legend += fmt::format(R"(<circle cx="{}" cy="{}" r="4" fill="{}"/><text x="{}" y="{}">{}</text>)", left + 10,
                              y - 4, layers[i].color, left + 18, y, html_escape(layers[i].label)) + "\n";
    }
    if (outside)
        legend += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{} point{} outside the frame</text>)",
                              left + box - 6, top + box - 6, outside, outside == 1 ? "" : "s") + "\n";
    return fmt::format(R"(<svg data-plot="samples" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)", width,
                       height) + "\n" +
           fmt::format(R"(<rect class="frame" x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#999"/>)", left,
                       top, box, box) + "\n" + body + legend +
           fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", left + box / 2, top + box + 20,
                       html_escape(x_label)) + "\n" +
           fmt::format(R"svg(<text x="14" y="{0}" text-anchor="middle" transform="rotate(-90 14 {0})">{1}</text>)svg",
                       top + box / 2, html_escape(y_label)) + "\n</svg>\n";
}

namespace {

// The part of the line v = a + b u (log space) inside [u0, u1] x [v0, v1]; false when none.
bool clip_line(double a, double b, double u0, double u1, double v0, double v1, double& from, double& to) {
    from = u0, to = u1;
    if (b == 0) return a >= v0 && a <= v1;
    double ua = (v0 - a) / b, ub = (v1 - a) / b;
    if (ua > ub) std::swap(ua, ub);
    from = std::max(from, ua);
    to = std::min(to, ub);
    return from < to;
}

}  // namespace

std::string loglog_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                       const std::vector<LogLogSeries>& series, const std::vector<GuideLine>& guides) {
    constexpr double width = 560, left = 72, right = 544, top = 34, bottom = 274;
    // Data range in log10 units.
    double u_lo = std::numeric_limits<double>::infinity(), u_hi = -u_lo, v_lo = u_lo, v_hi = -u_lo;
    auto take = [&](double x, double y) {
        if (!(x > 0 && y > 0 && std::isfinite(x) && std::isfinite(y))) return;
        u_lo = std::min(u_lo, std::log10(x)), u_hi = std::max(u_hi, std::log10(x));
        v_lo = std::min(v_lo, std::log10(y)), v_hi = std::max(v_hi, std::log10(y));
    };
    for (const auto& s : series) {
        for (std::size_t i = 0; i < s.x.size(); ++i) take(s.x[i], s.y[i]);
        for (std::size_t i = 0; i < s.mean_x.size(); ++i) take(s.mean_x[i], s.mean_y[i]);
    }
    const double data_u_lo = u_lo, data_u_hi = u_hi;
    for (const auto& s : series)
        if (s.has_line && data_u_lo <= data_u_hi)
            for (double u : {data_u_lo, data_u_hi}) take(std::pow(10.0, u), std::exp(s.intercept + s.slope * u * std::log(10.0)));
    if (!(u_lo <= u_hi)) u_lo = v_lo = 0, u_hi = v_hi = 1;
    auto pad = [](double& lo, double& hi) {
        const double span = hi - lo;
        if (span < 1e-9) lo -= 0.5, hi += 0.5;
        else lo -= 0.06 * span, hi += 0.06 * span;
    };
    pad(u_lo, u_hi);
    pad(v_lo, v_hi);
    auto px = [&](double u) { return left + (u - u_lo) / (u_hi - u_lo) * (right - left); };
    auto py = [&](double v) { return bottom - (v - v_lo) / (v_hi - v_lo) * (bottom - top); };

    std::string axes = fmt::format(R"(<rect class="frame" x="{}" y="{}" width="{}" height="{}" fill="#fff" stroke="#999"/>)",
                                   left, top, right - left, bottom - top) + "\n";
    for (double t : log_ticks(std::pow(10.0, u_lo), std::pow(10.0, u_hi))) {
        const double x = px(std::log10(t));
        axes += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#e3e3e3"/>)"
                            R"(<text x="{0:.1f}" y="{3}" text-anchor="middle">{4}</text>)",
                            x, top, bottom, bottom + 15, tick_label(t)) + "\n";
    }
    for (double t : log_ticks(std::pow(10.0, v_lo), std::pow(10.0, v_hi))) {
        const double y = py(std::log10(t));
        axes += fmt::format(R"(<line x1="{1}" y1="{0:.1f}" x2="{2}" y2="{0:.1f}" stroke="#e3e3e3"/>)"
                            R"(<text x="{3}" y="{4:.1f}" text-anchor="end">{5}</text>)",
                            y, left, right, left - 5, y + 4, tick_label(t)) + "\n";
    }
    axes += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", (left + right) / 2, bottom + 32,
                        html_escape(x_label)) + "\n";
    axes += fmt::format(R"svg(<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>)svg",
                        (top + bottom) / 2, html_escape(y_label)) + "\n";

    auto segment = [&](double a, double b, double u0, double u1, const std::string& style) {
        double from, to;
        if (!clip_line(a, b, u0, u1, v_lo, v_hi, from, to)) return std::string();
        return fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" {}/>)", px(from), py(a + b * from),
                           px(to), py(a + b * to), style) + "\n";
    };
    const std::vector<std::string> dashes{"6 4", "2 3", "9 3 2 3", "1 5"};
    std::string marks;
    for (std::size_t g = 0; g < guides.size(); ++g) {
        const GuideLine& guide = guides[g];
        if (!(guide.x > 0 && guide.y > 0)) continue;
        const double a = std::log10(guide.y) - guide.slope * std::log10(guide.x);
        marks += segment(a, guide.slope, u_lo, u_hi,
                         fmt::format(R"(class="guide" stroke="#555" stroke-width="1.2" stroke-dasharray="{}")",
                                     dashes[g % dashes.size()]));
    }
    for (const auto& s : series) {
        for (std::size_t i = 0; i < s.x.size(); ++i)
            if (s.x[i] > 0 && s.y[i] > 0 && std::isfinite(s.y[i]))
                marks += fmt::format(R"(<circle class="point" cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}" fill-opacity="0.5"/>)",
                                     px(std::log10(s.x[i])), py(std::log10(s.y[i])), s.color) + "\n";
        if (s.has_line && data_u_lo <= data_u_hi)  // log10 y = (intercept + slope ln x) / ln 10
            marks += segment(s.intercept / std::log(10.0), s.slope, data_u_lo, data_u_hi,
                             fmt::format(R"(class="fit" stroke="{}" stroke-width="1.8")", s.color));
        for (std::size_t i = 0; i < s.mean_x.size(); ++i)
            if (s.mean_x[i] > 0 && s.mean_y[i] > 0 && std::isfinite(s.mean_y[i]))
                marks += fmt::format(R"(<circle class="mean" cx="{:.1f}" cy="{:.1f}" r="4.5" fill="{}" stroke="#fff"/>)",
                                     px(std::log10(s.mean_x[i])), py(std::log10(s.mean_y[i])), s.color) + "\n";
    }

    std::string legend;
    double y = bottom + 54;
    for (const auto& s : series) {
        legend += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1.8"/>)"
                              R"(<circle cx="{}" cy="{}" r="4" fill="{}"/><text x="{}" y="{}">{}</text>)",
                              left, y - 4, left + 24, y - 4, s.color, left + 12, y - 4, s.color, left + 32, y,
                              html_escape(s.label)) + "\n";
        y += 16;
    }
    for (std::size_t g = 0; g < guides.size(); ++g) {
        legend += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" stroke-dasharray="{}"/>)"
                              R"(<text x="{}" y="{}">{}</text>)",
                              left, y - 4, left + 24, y - 4, dashes[g % dashes.size()], left + 32, y,
                              html_escape(guides[g].label)) + "\n";
        y += 16;
    }
    const double height = y;
    return fmt::format(R"(<svg data-plot="rate" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)", width,
                       height) + "\n" +
           fmt::format(R"(<text x="{}" y="20" font-weight="bold">{}</text>)", left, html_escape(title)) + "\n" + axes +
           marks + legend + "</svg>\n";
}

}  // namespace mdlab::runtime
