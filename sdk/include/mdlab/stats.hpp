// Summary statistics of a set of values, shared by the metrics: mean, median, quantile
// (numpy's default "linear" method), min and max.
//
// Every function takes either a (pointer, count) pair or any contiguous container with
// data() and size() (mdlab::Vector, std::vector<double>, ...). An empty input is a
// programming error of the caller and throws mdlab::Error. A NaN among the values makes the
// result NaN, as in numpy. All functions are sequential and deterministic.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "mdlab/error.hpp"

namespace mdlab::stats {

namespace detail {
inline void require_values(std::size_t n, const char* what) {
    if (n == 0) throw Error(std::string("stats::") + what + " of an empty set of values");
}
inline bool any_nan(const double* v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(v[i])) return true;
    return false;
}
// numpy's _lerp: a + (b - a) t, computed from the nearer end for t >= 1/2 (exact at t = 1).
inline double lerp(double a, double b, double t) {
    const double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}
}  // namespace detail

// Arithmetic mean, with Neumaier-compensated summation in index order.
inline double mean(const double* v, std::size_t n) {
    detail::require_values(n, "mean");
    double sum = 0.0, comp = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double x = v[i], t = sum + x;
        if (std::abs(sum) >= std::abs(x)) comp += (sum - t) + x;
        else comp += (x - t) + sum;
        sum = t;
    }
    if (std::isnan(sum)) return sum;
    return (sum + comp) / static_cast<double>(n);
}

inline double max(const double* v, std::size_t n) {
    detail::require_values(n, "max");
    double m = v[0];
    for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(v[i])) return v[i];
        if (v[i] > m) m = v[i];
    }
    return m;
}

inline double min(const double* v, std::size_t n) {
    detail::require_values(n, "min");
    double m = v[0];
    for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(v[i])) return v[i];
        if (v[i] < m) m = v[i];
    }
    return m;
}

// Quantile q in [0, 1] of values already sorted ascending, numpy's default method:
// with h = (n - 1) q, the linear interpolation between the order statistics floor(h) and
// floor(h) + 1 (0-based).
inline double quantile_sorted(const double* sorted, std::size_t n, double q) {
    detail::require_values(n, "quantile");
    if (!(q >= 0.0 && q <= 1.0)) throw Error("stats::quantile: q = " + std::to_string(q) + " is not in [0, 1]");
    const double h = static_cast<double>(n - 1) * q;
    const double lo = std::floor(h);
    const std::size_t i = static_cast<std::size_t>(lo);
    if (i + 1 >= n) return sorted[n - 1];
    return detail::lerp(sorted[i], sorted[i + 1], h - lo);
}

// The quantiles qs of the values (one sort for all of them), numpy.quantile(v, qs).
inline std::vector<double> quantiles(const double* v, std::size_t n, const std::vector<double>& qs) {
    detail::require_values(n, "quantile");
    std::vector<double> out(qs.size());
    if (detail::any_nan(v, n)) {
        for (double q : qs)
            if (!(q >= 0.0 && q <= 1.0)) throw Error("stats::quantile: q = " + std::to_string(q) + " is not in [0, 1]");
        std::fill(out.begin(), out.end(), std::numeric_limits<double>::quiet_NaN());
        return out;
    }
    std::vector<double> s(v, v + n);
    std::sort(s.begin(), s.end());
    for (std::size_t j = 0; j < qs.size(); ++j) out[j] = quantile_sorted(s.data(), n, qs[j]);
    return out;
}

// numpy.quantile(v, q) with the default linear method.
inline double quantile(const double* v, std::size_t n, double q) { return quantiles(v, n, {q})[0]; }

// numpy.median: the middle order statistic, or the mean of the two middle ones for even n.
inline double median(const double* v, std::size_t n) {
    detail::require_values(n, "median");
    if (detail::any_nan(v, n)) return std::numeric_limits<double>::quiet_NaN();
    std::vector<double> s(v, v + n);
    const std::size_t mid = n / 2;
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(mid), s.end());
    const double upper = s[mid];
    if (n % 2 == 1) return upper;
    const double lower = *std::max_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(mid));
    return (lower + upper) / 2.0;
}

// Container overloads: anything contiguous with data() and size().
template <class C>
double mean(const C& c) { return mean(std::data(c), std::size(c)); }
template <class C>
double max(const C& c) { return max(std::data(c), std::size(c)); }
template <class C>
double min(const C& c) { return min(std::data(c), std::size(c)); }
template <class C>
double median(const C& c) { return median(std::data(c), std::size(c)); }
template <class C>
double quantile(const C& c, double q) { return quantile(std::data(c), std::size(c), q); }
template <class C>
std::vector<double> quantiles(const C& c, const std::vector<double>& qs) {
    return quantiles(std::data(c), std::size(c), qs);
}

}  // namespace mdlab::stats
