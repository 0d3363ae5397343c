// The coefficients of one UniPC step (Zhao et al. 2023, "UniPC", Algorithms 2-3 with B(h); the
// data-prediction form of diffusers' multistep_uni_p_bh_update / multistep_uni_c_bh_update).
//
// A step goes from lambda_k to lambda_k + h (lambda = log(alpha / sigma), h > 0) with the denoiser
// outputs m_k, m_{k-1}, ... at lambda_{k-j} = lambda_k + r_j h (r_j < 0) and, for the corrector, the
// new output m_{k+1} at r = 1. With D1_j = (m_{k-j} - m_k) / r_j and z = -h:
//   x_{k+1} = (sigma_{k+1} / sigma_k) x_k - alpha_{k+1} expm1(z) m_k - alpha_{k+1} B(h) sum_j rho_j D1_j,
// where B(h) = z (bh1) or expm1(z) (bh2), and rho solves the order conditions
//   sum_j rho_j r_j^(i-1) = b_i = i! z phi_{i+1}(z) / B(h),   phi_{i+1}(z) = sum_n z^n / (n + i + 1)!,
// over the p - 1 history points (UniP-p) or the p points with r = 1 (UniC-p). As diffusers does,
// UniP-2 takes rho = 1/2 and UniC-1 rho = 1/2 instead of solving (b_1 -> 1/2 as h -> 0).
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>

namespace mdlab::unipc {

enum class Variant { bh1, bh2 };

inline constexpr std::size_t max_order = 3;

// phi_k(z) = sum_{n >= 0} z^n / (n + k)! for k >= 1 (phi_1 = expm1(z) / z). The series for |z| <= 1
// (where the recursion phi_{k+1} = (phi_k - 1/k!) / z cancels), the recursion beyond.
inline double phi(std::size_t k, double z) {
    double inv_fact = 1.0;  // 1 / k!
    for (std::size_t j = 2; j <= k; ++j) inv_fact /= double(j);
    if (std::abs(z) <= 1.0) {
        double term = inv_fact, sum = 0.0;
        for (std::size_t n = 0; n < 30 && term != 0.0; ++n) {
            sum += term;
            term *= z / double(n + k + 1);
        }
        return sum;
    }
    double p = std::expm1(z) / z, inv = 1.0;  // phi_1, 1/1!
    for (std::size_t j = 1; j < k; ++j) {
        p = (p - inv) / z;
        inv /= double(j + 1);
    }
    return p;
}

// The weights of one update x_{k+1} = cx x_k + sum_j w[j] m_{k-j} (+ w_new m_{k+1} for the corrector).
struct Weights {
    std::array<double, max_order> w{};  // w[0] for m_k, w[j] for m_{k-j}
    double w_new = 0.0;                 // the corrector's m_{k+1}
};

// Solves the n x n system A rho = b (n <= 3) by Gaussian elimination with partial pivoting.
template <std::size_t N>
std::array<double, N> solve(std::array<std::array<double, N>, N> a, std::array<double, N> b, std::size_t n) {
    for (std::size_t c = 0; c < n; ++c) {
        std::size_t piv = c;
        for (std::size_t r = c + 1; r < n; ++r)
            if (std::abs(a[r][c]) > std::abs(a[piv][c])) piv = r;
        std::swap(a[c], a[piv]);
        std::swap(b[c], b[piv]);
        for (std::size_t r = c + 1; r < n; ++r) {
            const double f = a[r][c] / a[c][c];
            for (std::size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    std::array<double, N> x{};
    for (std::size_t c = n; c-- > 0;) {
        double s = b[c];
        for (std::size_t k = c + 1; k < n; ++k) s -= a[c][k] * x[k];
        x[c] = s / a[c][c];
    }
    return x;
}

// Weights of UniP-order (corrector = false) or UniC-order (true) from lambda_k to lambda_k + h,
// with r[j - 1] = (lambda_{k-j} - lambda_k) / h for j = 1 .. order - 1 and alpha_next = alpha_{k+1}.
inline Weights weights(Variant variant, std::size_t order, double h, const std::array<double, max_order>& r,
                       double alpha_next, bool corrector) {
    const double z = -h;
    const double bh = variant == Variant::bh1 ? z : std::expm1(z);
    // The unknowns: rho_j for the history points j = 1 .. order - 1, then (corrector) the new point.
    const std::size_t n = corrector ? order : order - 1;
    std::array<double, max_order> rho{};
    if (n == 1 && (order == 2 || corrector)) {
        rho[0] = 0.5;  // diffusers' simplified UniP-2 and UniC-1
    } else if (n > 1) {
        std::array<std::array<double, max_order>, max_order> a{};
        std::array<double, max_order> b{};
        double fact = 1.0;  // i!
        for (std::size_t i = 1; i <= n; ++i) {
            fact *= double(i);
            b[i - 1] = fact * z * phi(i + 1, z) / bh;
            for (std::size_t j = 0; j < n; ++j) {
                const double rj = j + 1 < order ? r[j] : 1.0;
                a[i - 1][j] = std::pow(rj, double(i - 1));
            }
        }
        rho = solve(a, b, n);
    }
    Weights out;
    out.w[0] = -alpha_next * std::expm1(z);
    const double c = -alpha_next * bh;
    for (std::size_t j = 1; j < order; ++j) {  // c rho_j (m_{k-j} - m_k) / r_j
        out.w[j] = c * rho[j - 1] / r[j - 1];
        out.w[0] -= out.w[j];
    }
    if (corrector) {  // c rho_new (m_{k+1} - m_k)
        out.w_new = c * rho[order - 1];
        out.w[0] -= out.w_new;
    }
    return out;
}

}  // namespace mdlab::unipc
