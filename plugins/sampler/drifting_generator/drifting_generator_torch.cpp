// The libtorch backend of the `drifting_generator` plugin (drifting_generator.cpp declares the
// parameters; drifting_generator_backend.hpp is the contract). Deng, Li, Li, Du, He, "Generative
// Modeling via Drifting", arXiv 2602.04770 (2026); SCIENCE.md section 6.
//
// Generator: G(z) = MLP(z), z ~ N(0, I_L), `depth` hidden layers of `width` units with SiLU and an
// affine output to R^D; weights and biases start U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in
// torch.nn.Linear. Each training step draws `batch` latents and min(batch, N) data points
// (without replacement), computes the drift V at the generated batch (drift_field.hpp: kernel
// affinities normalised over rows and columns, self pairs masked, one RMS-normalised field per
// radius, summed) and takes one Adam step on
//   loss = mean |G(z) - stopgrad(G(z) + V)|^2 / s^2
// (s the batch's coordinate scale), whose gradient moves each output along its V. After training
// G is evaluated once on n latents: nfe = 1.
//
// Randomness: the weights, latents and data batches of training come from a local torch CPU
// generator seeded from the node's stream "init"; the n final latents from the node's stream
// "latent" (chunked, so their values do not depend on the thread count and are the same for any
// number of steps: steps = 0 gives the untrained network on the same z). With a fixed `threads`
// the samples are bit-for-bit reproducible on a machine.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adam.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <mdlab/mdlab.hpp>
#include <mdlab/move_into_place.hpp>
#include <mdlab/point_checks.hpp>
#include <mdlab/sampling.hpp>

#include "drift_field.hpp"
#include "drifting_generator_backend.hpp"

namespace {

using mdlab::Matrix;

// Rows of a torch float tensor (rows x cols, contiguous) as a Matrix of doubles, and back.
Matrix to_matrix(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kDouble).contiguous();
    Matrix m = Matrix::from_shape({std::size_t(c.size(0)), std::size_t(c.size(1))});
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), m.data());
    return m;
}

at::Tensor to_tensor(const Matrix& m) {
    at::Tensor t = at::empty({std::int64_t(mdlab::rows(m)), std::int64_t(mdlab::cols(m))}, at::kDouble);
    std::copy(m.data(), m.data() + m.size(), t.data_ptr<double>());
    return t.to(at::kFloat);
}

// The rows `index` of `data`.
Matrix gather_rows(const Matrix& data, const at::Tensor& index) {
    const std::size_t d = mdlab::cols(data), m = std::size_t(index.numel());
    const std::int64_t* p = index.data_ptr<std::int64_t>();
    Matrix out = Matrix::from_shape({m, d});
    for (std::size_t i = 0; i < m; ++i) std::copy_n(mdlab::row(data, std::size_t(p[i])), d, mdlab::row(out, i));
    return out;
}

