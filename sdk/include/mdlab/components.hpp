// The batched interface of each plugin kind. Points are rows of an n x D matrix; nothing
// virtual is called per point.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include <xtensor/xtensor.hpp>
#include <vector>

#include "mdlab/abi.hpp"
#include "mdlab/array.hpp"
#include "mdlab/context.hpp"
#include "mdlab/error.hpp"
#include "mdlab/invert_increasing.hpp"
#include "mdlab/kinds.hpp"
#include "mdlab/params.hpp"
#include "mdlab/parallel.hpp"
#include "mdlab/rng.hpp"

namespace mdlab {

class MDLAB_VISIBLE Component {
public:
    virtual ~Component() = default;
};

class Inputs;

// Nodes on M (ambient coordinates, one per row) with weights summing to 1 that include the
// data density: sum_i w_i f(x_i) approximates E_{mu_data} f.
struct Quadrature {
    Matrix nodes;
    Vector weights;
};

// Orthonormal tangent bases at points of M: bases(i, a, j) is coordinate a of tangent vector j at
// point i (shape n x D x k).
using TangentBases = xt::xtensor<double, 3>;

// A data manifold M embedded in R^D, with a sampling density on it.
class MDLAB_VISIBLE Manifold : public Component {
public:
    // Called once before use: draw the random embedding from the context's streams.
    virtual void prepare(Context& ctx) = 0;
    virtual std::size_t ambient_dim() const = 0;
    virtual std::size_t intrinsic_dim() const = 0;
    // Writes `count` draws from mu_data into `out` (count rows of ambient_dim() values).
    virtual void sample_rows(Rng& rng, double* out, std::size_t count) const = 0;
    // Nearest point of M for each row.
    virtual Matrix project(const Matrix& x) const = 0;
    // Intrinsic coordinates of points of M (for example the angle on a circle).
    virtual Matrix intrinsic_coords(const Matrix& x) const = 0;
    // Euclidean distance of each row to M.
    virtual Vector distance(const Matrix& x) const {
        const Matrix p = project(x);
        Vector d = Vector::from_shape({rows(x)});
        for (std::size_t i = 0; i < rows(x); ++i) {
            double s = 0.0;
            for (std::size_t j = 0; j < cols(x); ++j) {
                const double e = x(i, j) - p(i, j);
                s += e * e;
            }
            d(i) = std::sqrt(s);
        }
        return d;
    }
    // Quadrature of mu_data with about `resolution` nodes per intrinsic dimension (the oracle
    // score integrates the noised density with it). Manifolds without one throw.
    virtual Quadrature quadrature(std::size_t resolution) const {
        (void)resolution;
        throw Error("this manifold has no quadrature rule");
    }
    // Orthonormal tangent bases of M at the given points of M (used for the normal noise).
    virtual void tangent_bases(const Matrix& points, TangentBases& out) const {
        (void)points;
        (void)out;
        throw Error("this manifold does not provide tangent spaces");
    }
    // The exact score of the law of alpha x0 + sigma eps, x0 ~ mu_data, eps ~ N(0, I), when it has
    // a closed form (Gaussian and Gaussian-mixture data): writes it and returns true. mu_data is
    // the law sample() draws from, normal noise included.
    virtual bool noised_score(const Matrix& x, double alpha, double sigma, Matrix& out) const {
        (void)x, (void)alpha, (void)sigma, (void)out;
        return false;
    }
    // Standard deviation of the Gaussian noise that sample() adds in the normal space of M at
    // each drawn point (0: exactly on M). Plugins set it from their `noise` parameter.
    double normal_noise() const { return normal_noise_; }

    // n draws, chunked over the stream so the result is independent of the thread count; with
    // normal noise, the noise comes from the stream's child "normal_noise". Override only when
    // the draws are not independent (sampling without replacement).
    virtual Matrix sample(std::size_t n, const RandomStream& stream) const {
        const std::size_t d = ambient_dim();
        Matrix out = Matrix::from_shape({n, d});
        for_chunks(n, random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = stream.chunk(c);
            sample_rows(rng, out.data() + b * d, e - b);
        });
        if (normal_noise_ > 0.0) add_normal_noise(out, stream.child("normal_noise"));
        return out;
    }

protected:
    void set_normal_noise(double scale) { normal_noise_ = scale; }

private:
    // x_i += s (z - T_i T_i^T z), z ~ N(0, I_D): noise in the normal space at x_i.
    void add_normal_noise(Matrix& x, const RandomStream& stream) const {
        const std::size_t d = ambient_dim(), k = intrinsic_dim();
        for_chunks(rows(x), random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = stream.chunk(c);
            Matrix block = Matrix::from_shape({e - b, d});
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t a = 0; a < d; ++a) block(i - b, a) = x(i, a);
            TangentBases t;
            tangent_bases(block, t);
            std::vector<double> z(d);
            for (std::size_t i = b; i < e; ++i) {
                for (auto& v : z) v = rng.normal();
                for (std::size_t j = 0; j < k; ++j) {
                    double dot = 0.0;
                    for (std::size_t a = 0; a < d; ++a) dot += t(i - b, a, j) * z[a];
                    for (std::size_t a = 0; a < d; ++a) z[a] -= dot * t(i - b, a, j);
                }
                for (std::size_t a = 0; a < d; ++a) x(i, a) += normal_noise_ * z[a];
            }
        });
    }
    double normal_noise_ = 0.0;
};

