// A unit circle in the first two coordinates of R^D with the uniform law: a manifold whose
// projection, distances and draws the metric tests can compute by hand.
#pragma once
#include <cmath>
#include <cstddef>

#include <mdlab/mdlab.hpp>

namespace mdlab::test {

// Unit circle {(cos a, sin a, 0, ..., 0)} in R^D, uniform in the angle, exact projection.
class TestCircle : public mdlab::Manifold {
public:
    explicit TestCircle(std::size_t d) : d_(d) {}
    void prepare(mdlab::Context&) override {}
    std::size_t ambient_dim() const override { return d_; }
    std::size_t intrinsic_dim() const override { return 1; }
    void sample_rows(mdlab::Rng& rng, double* out, std::size_t count) const override {
        for (std::size_t i = 0; i < count; ++i) {
            const double a = 2.0 * 3.14159265358979323846 * rng.uniform();
            double* p = out + i * d_;
            for (std::size_t c = 0; c < d_; ++c) p[c] = 0.0;
            p[0] = std::cos(a);
            p[1] = std::sin(a);
        }
    }
    Matrix project(const Matrix& x) const override {
        Matrix p = mdlab::zeros(mdlab::rows(x), d_);
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) {
            const double r = std::hypot(x(i, 0), x(i, 1));
            p(i, 0) = r > 0 ? x(i, 0) / r : 1.0;
            p(i, 1) = r > 0 ? x(i, 1) / r : 0.0;
        }
        return p;
    }
    Matrix intrinsic_coords(const Matrix& x) const override {
        Matrix a = Matrix::from_shape({mdlab::rows(x), 1});
        for (std::size_t i = 0; i < mdlab::rows(x); ++i) a(i, 0) = std::atan2(x(i, 1), x(i, 0));
        return a;
    }

private:
    std::size_t d_;
};

}  // namespace mdlab::test
