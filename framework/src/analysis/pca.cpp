#include "mdlab/runtime/pca.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <Eigen/Eigenvalues>

namespace mdlab::runtime {

void symmetric_eigen(std::vector<double> a, std::size_t n, std::vector<double>& values,
                     std::vector<std::vector<double>>& vectors) {
    values.clear();
    vectors.clear();
    if (n == 0) return;
    const Eigen::Map<const Eigen::MatrixXd> matrix(a.data(), Eigen::Index(n), Eigen::Index(n));
    // Ascending eigenvalues; reads the lower triangle (a is symmetric, so storage order is moot).
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(matrix);
    if (solver.info() != Eigen::Success) {  // a non-finite matrix (e.g. an overflowed covariance)
        values.assign(n, std::numeric_limits<double>::quiet_NaN());
        vectors.assign(n, values);
        return;
    }
    for (std::size_t k = n; k-- > 0;) {
        values.push_back(solver.eigenvalues()[Eigen::Index(k)]);
        std::vector<double> e(n);
        std::size_t largest = 0;
        for (std::size_t i = 0; i < n; ++i) {
            e[i] = solver.eigenvectors()(Eigen::Index(i), Eigen::Index(k));
            if (std::fabs(e[i]) > std::fabs(e[largest]) + 1e-12) largest = i;
        }
        if (e[largest] < 0)
            for (double& x : e) x = -x;
        vectors.push_back(std::move(e));
    }
}

namespace {

// Every `stride`-th finite row, at most `limit` of them, centred on their mean.
std::vector<std::vector<double>> centred_rows(const Matrix& points, std::size_t limit, std::vector<double>& mean) {
    const std::size_t n = rows(points), d = cols(points);
    std::vector<std::size_t> finite;
    for (std::size_t i = 0; i < n; ++i)
        if (std::all_of(row(points, i), row(points, i) + d, [](double x) { return std::isfinite(x); })) finite.push_back(i);
    const std::size_t stride = std::max<std::size_t>(1, (finite.size() + limit - 1) / limit);
    std::vector<std::vector<double>> out;
    mean.assign(d, 0.0);
    for (std::size_t k = 0; k < finite.size(); k += stride) {
        out.emplace_back(row(points, finite[k]), row(points, finite[k]) + d);
        for (std::size_t j = 0; j < d; ++j) mean[j] += out.back()[j];
    }
    if (out.empty()) return out;
    for (double& m : mean) m /= static_cast<double>(out.size());
    for (auto& r : out)
        for (std::size_t j = 0; j < d; ++j) r[j] -= mean[j];
    return out;
}

void normalise(std::vector<double>& v) {
    double norm = 0.0;
    for (double x : v) norm += x * x;
    norm = std::sqrt(norm);
    for (double& x : v) x = norm > 0 ? x / norm : 0.0;
}

}  // namespace

PrincipalPlane principal_plane(const Matrix& points) {
    const std::size_t d = cols(points);
    PrincipalPlane plane;
    plane.axis1.assign(d, 0.0);
    plane.axis2.assign(d, 0.0);
    std::vector<double> values;
    std::vector<std::vector<double>> vectors;
    if (d <= 128) {
        const auto x = centred_rows(points, 4000, plane.mean);
        if (x.size() < 2) return plane;
        std::vector<double> cov(d * d, 0.0);
        for (const auto& r : x)
            for (std::size_t i = 0; i < d; ++i)
                for (std::size_t j = i; j < d; ++j) cov[i * d + j] += r[i] * r[j];
        for (std::size_t i = 0; i < d; ++i)
            for (std::size_t j = i; j < d; ++j) cov[j * d + i] = cov[i * d + j] /= static_cast<double>(x.size() - 1);
        symmetric_eigen(cov, d, values, vectors);
    } else {
        // Few rows in many dimensions: eigenvectors u of the Gram matrix X X^T give the
        // principal directions X^T u with the same nonzero eigenvalues.
        const auto x = centred_rows(points, 256, plane.mean);
        const std::size_t m = x.size();
        if (m < 2) return plane;
        std::vector<double> gram(m * m);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = i; j < m; ++j)
                gram[i * m + j] = gram[j * m + i] = std::inner_product(x[i].begin(), x[i].end(), x[j].begin(), 0.0);
        std::vector<std::vector<double>> coefficients;
        symmetric_eigen(gram, m, values, coefficients);
        for (std::size_t k = 0; k < std::min<std::size_t>(2, m); ++k) {
            std::vector<double> direction(d, 0.0);
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < d; ++j) direction[j] += coefficients[k][i] * x[i][j];
            normalise(direction);
            vectors.push_back(std::move(direction));
            values[k] /= static_cast<double>(m - 1);
        }
    }
    if (!vectors.empty() && values[0] > 0) plane.axis1 = vectors[0], plane.variance1 = values[0];
    if (vectors.size() > 1 && values[1] > 1e-15 * values[0]) plane.axis2 = vectors[1], plane.variance2 = values[1];
    return plane;
}

std::vector<std::array<double, 2>> project(const Matrix& points, const PrincipalPlane& plane) {
    const std::size_t n = rows(points), d = cols(points);
    std::vector<std::array<double, 2>> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        double a = 0.0, b = 0.0;
        for (std::size_t j = 0; j < d && j < plane.mean.size(); ++j) {
            const double c = row(points, i)[j] - plane.mean[j];
            a += c * plane.axis1[j];
            b += c * plane.axis2[j];
        }
        out[i] = {a, b};  // NaN propagates from non-finite rows
    }
    return out;
}

}  // namespace mdlab::runtime