// The `noise` parameter every manifold offers.
inline ParamSpec normal_noise_param() {
    return real("noise", 0.0, "standard deviation of Gaussian noise added in the normal space of the manifold at each drawn point")
        .at_least(0.0);
}

// A forward noising process with Gaussian transitions p_t(x | x0) = N(alpha x0, sigma^2 I),
// dx = f dt + g dW with f = (d log alpha / dt) x.
class MDLAB_VISIBLE ForwardProcess : public Component {
public:
    virtual double t_end() const = 0;
    virtual double alpha(double t) const = 0;
    virtual double sigma(double t) const = 0;
    virtual double dlog_alpha_dt(double t) const = 0;
    virtual double dsigma_dt(double t) const = 0;

    // f(x, t) = drift_rate(t) * x
    double drift_rate(double t) const { return dlog_alpha_dt(t); }
    // g(t)^2 = d(sigma^2)/dt - 2 (d log alpha/dt) sigma^2
    double g2(double t) const {
        const double s = sigma(t);
        return 2.0 * s * dsigma_dt(t) - 2.0 * dlog_alpha_dt(t) * s * s;
    }
    // Standard deviation of the prior N(0, prior_std^2 I) that reverse-time samplers start from.
    virtual double prior_std() const { return sigma(t_end()); }
    // The time t in (0, t_end()] at which the noise-to-signal ratio sigma(t)/alpha(t) equals r
    // (k-diffusion's sigma; sigma itself when alpha = 1), for r between the ratio's values at 0
    // and at t_end(). The built-in processes override it with their closed form; this default
    // bisects on [0, t_end()], the ratio increasing with t.
    virtual double time_at_noise_ratio(double r) const {
        return invert_increasing([&](double s) { return sigma(s) / alpha(s); }, r, 0.0, t_end());
    }
    // alpha x0 + sigma eps, chunked over the stream.
    Matrix perturb(const Matrix& x0, double t, const RandomStream& stream) const {
        const double a = alpha(t), s = sigma(t);
        Matrix out = Matrix::from_shape(x0.shape());
        const std::size_t d = cols(x0);
        for_chunks(rows(x0), random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            Rng rng = stream.chunk(c);
            for (std::size_t k = b * d; k < e * d; ++k) out.data()[k] = a * x0.data()[k] + s * rng.normal();
        });
        return out;
    }
};

// An estimate s(x, t) of grad log p_t.
class MDLAB_VISIBLE ScoreEstimator : public Component {
public:
    // Called once before use with the node's inputs (training data, process, ...).
    virtual void prepare(const Inputs& inputs, Context& ctx) = 0;
    virtual std::size_t dim() const = 0;
    virtual const ForwardProcess& process() const = 0;
    // Scores of the rows of x at time t into out (resized to x's shape). Must be thread-safe.
    virtual void score(const Matrix& x, double t, Matrix& out) const = 0;
    // Tweedie denoiser D(x, t) = (x + sigma^2 s(x, t)) / alpha.
    virtual void denoise(const Matrix& x, double t, Matrix& out) const {
        score(x, t, out);
        const double a = process().alpha(t), s2 = process().sigma(t) * process().sigma(t);
        for (std::size_t k = 0; k < x.size(); ++k) out.data()[k] = (x.data()[k] + s2 * out.data()[k]) / a;
    }
};

// Named scalar results, in the order a plugin reports them.
using Values = std::vector<std::pair<std::string, double>>;

struct SampleResult {
    Matrix samples;
    Values stats;  // for example the number of score evaluations
};

class MDLAB_VISIBLE Sampler : public Component {
public:
    virtual SampleResult sample(const Inputs& inputs, Context& ctx) const = 0;
};

class MDLAB_VISIBLE Metric : public Component {
public:
    virtual Values evaluate(const Inputs& inputs, Context& ctx) const = 0;
};

// The values a node's input ports are connected to.
using NodeValue = std::variant<std::monostate, std::shared_ptr<const Manifold>,
                               std::shared_ptr<const Matrix>, std::shared_ptr<const ForwardProcess>,
                               std::shared_ptr<const ScoreEstimator>>;

class Inputs {
public:
    void set(std::string port, NodeValue value) { ports_[std::move(port)] = std::move(value); }
    bool has(const std::string& port) const {
        auto it = ports_.find(port);
        return it != ports_.end() && !std::holds_alternative<std::monostate>(it->second);
    }
    std::shared_ptr<const Manifold> manifold(const std::string& port) const {
        return get<std::shared_ptr<const Manifold>>(port, "a manifold");
    }
    std::shared_ptr<const Matrix> points(const std::string& port) const {
        return get<std::shared_ptr<const Matrix>>(port, "points");
    }
    std::shared_ptr<const ForwardProcess> process(const std::string& port) const {
        return get<std::shared_ptr<const ForwardProcess>>(port, "a forward process");
    }
    std::shared_ptr<const ScoreEstimator> estimator(const std::string& port) const {
        return get<std::shared_ptr<const ScoreEstimator>>(port, "a score estimator");
    }

private:
    template <class T>
    const T& get(const std::string& port, const char* what) const {
        auto it = ports_.find(port);
        if (it == ports_.end() || std::holds_alternative<std::monostate>(it->second))
            throw Error("input '" + port + "' is not connected");
        if (auto* p = std::get_if<T>(&it->second)) return *p;
        throw Error("input '" + port + "' is not " + what);
    }
    std::map<std::string, NodeValue> ports_;
};

}  // namespace mdlab
