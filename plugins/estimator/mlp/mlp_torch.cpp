// The libtorch backend of the `mlp` plugin (see mlp.cpp, which declares the parameters, and
// mlp_backend.hpp): the neural score estimator of SCIENCE.md section 2, "neural (mlp)", a multilayer perceptron
// trained by denoising score matching (Vincent 2011; Song et al. 2021),
//   L(theta) = E_t E_x0 E_eps sigma(t)^2 | s_theta(alpha x0 + sigma eps, t) + eps / sigma |^2,
//   t ~ U[t_min, T], x0 ~ training set, eps ~ N(0, I).
// The network predicts the noise (Ho et al. 2020): s_theta(x, t) = -net(x, t) / sigma(t), so the
// loss is E | net(alpha x0 + sigma eps, t) - eps |^2, of order D at every t (well conditioned).
// Input: [ c_in(t) x, sin(pi f_k u(t)), cos(pi f_k u(t)) ], where
//   c_in(t) = 1 / sqrt(alpha^2 m2 + sigma^2) (m2 = mean square of the data coordinates) scales
//     the noisy point to about unit size at every t, as EDM's c_in does (Karras et al. 2022);
//   u(t) in [-1, 1] is the log-SNR lambda = log(alpha^2 / sigma^2) mapped linearly from
//     [lambda(T), lambda(t_min)], and f_k = (1/2) time_scale^(k / (K - 1)), k = 0..K-1
//     (f_0 = 1/2 keeps the features one-to-one on [-1, 1], so t slightly outside the
//     training range is not aliased onto the other end).
// Hidden layers: `depth` x (affine `width` + activation); output layer affine to D.
// libtorch does the training (AdamW) and the forward passes; every random draw comes from a
// local torch CPU generator seeded from the node's stream "init", so training is bit-for-bit
// reproducible for a given seed, `threads` and machine.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <mdlab/estimator_state.hpp>
#include <mdlab/mdlab.hpp>

#include "mlp_backend.hpp"