std::string number(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

// Mean |a_i - b_j| over all pairs (i != j when `distinct`: a and b are the same set).
double mean_distance(const Matrix& a, const Matrix& b, bool distinct) {
    const std::size_t n = mdlab::rows(a), m = mdlab::rows(b), d = mdlab::cols(a);
    const double total = mdlab::ordered_sum(n, [&](std::size_t i) {
        double s = 0.0;
        for (std::size_t j = 0; j < m; ++j) {
            double q = 0.0;
            for (std::size_t k = 0; k < d; ++k) q += (a(i, k) - b(j, k)) * (a(i, k) - b(j, k));
            s += std::sqrt(q);
        }
        return s;
    }, 16);
    return total / double(distinct ? n * (m - 1) : n * m);
}

// The MLP as a list of (weight out x in, bias out) pairs.
class Network {
public:
    Network(std::size_t in, std::size_t width, std::size_t depth, std::size_t out, at::Generator& gen) {
        std::size_t fan_in = in;
        for (std::size_t l = 0; l <= depth; ++l) {
            const std::size_t fan_out = l == depth ? out : width;
            params_.push_back(uniform({std::int64_t(fan_out), std::int64_t(fan_in)}, fan_in, gen));
            params_.push_back(uniform({std::int64_t(fan_out)}, fan_in, gen));
            fan_in = fan_out;
        }
    }

    at::Tensor operator()(at::Tensor h) const {
        const std::size_t layers = params_.size() / 2;
        for (std::size_t l = 0; l < layers; ++l) {
            h = at::linear(h, params_[2 * l], params_[2 * l + 1]);
            if (l + 1 < layers) h = at::silu(h);
        }
        return h;
    }

    std::vector<at::Tensor>& parameters() { return params_; }

private:
    // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn in double and rounded to float.
    static at::Tensor uniform(at::IntArrayRef shape, std::size_t fan_in, at::Generator& gen) {
        const double bound = 1.0 / std::sqrt(double(fan_in));
        const at::Tensor u = at::rand(shape, gen, at::TensorOptions().dtype(at::kDouble));
        return ((u * 2.0 - 1.0) * bound).to(at::kFloat).set_requires_grad(true);
    }

    std::vector<at::Tensor> params_;
};

class DriftingGeneratorTorch : public mdlab::Sampler {
public:
    // Parameters validated against the plugin's describe() (drifting_generator.cpp).
    explicit DriftingGeneratorTorch(const mdlab::Params& p)
        : n_(p.count("n")), steps_(p.count("steps")), batch_(p.count("batch")), lr_(p.real("lr")),
          width_(p.count("width")), depth_(p.count("depth")), radii_(p.real_list("radii")),
          latent_dim_(p.count("latent_dim")), threads_(p.count("threads")) {}

    mdlab::SampleResult sample(const mdlab::Inputs& inputs, mdlab::Context& ctx) const override {
        const auto data = inputs.points("data");
        if (!data) throw mdlab::Error("drifting_generator: input 'data' is null");
        const std::size_t d = mdlab::cols(*data);
        mdlab::require_points("drifting_generator", *data, d, "data", 2, "the drift needs at least 2 data points");
        const std::size_t latent = latent_dim_ > 0 ? latent_dim_ : d;

        // Intra-op threads: a process-wide libtorch setting; its reductions split by it.
        at::set_num_threads(int(threads_));
        at::NoGradGuard outer_no_grad;  // re-enabled only around the training steps

        // One local generator for the training draws, seeded from the node's stream (its Mersenne
        // Twister takes 32 bits of seed: fold the 64-bit value).
        const std::uint64_t seed64 = ctx.stream("init").chunk(0)();
        at::Generator gen = at::detail::createCPUGenerator(seed64 ^ (seed64 >> 32));
        Network net(latent, width_, depth_, d, gen);

        const auto start = std::chrono::steady_clock::now();
        const Training t = train(net, *data, latent, gen, ctx);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        Matrix y = to_matrix(generate(net, latent, ctx));
        for (std::size_t k = 0; k < y.size(); ++k)
            if (!std::isfinite(y.data()[k]))
                throw mdlab::Error("drifting_generator: sample " + std::to_string(k / d) +
                                   " is not finite (training diverged; lower lr)");
        ctx.progress(1.0);
        return mdlab::SampleResult{std::move(y),
                                   {{"nfe", 1.0},
                                    {"train_steps", double(steps_)},
                                    {"train_wall_s", seconds},
                                    {"loss_initial", t.loss_initial},
                                    {"loss_final", t.loss_final},
                                    {"energy_initial", t.energy_initial},
                                    {"energy_final", t.energy_final},
                                    {"latent_dim", double(latent)}}};
    }

private:
    // The reference's loss mean |G - stopgrad(G + V)|^2 / s^2 = mean |sum_R F_R|^2, where each
    // radius' field has RMS 1: about K^2 (K radii) while the fields of all radii agree, as when
    // the generated law is far from the data's, and lower as they become noise around a match.
    // It is not a measure of progress; the energy distance between the generated and the data
    // batch is (Szekely and Rizzo 2013: 2 E|x - y| - E|x - x'| - E|y - y'|, 0 iff the laws agree).
    struct Training {
        // At the first step, and the mean over the last tenth of the steps.
        double loss_initial = 0.0, loss_final = 0.0, energy_initial = 0.0, energy_final = 0.0;
    };

    // The drift field at a fresh batch: generated outputs (with their graph when grad is on) and V.
    struct Batch {
        at::Tensor out;
        drifting_generator::Field field;
        double energy = 0.0;  // energy distance between the generated and the data batch
    };

    Batch draw_batch(const Network& net, const Matrix& data, std::size_t latent, at::Generator& gen) const {
        const std::size_t m = std::min(batch_, mdlab::rows(data));
        const at::Tensor z = at::randn({std::int64_t(batch_), std::int64_t(latent)}, gen, at::TensorOptions().dtype(at::kFloat));
        const at::Tensor pick = at::randperm(std::int64_t(mdlab::rows(data)), gen, at::TensorOptions().dtype(at::kLong))
                                    .slice(0, 0, std::int64_t(m))
                                    .contiguous();
        Batch b;
        b.out = net(z);
        const Matrix x = to_matrix(b.out.detach()), y = gather_rows(data, pick);
        b.field = drifting_generator::drift_field(x, y, radii_);
        b.energy = 2.0 * mean_distance(x, y, false) - mean_distance(x, x, true) - mean_distance(y, y, true);
        return b;
    }

    // The loss of a batch, in double: mean |V / s|^2.
    static double loss_value(const Batch& b) {
        const double s = b.field.coordinate_scale;
        double sum = 0.0;
        for (double v : b.field.v) sum += (v / s) * (v / s);
        return sum / double(b.field.v.size());
    }

    Training train(Network& net, const Matrix& data, std::size_t latent, at::Generator& gen, mdlab::Context& ctx) const {
        Training t;
        std::string csv = "step,loss,energy_distance,drift";
        for (double r : radii_) csv += ",mean_square_R" + number(r);
        csv += "\n";
        auto record = [&](std::size_t step, double loss, const Batch& b) {
            csv += std::to_string(step) + "," + number(loss) + "," + number(b.energy) + "," + number(b.field.drift());
            for (double v : b.field.mean_square) csv += "," + number(v);
            csv += "\n";
        };
        if (steps_ == 0) {  // the untrained network: its drift on one batch, no update
            const Batch b = draw_batch(net, data, latent, gen);
            t.loss_initial = t.loss_final = loss_value(b);
            t.energy_initial = t.energy_final = b.energy;
            record(0, t.loss_initial, b);
        }
        torch::optim::Adam optimiser(net.parameters(), torch::optim::AdamOptions(lr_));
        const std::size_t tail = std::max<std::size_t>(1, steps_ / 10);
        double loss_tail = 0.0, energy_tail = 0.0;
        for (std::size_t step = 1; step <= steps_; ++step) {
            if (ctx.cancelled()) throw mdlab::Error("drifting_generator: cancelled");
            at::AutoGradMode grad(true);
            const Batch b = draw_batch(net, data, latent, gen);
            const double value = loss_value(b);
            if (!std::isfinite(value))
                throw mdlab::Error("drifting_generator: the loss is " + number(value) + " at step " +
                                   std::to_string(step) + " (lower lr)");
            const double s = b.field.coordinate_scale;
            const at::Tensor goal = b.out.detach() + to_tensor(b.field.v);
            const at::Tensor loss = (b.out - goal).pow(2).mean() / (s * s);
            optimiser.zero_grad();
            loss.backward();
            optimiser.step();
            if (step == 1) t.loss_initial = value, t.energy_initial = b.energy;
            if (step + tail > steps_) loss_tail += value, energy_tail += b.energy;
            record(step, value, b);
            ctx.progress(0.99 * double(step) / double(steps_));
            if (step == 1 || step % std::max<std::size_t>(1, steps_ / 10) == 0)
                ctx.log("drifting_generator: step " + std::to_string(step) + "/" + std::to_string(steps_) + " loss " +
                        number(value) + ", drift " + number(b.field.drift()));
        }
        if (steps_ > 0) {
            t.loss_final = loss_tail / double(std::min(tail, steps_));
            t.energy_final = energy_tail / double(std::min(tail, steps_));
        }
        write_text(ctx.output_dir() / (ctx.node_id() + ".drift.csv"), csv);
        return t;
    }

    // G(z) on n latents from the node's stream "latent", in one evaluation.
    at::Tensor generate(const Network& net, std::size_t latent, mdlab::Context& ctx) const {
        const mdlab::RandomStream stream = ctx.stream("latent");
        Matrix z = Matrix::from_shape({n_, latent});
        mdlab::for_chunks(n_, mdlab::random_chunk_rows, [&](std::size_t c, std::size_t b, std::size_t e) {
            mdlab::Rng rng = stream.chunk(c);
            for (std::size_t k = b * latent; k < e * latent; ++k) z.data()[k] = rng.normal();
        });
        c10::InferenceMode inference;
        return net(to_tensor(z));
    }

    // The per-step drift log, <node>.drift.csv in the cell folder, written atomically.
    static void write_text(const std::filesystem::path& file, const std::string& text) {
        const std::filesystem::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out << text;
            if (!out.flush()) throw mdlab::Error(file.string() + ": write failed (disk full?)");
        }
        mdlab::move_into_place(tmp, file);
    }

    std::size_t n_, steps_, batch_;
    double lr_;
    std::size_t width_, depth_;
    std::vector<double> radii_;
    std::size_t latent_dim_, threads_;
};

}  // namespace

extern "C" MDLAB_VISIBLE mdlab::Sampler* mdlab_drifting_generator_torch_create(const mdlab::Params& params) {
    return new DriftingGeneratorTorch(params);
}

extern "C" MDLAB_VISIBLE const char* mdlab_drifting_generator_torch_signature() { return MDLAB_BUILD_SIGNATURE; }

static_assert(std::is_same_v<decltype(&mdlab_drifting_generator_torch_create), drifting_generator::CreateFn>);
