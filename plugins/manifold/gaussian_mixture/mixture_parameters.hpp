// The parameters of gaussian_mixture that a user may give instead of drawing them: the K means
// (a list of points or a .npy/.csv file), the weights and the per-component variances (a list or
// a file). Every check names the parameter it refuses (an InputError with its key), so the
// framework reports node and key, and says what was expected.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/point_file.hpp>

namespace gaussian_mixture {

inline std::string text(std::size_t n) { return std::to_string(n); }
inline std::string text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// Refuses a list and a file given together for the same thing.
inline void one_source(const mdlab::Params& p, const std::string& list, const std::string& file) {
    if (!p.real_list(list).empty() && !p.string(file).empty())
        throw mdlab::InputError("gaussian_mixture: give '" + list + "' or '" + file + "', not both", file);
}

// The K x D means given by `means` ([[x1, ..., xD], ...] or the K D numbers row after row) or
// `means_file` (K rows of D numbers); nullopt when neither is given (the means are drawn).
inline std::optional<mdlab::Matrix> given_means(const mdlab::Params& p, std::size_t k, std::size_t d) {
    one_source(p, "means", "means_file");
    const std::vector<double>& list = p.real_list("means");
    const std::string& file = p.string("means_file");
    if (list.empty() && file.empty()) return std::nullopt;
    mdlab::Matrix m;
    if (!list.empty()) {
        if (list.size() != k * d)
            throw mdlab::InputError("gaussian_mixture: 'means' has " + text(list.size()) +
                                        " numbers, expected components x ambient_dim = " + text(k) + " x " + text(d) +
                                        " = " + text(k * d) + " (one point of ambient_dim numbers per component: "
                                        "[[x1, ..., xD], ...])",
                                    "means");
        m = mdlab::Matrix::from_shape({k, d});
        std::copy(list.begin(), list.end(), m.data());
    } else {
        m = mdlab::point_file::read_points(file, "means_file");
        if (mdlab::rows(m) != k || mdlab::cols(m) != d)
            throw mdlab::InputError("gaussian_mixture: " + file + " holds " + text(mdlab::rows(m)) + " x " +
                                        text(mdlab::cols(m)) + " numbers, expected components x ambient_dim = " +
                                        text(k) + " x " + text(d) + " (one mean per row)",
                                    "means_file");
    }
    // The drawn means' parameters would be silently unused.
    if (p.count("mean_dim") != 0)
        throw mdlab::InputError("gaussian_mixture: mean_dim places drawn means; with given means leave it at 0",
                                "mean_dim");
    if (p.real("spread") != 1.0)
        throw mdlab::InputError("gaussian_mixture: spread scales drawn means; with given means leave it at 1 (scale "
                                "the means themselves)",
                                "spread");
    return m;
}

// The K weights normalised to sum 1 (empty `weights`: equal weights).
inline std::vector<double> mixture_weights(const mdlab::Params& p, std::size_t k) {
    const std::vector<double>& w = p.real_list("weights");
    if (w.empty()) return std::vector<double>(k, 1.0 / static_cast<double>(k));
    if (w.size() != k)
        throw mdlab::InputError("gaussian_mixture: 'weights' has " + text(w.size()) +
                                    " values but there are components = " + text(k),
                                "weights");
    double total = 0.0;
    for (double v : w) {
        if (!(v >= 0.0) || !std::isfinite(v))
            throw mdlab::InputError("gaussian_mixture: weights must be finite and non-negative", "weights");
        total += v;
    }
    if (!(total > 0.0)) throw mdlab::InputError("gaussian_mixture: the weights sum to 0", "weights");
    std::vector<double> out;
    for (double v : w) out.push_back(v / total);
    return out;
}

// Each component's spread: the standard deviation that scales its draws and its variance;
// `given`: the variances are the user's (exact), else std^2 of the common std.
struct Spreads {
    std::vector<double> stds, variances;
    bool given = false;
};

// The given `variances` or `variances_file` (K numbers, in a row or a column; std = their square
// roots), else `std` for every component (variance std^2).
inline Spreads component_spreads(const mdlab::Params& p, std::size_t k, double default_std) {
    one_source(p, "variances", "variances_file");
    std::vector<double> v = p.real_list("variances");
    std::string key = "variances";
    if (v.empty() && !p.string("variances_file").empty()) {
        key = "variances_file";
        const std::string& file = p.string(key);
        const mdlab::Matrix m = mdlab::point_file::read_points(file, key);
        if (mdlab::rows(m) != 1 && mdlab::cols(m) != 1)
            throw mdlab::InputError("gaussian_mixture: " + file + " holds " + text(mdlab::rows(m)) + " x " +
                                        text(mdlab::cols(m)) + " numbers, expected one variance per component in a "
                                        "single row or column",
                                    key);
        v.assign(m.data(), m.data() + m.size());
    }
    Spreads out;
    if (v.empty()) {
        const double s = p.real("std");
        out.stds.assign(k, s);
        out.variances.assign(k, s * s);
        return out;
    }
    if (v.size() != k)
        throw mdlab::InputError("gaussian_mixture: " + key + " gives " + text(v.size()) +
                                    " variances, expected one per component: components = " + text(k),
                                key);
    for (std::size_t j = 0; j < k; ++j)
        if (!(v[j] > 0.0) || !std::isfinite(v[j]))
            throw mdlab::InputError("gaussian_mixture: the variance of component " + text(j) + " is " + text(v[j]) +
                                        ", expected a finite number > 0",
                                    key);
    if (p.real("std") != default_std)
        throw mdlab::InputError("gaussian_mixture: std is the common standard deviation; with per-component "
                                "variances leave it at its default " + text(default_std),
                                "std");
    for (double x : v) out.stds.push_back(std::sqrt(x));
    out.variances = std::move(v);
    out.given = true;
    return out;
}

}  // namespace gaussian_mixture