namespace {

using mdlab::Matrix;

enum class Activation { silu, relu, tanh };

// Rows per forward pass in score() and in the validation loss: fixed, so a row's result never
// depends on the thread count.
constexpr std::size_t forward_chunk_rows = 256;

std::string format_double(double v) {
    if (std::isnan(v)) return "nan";
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

// Writes `text` to `file` through a temporary file in the same folder renamed into place.
void write_atomically(const std::filesystem::path& file, const std::string& text) {
    const std::string tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw mdlab::Error(file.string() + ": cannot open for writing");
        out << text;
        out.flush();
        if (!out) {
            std::error_code ec;
            std::filesystem::remove(tmp, ec);
            throw mdlab::Error(file.string() + ": write failed (disk full?)");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw mdlab::Error(file.string() + ": cannot move into place: " + ec.message());
    }
}

// The time-dependent part of the input: c_in(t) and the 2K Fourier features of the log-SNR.
class TimeEmbedding {
public:
    TimeEmbedding() = default;
    TimeEmbedding(const mdlab::ForwardProcess& p, double t_min, std::size_t k, double scale, double m2)
        : process_(&p), m2_(m2) {
        lambda_hi_ = log_snr(t_min);
        lambda_lo_ = log_snr(p.t_end());
        freq_.resize(k);
        for (std::size_t i = 0; i < k; ++i)
            freq_[i] = 0.5 * (k == 1 ? 1.0 : std::pow(scale, double(i) / double(k - 1)));
    }
    std::size_t size() const { return 2 * freq_.size(); }
    double c_in(double t) const {
        const double a = process_->alpha(t), s = process_->sigma(t);
        return 1.0 / std::sqrt(a * a * m2_ + s * s);
    }
    // u(t): -1 at T, +1 at t_min (when the log-SNR decreases with t, as for every process).
    double position(double t) const {
        const double span = lambda_hi_ - lambda_lo_;
        if (!(std::abs(span) > 1e-12)) return 0.0;
        return 2.0 * (log_snr(t) - lambda_lo_) / span - 1.0;
    }
    template <class T>
    void features(double t, T* out) const {
        const double u = position(t);
        const double pi = 3.14159265358979323846;
        for (std::size_t i = 0; i < freq_.size(); ++i) {
            out[2 * i] = static_cast<T>(std::sin(pi * freq_[i] * u));
            out[2 * i + 1] = static_cast<T>(std::cos(pi * freq_[i] * u));
        }
    }

private:
    // log(alpha^2 / sigma^2), clamped to [-25, 25] (alpha / sigma from 4e-6 to 3e5) so that alpha = 0
    // (cosine at T) or sigma = 0 stay finite and do not stretch the range of u.
    double log_snr(double t) const {
        const double a = process_->alpha(t), s = process_->sigma(t);
        const double l = 2.0 * (std::log(a) - std::log(s));
        if (std::isnan(l)) return 0.0;
        return std::clamp(l, -25.0, 25.0);
    }
    const mdlab::ForwardProcess* process_ = nullptr;
    double m2_ = 1.0;
    double lambda_hi_ = 0.0, lambda_lo_ = 0.0;
    std::vector<double> freq_;
};

class MlpTorch : public mdlab::ScoreEstimator, public mdlab::EstimatorState {
public:
    // Parameters validated against the plugin's describe() (mlp.cpp).
    explicit MlpTorch(const mdlab::Params& p)
        : width_(p.count("width")), depth_(p.count("depth")), time_features_(p.count("time_features")),
          time_scale_(p.real("time_scale")), epochs_(p.count("epochs")), batch_size_(p.count("batch_size")),
          learning_rate_(p.real("learning_rate")), weight_decay_(p.real("weight_decay")), t_min_(p.real("t_min")),
          validation_fraction_(p.real("validation_fraction")), patience_(p.count("patience")),
          noise_draws_(p.count("noise_draws")), threads_(p.count("threads")), state_(p.string("state")) {
        const std::string& a = p.string("activation");
        activation_ = a == "relu" ? Activation::relu : a == "tanh" ? Activation::tanh : Activation::silu;
        dtype_ = p.string("precision") == "f64" ? at::kDouble : at::kFloat;
    }

    void prepare(const mdlab::Inputs& inputs, mdlab::Context& ctx) override {
        auto data = inputs.points("data");
        auto process = inputs.process("process");
        if (!data || !process) throw mdlab::Error("mlp: input 'data' or 'process' is null");
        const std::size_t n = mdlab::rows(*data), d = mdlab::cols(*data);
        if (n == 0 || d == 0)
            throw mdlab::InputError("mlp: input 'data': the training set is empty (" + std::to_string(n) + " x " +
                                        std::to_string(d) + " points)",
                                    "data");
        double m2 = 0.0;
        for (std::size_t k = 0; k < data->size(); ++k) {
            const double v = data->data()[k];
            if (!std::isfinite(v))
                throw mdlab::InputError("mlp: input 'data': training point " + std::to_string(k / d) + " is not finite", "data");
            m2 += v * v;
        }
        m2 /= double(data->size());
        const double t_end = process->t_end();
        if (!(t_min_ < t_end))
            throw mdlab::InputError("mlp: t_min = " + format_double(t_min_) + " must be below the process end time T = " +
                                        format_double(t_end),
                                    "t_min");
        if (!(process->sigma(t_min_) > 0.0))
            throw mdlab::InputError("mlp: sigma(t_min) = " + format_double(process->sigma(t_min_)) +
                                        "; the noise-predicting network needs sigma > 0 on [t_min, T]",
                                    "t_min");
        const std::size_t n_val =
            validation_fraction_ > 0.0 ? static_cast<std::size_t>(std::llround(validation_fraction_ * double(n))) : 0;
        if (validation_fraction_ > 0.0 && (n_val < 1 || n_val >= n))
            throw mdlab::InputError("mlp: validation_fraction = " + format_double(validation_fraction_) + " of " +
                                        std::to_string(n) + " training points leaves " + std::to_string(n_val) +
                                        " for validation and " + std::to_string(n - std::min(n, n_val)) +
                                        " for training; both need at least one (give more points, or 0 for no validation)",
                                    "validation_fraction");

        process_ = std::move(process);
        dim_ = d;
        embedding_ = TimeEmbedding(*process_, t_min_, time_features_, time_scale_, m2);
        if (state_.empty())
            train(*data, n_val, ctx);
        else
            weights_ = load_state();
    }

    // The weights as a list of tensors (torch::save), read back by load_state().
    void save_state(const std::filesystem::path& file) const override {
        prepared();
        try {
            torch::save(weights_, file.string());
        } catch (const c10::Error& e) {
            throw mdlab::InputError("mlp: cannot write the trained state to " + file.string() + ": " + e.what_without_backtrace());
        }
    }

    std::size_t dim() const override {
        prepared();
        return dim_;
    }

    const mdlab::ForwardProcess& process() const override {
        prepared();
        return *process_;
    }

    // s(x, t) = -net(x, t) / sigma(t), over fixed chunks of rows in parallel. Thread-safe: the
    // weights are never modified after prepare(), and a forward pass in inference mode only
    // reads them (no autograd graph, no shared mutable state), so no lock is needed.
    void score(const Matrix& x, double t, Matrix& out) const override {
        prepared();
        if (mdlab::cols(x) != dim_)
            throw mdlab::Error("mlp: the points have " + std::to_string(mdlab::cols(x)) +
                               " columns, the training data has dimension " + std::to_string(dim_));
        const double s = process_->sigma(t);
        if (!(s > 0.0) || !std::isfinite(s) || !std::isfinite(process_->alpha(t)))
            throw mdlab::Error("mlp: score asked at t = " + format_double(t) + " where sigma(t) = " + format_double(s) +
                               " (the score needs sigma > 0)");
        const std::size_t n = mdlab::rows(x);
        if (out.shape() != x.shape()) out = Matrix::from_shape(x.shape());
        if (dtype_ == at::kFloat) score_rows<float>(x, t, s, out, n);
        else score_rows<double>(x, t, s, out, n);
    }

private:
    const mdlab::ForwardProcess& prepared() const {
        if (!process_ || weights_.empty()) throw mdlab::Error("mlp: used before prepare()");
        return *process_;
    }

    std::size_t input_size() const { return dim_ + embedding_.size(); }

    // Weights saved by save_state() for a network of this shape (width, depth, precision, the
    // data's dimension and the time features); anything else is the user's mistake.
    std::vector<at::Tensor> load_state() const {
        std::vector<at::Tensor> w;
        try {
            torch::load(w, state_);
        } catch (const c10::Error& e) {
            throw mdlab::InputError("mlp: cannot read the trained state " + state_ + ": " + e.what_without_backtrace(), "state");
        }
        std::vector<std::vector<std::int64_t>> shapes;
        for (std::size_t l = 0, in = input_size(); l <= depth_; ++l) {
            const std::size_t out = l == depth_ ? dim_ : width_;
            shapes.push_back({std::int64_t(in), std::int64_t(out)});
            shapes.push_back({std::int64_t(out)});
            in = out;
        }
        bool fits = w.size() == shapes.size();
        for (std::size_t k = 0; fits && k < w.size(); ++k)
            fits = w[k].sizes().vec() == shapes[k] && w[k].scalar_type() == dtype_;
        if (!fits)
            throw mdlab::InputError("mlp: the trained state " + state_ + " is not a network of width " + std::to_string(width_) +
                                        ", depth " + std::to_string(depth_) + " and " + std::to_string(time_features_) +
                                        " time features in this precision for data of dimension " + std::to_string(dim_) +
                                        " (give the parameters it was trained with)",
                                    "state");
        return w;
    }

    at::Tensor activate(const at::Tensor& h) const {
        switch (activation_) {
        case Activation::relu: return at::relu(h);
        case Activation::tanh: return at::tanh(h);
        case Activation::silu: break;
        }
        return at::silu(h);
    }

    // Weights are stored as (W_0, b_0, ..., W_depth, b_depth) with W_l of shape in x out, so a
    // layer is addmm(b, h, W) = h W + b on a batch of rows h.
    at::Tensor forward(const std::vector<at::Tensor>& w, at::Tensor h) const {
        const std::size_t layers = w.size() / 2;
        for (std::size_t l = 0; l < layers; ++l) {
            h = at::addmm(w[2 * l + 1], h, w[2 * l]);
            if (l + 1 < layers) h = activate(h);
        }
        return h;
    }

    template <class T>
    void score_rows(const Matrix& x, double t, double sigma, Matrix& out, std::size_t n) const {
        const std::size_t d = dim_, f = input_size();
        const double c = embedding_.c_in(t);
        std::vector<T> time_part(embedding_.size());
        embedding_.features(t, time_part.data());
        const auto options = at::TensorOptions().dtype(dtype_);
        mdlab::for_chunks(n, forward_chunk_rows, [&](std::size_t, std::size_t b, std::size_t e) {
            c10::InferenceMode inference;
            at::NoGradGuard no_grad;
            const std::size_t m = e - b;
            at::Tensor in = at::empty({std::int64_t(m), std::int64_t(f)}, options);
            T* p = in.data_ptr<T>();
            for (std::size_t i = 0; i < m; ++i) {
                const double* xi = mdlab::row(x, b + i);
                T* pi = p + i * f;
                for (std::size_t j = 0; j < d; ++j) pi[j] = static_cast<T>(c * xi[j]);
                std::copy(time_part.begin(), time_part.end(), pi + d);
            }
            const at::Tensor y = forward(weights_, in).contiguous();
            const T* q = y.data_ptr<T>();
            for (std::size_t i = 0; i < m; ++i)
                for (std::size_t j = 0; j < d; ++j) out(b + i, j) = -double(q[i * d + j]) / sigma;
        });
    }

    // Noisy examples for rows [b, e) of an epoch's draw list: x_t = alpha x0 + sigma eps becomes
    // the input row [c_in x_t, features(t)], eps the target. point(k) is the training point of row k.
    template <class T, class PointOf>
    void assemble(const Matrix& data, PointOf point, const double* t, const double* eps, std::size_t b, std::size_t e,
                  T* in, T* target) const {
        const std::size_t d = dim_, f = input_size();
        for (std::size_t k = b; k < e; ++k) {
            const double a = process_->alpha(t[k]), s = process_->sigma(t[k]), c = embedding_.c_in(t[k]);
            const double* x0 = mdlab::row(data, point(k));
            T* row = in + (k - b) * f;
            for (std::size_t j = 0; j < d; ++j) {
                const double z = eps[k * d + j];
                row[j] = static_cast<T>(c * (a * x0[j] + s * z));
                target[(k - b) * d + j] = static_cast<T>(z);
            }
            embedding_.features(t[k], row + d);
        }
    }

    template <class T, class PointOf>
    void make_batch(const Matrix& data, PointOf point, const double* t, const double* eps, std::size_t b, std::size_t e,
                    at::Tensor& in, at::Tensor& target) const {
        const auto options = at::TensorOptions().dtype(dtype_);
        in = at::empty({std::int64_t(e - b), std::int64_t(input_size())}, options);
        target = at::empty({std::int64_t(e - b), std::int64_t(dim_)}, options);
        assemble<T>(data, point, t, eps, b, e, in.data_ptr<T>(), target.data_ptr<T>());
    }

    // Mean over rows of |net(in) - target|^2 (summed over the D coordinates), in double.
    double mean_loss(const std::vector<at::Tensor>& w, const at::Tensor& in, const at::Tensor& target) const {
        at::NoGradGuard no_grad;
        const std::int64_t m = in.size(0);
        double total = 0.0;
        for (std::int64_t b = 0; b < m; b += std::int64_t(forward_chunk_rows)) {
            const std::int64_t e = std::min<std::int64_t>(m, b + std::int64_t(forward_chunk_rows));
            const at::Tensor r = (forward(w, in.slice(0, b, e)) - target.slice(0, b, e)).pow(2).sum(1).to(at::kDouble).contiguous();
            const double* q = r.data_ptr<double>();
            for (std::int64_t i = 0; i < e - b; ++i) total += q[i];
        }
        return total / double(m);
    }

    void train(const Matrix& data, std::size_t n_val, mdlab::Context& ctx) {
        if (dtype_ == at::kFloat) train_typed<float>(data, n_val, ctx);
        else train_typed<double>(data, n_val, ctx);
    }

    template <class T>
    void train_typed(const Matrix& data, std::size_t n_val, mdlab::Context& ctx) {
        // Intra-op threads: a process-wide libtorch setting; reductions split by it.
        at::set_num_threads(int(threads_));
        at::NoGradGuard outer_no_grad;  // re-enabled only around the training steps
        const std::size_t n = mdlab::rows(data), d = dim_, f = input_size();
        const double t_end = process_->t_end();

        // One local generator for every draw, seeded from the node's stream: concurrent nodes
        // do not share libtorch's global generator. Its Mersenne Twister takes 32 bits of seed,
        // so fold the 64-bit value.
        mdlab::Rng seeder = ctx.stream("init").chunk(0);
        const std::uint64_t seed64 = seeder();
        at::Generator gen = at::detail::createCPUGenerator(seed64 ^ (seed64 >> 32));
        const auto f64 = at::TensorOptions().dtype(at::kDouble);

        // Split: the first n_val points of a random permutation are held out.
        const at::Tensor split = at::randperm(std::int64_t(n), gen, at::TensorOptions().dtype(at::kLong));
        const std::int64_t* split_p = split.data_ptr<std::int64_t>();
        std::vector<std::size_t> val_points(split_p, split_p + n_val), train_points(split_p + n_val, split_p + n);
        const std::size_t n_train = train_points.size();

        // Weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch.nn.Linear's default, drawn in
        // double and rounded, so f32 and f64 start from the same network.
        std::vector<at::Tensor> w;
        for (std::size_t l = 0; l <= depth_; ++l) {
            const std::int64_t in = l == 0 ? std::int64_t(f) : std::int64_t(width_);
            const std::int64_t out = l == depth_ ? std::int64_t(d) : std::int64_t(width_);
            const double bound = 1.0 / std::sqrt(double(in));
            w.push_back(((at::rand({in, out}, gen, f64) * 2.0 - 1.0) * bound).to(dtype_).set_requires_grad(true));
            w.push_back(((at::rand({out}, gen, f64) * 2.0 - 1.0) * bound).to(dtype_).set_requires_grad(true));
        }

        // Validation examples: noise_draws fixed draws (t, eps) per held-out point, drawn once so
        // that the validation loss of successive epochs is compared on the same examples.
        at::Tensor val_in, val_target;
        const std::size_t m_val = n_val * noise_draws_;
        if (m_val > 0) {
            const at::Tensor u = at::rand({std::int64_t(m_val)}, gen, f64);
            const at::Tensor z = at::randn({std::int64_t(m_val), std::int64_t(d)}, gen, f64);
            std::vector<double> t(m_val);
            for (std::size_t k = 0; k < m_val; ++k) t[k] = t_min_ + (t_end - t_min_) * u.data_ptr<double>()[k];
            make_batch<T>(data, [&](std::size_t k) { return val_points[k % n_val]; }, t.data(), z.data_ptr<double>(), 0,
                          m_val, val_in, val_target);
        }

        torch::optim::AdamW optimiser(
            w, torch::optim::AdamWOptions(learning_rate_).weight_decay(weight_decay_));
        const std::size_t m = n_train * noise_draws_;
        std::vector<at::Tensor> best;
        double best_loss = std::numeric_limits<double>::infinity();
        std::size_t best_epoch = 0, since_best = 0, epochs_run = 0;
        std::string csv = "epoch,train_loss,validation_loss\n";
        std::vector<double> t(m);

        for (std::size_t epoch = 1; epoch <= epochs_; ++epoch) {
            if (ctx.cancelled()) throw mdlab::Error("mlp: cancelled");
            // Each training point noise_draws times, in random order, each with its own (t, eps).
            const at::Tensor order = at::randperm(std::int64_t(m), gen, at::TensorOptions().dtype(at::kLong));
            const at::Tensor u = at::rand({std::int64_t(m)}, gen, f64);
            const at::Tensor z = at::randn({std::int64_t(m), std::int64_t(d)}, gen, f64);
            const std::int64_t* order_p = order.data_ptr<std::int64_t>();
            const double* u_p = u.data_ptr<double>();
            for (std::size_t k = 0; k < m; ++k) t[k] = t_min_ + (t_end - t_min_) * u_p[k];
            const auto point = [&](std::size_t k) { return train_points[std::size_t(order_p[k]) % n_train]; };

            double train_sum = 0.0;
            for (std::size_t b = 0; b < m; b += batch_size_) {
                const std::size_t e = std::min(m, b + batch_size_);
                at::Tensor in, target;
                make_batch<T>(data, point, t.data(), z.data_ptr<double>(), b, e, in, target);
                at::AutoGradMode grad(true);
                const at::Tensor loss = (forward(w, in) - target).pow(2).sum(1).mean();
                optimiser.zero_grad();
                loss.backward();
                optimiser.step();
                train_sum += loss.item<double>() * double(e - b);
            }
            const double train_loss = train_sum / double(m);
            const double val_loss = m_val > 0 ? mean_loss(w, val_in, val_target) : std::nan("");
            if (!std::isfinite(train_loss))
                throw mdlab::Error("mlp: the training loss is " + format_double(train_loss) + " at epoch " +
                                   std::to_string(epoch) + " (lower learning_rate)");
            epochs_run = epoch;
            csv += std::to_string(epoch) + "," + format_double(train_loss) + "," + format_double(val_loss) + "\n";

            const double monitored = m_val > 0 ? val_loss : train_loss;
            if (monitored < best_loss) {
                best_loss = monitored;
                best_epoch = epoch;
                since_best = 0;
                best.clear();
                for (const auto& p : w) best.push_back(p.detach().clone());
            } else {
                ++since_best;
            }
            ctx.progress(double(epoch) / double(epochs_));
            if (epoch == 1 || epoch % std::max<std::size_t>(1, epochs_ / 10) == 0)
                ctx.log("mlp: epoch " + std::to_string(epoch) + "/" + std::to_string(epochs_) + " train DSM loss " +
                        format_double(train_loss) + ", validation " + format_double(val_loss));
            if (patience_ > 0 && since_best >= patience_) break;
        }
        if (best.empty())
            throw mdlab::Error("mlp: the monitored loss was never finite (the validation loss diverged; lower learning_rate)");

        write_atomically(ctx.output_dir() / (ctx.node_id() + ".loss.csv"), csv);
        ctx.log("mlp: trained " + std::to_string(epochs_run) + " epochs; kept the weights of epoch " +
                std::to_string(best_epoch) + " (" + (m_val > 0 ? "validation" : "training") + " DSM loss " +
                format_double(best_loss) + ")");
        ctx.progress(1.0);
        weights_ = std::move(best);
    }

    std::size_t width_, depth_, time_features_;
    double time_scale_;
    std::size_t epochs_, batch_size_;
    double learning_rate_, weight_decay_, t_min_, validation_fraction_;
    std::size_t patience_, noise_draws_, threads_;
    std::string state_;  // trained weights to load instead of training (empty: train)
    Activation activation_ = Activation::silu;
    at::ScalarType dtype_ = at::kFloat;

    std::shared_ptr<const mdlab::ForwardProcess> process_;
    std::size_t dim_ = 0;
    TimeEmbedding embedding_;
    std::vector<at::Tensor> weights_;  // best weights, immutable after prepare()
};

}  // namespace

extern "C" MDLAB_VISIBLE mdlab::ScoreEstimator* mdlab_mlp_torch_create(const mdlab::Params& params) {
    return new MlpTorch(params);
}

extern "C" MDLAB_VISIBLE const char* mdlab_mlp_torch_signature() { return MDLAB_BUILD_SIGNATURE; }

// The entry points must match the plugin's expectations.
static_assert(std::is_same_v<decltype(&mdlab_mlp_torch_create), mdlab_mlp::CreateFn>);
static_assert(std::is_same_v<decltype(&mdlab_mlp_torch_signature), mdlab_mlp::SignatureFn>);
