// UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
// Diffusion Models"), the multistep solver of the probability-flow ODE in data prediction, as
// diffusers' UniPCMultistepScheduler runs it (predict_x0), for a general Gaussian process
// p_t(x | x0) = N(alpha_t x0, sigma_t^2 I) with lambda_t = log(alpha_t / sigma_t).
//
// Step i evaluates the denoiser once, m_i = D(x_i, t_i). Then:
//  - corrector (i > 0): UniC-p, with p the order of step i - 1's predictor, recomputes x_i from
//    x_{i-1} with m_{i-1}, ..., m_{i-p} and the new m_i (the order rises to p + 1, no extra
//    evaluation: m_i stays the one at the uncorrected x_i);
//  - predictor: UniP-p from the (corrected) x_i to t_{i+1} with m_i, ..., m_{i-p+1}.
// The weights are in unipc_weights.hpp. p = min(order, i + 1) (warm-up), and with lower_order_final
// p <= the steps left + 1: the grid's end counts as diffusers' order-1 step to sigma = 0 (its default
// final_sigmas_type "zero"), which is our Tweedie step (`denoise`, or a given grid's final 0), taken
// or not; so the last step is at most second order and the one before at most third. The last
// predictor output is not corrected (a correction needs the next step's evaluation), as in diffusers.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include <mdlab/grid_sampler.hpp>

#include "unipc_weights.hpp"

namespace {

using mdlab::unipc::max_order;

class UniPc : public mdlab::GridSampler<UniPc> {
public:
    static mdlab::PluginSpec describe() {
        return mdlab::sampler_spec("unipc", "1.0.0",
                                   "UniPC: multistep predictor-corrector probability-flow solver in log-SNR, "
                                   "orders 1-3 (1 score evaluation per step)",
                                   20)
            .param(mdlab::integer("order", 2,
                                  "order p of the predictor UniP-p (the corrector UniC-p raises it to p + 1); "
                                  "diffusers' solver_order")
                       .at_least(1)
                       .at_most(3))
            .param(mdlab::choice("variant", "bh2", {"bh1", "bh2"},
                                 "B(h) of the update: bh1 = h, bh2 = e^h - 1 (diffusers' solver_type)"))
            .param(mdlab::boolean("corrector", true,
                                  "apply the UniC corrector at every step after the first (false: UniP alone)"))
            .param(mdlab::boolean("lower_order_final", true,
                                  "lower the order on the final steps to at most the steps left, a final step to "
                                  "sigma 0 counted (as diffusers): the last step at most second order"));
    }

    explicit UniPc(const mdlab::Params& p)
        : GridSampler(p),
          order_(std::size_t(p.integer("order"))),
          variant_(p.string("variant") == "bh1" ? mdlab::unipc::Variant::bh1 : mdlab::unipc::Variant::bh2),
          corrector_(p.boolean("corrector")),
          lower_order_final_(p.boolean("lower_order_final")) {}

    struct State {
        State(const UniPc& s, const mdlab::SamplerRun& run) : now(run.matrix()), x_prev(run.matrix()) {
            for (std::size_t j = 0; j < s.order_; ++j) m[j] = run.matrix();
        }
        mdlab::Matrix now;                     // m_i = D(x_i, t_i)
        std::array<mdlab::Matrix, max_order> m;  // m[j] = m_{i-1-j} before the push, m_{i-j} after
        std::array<double, max_order> lambda{};  // their lambdas
        mdlab::Matrix x_prev;                  // x_{i-1}, the previous predictor's start
        std::size_t prev_order = 0;            // the previous predictor's order
    };

    void step(mdlab::SamplerRun& run, State& st, std::size_t i) const {
        const double lam = lambda(run, i);
        run.denoise(run.x, run.t[i], st.now);
        if (corrector_ && i > 0) {
            // UniC from x_{i-1}: the history is still m_{i-1}, m_{i-2}, ...
            update(run, st, st.prev_order, lam, i, st.x_prev, &st.now, run.x);
        }
        // Push m_i: the oldest slot is recycled.
        std::rotate(st.m.begin(), st.m.begin() + (order_ - 1), st.m.begin() + order_);
        std::rotate(st.lambda.begin(), st.lambda.begin() + (order_ - 1), st.lambda.begin() + order_);
        std::swap(st.m[0], st.now);
        st.lambda[0] = lam;

        std::size_t p = std::min(order_, i + 1);
        if (lower_order_final_) p = std::min(p, steps_left(run, i));
        if (corrector_) st.x_prev = run.x;
        update(run, st, p, lambda(run, i + 1), i + 1, run.x, nullptr, run.x);
        st.prev_order = p;
    }

private:
    // Steps from t_i to the end of the grid, plus diffusers' final step to sigma = 0.
    static std::size_t steps_left(const mdlab::SamplerRun& run, std::size_t i) { return run.settings.steps - i + 1; }

    static double lambda(const mdlab::SamplerRun& run, std::size_t i) {
        return std::log(run.process.alpha(run.t[i]) / run.process.sigma(run.t[i]));
    }

    // out = the UniP (m_new null) or UniC (m_new = m_{k+1}) step of order p from `from` at t_k
    // (lambda_k = st.lambda[0], history st.m) to t_next = t[next] (lambda_next). out may be `from`.
    void update(const mdlab::SamplerRun& run, const State& st, std::size_t p, double lam_next, std::size_t next,
                const mdlab::Matrix& from, const mdlab::Matrix* m_new, mdlab::Matrix& out) const {
        const double lam_k = st.lambda[0], h = lam_next - lam_k;
        std::array<double, max_order> r{};
        for (std::size_t j = 1; j < p; ++j) r[j - 1] = (st.lambda[j] - lam_k) / h;
        const double t_k = run.t[next - 1], t_next = run.t[next];
        const auto w = mdlab::unipc::weights(variant_, p, h, r, run.process.alpha(t_next), m_new != nullptr);
        const double cx = run.process.sigma(t_next) / run.process.sigma(t_k);
        const double* m[max_order] = {st.m[0].data(), p > 1 ? st.m[1].data() : nullptr,
                                      p > 2 ? st.m[2].data() : nullptr};
        const double* mn = m_new ? m_new->data() : nullptr;
        const double* x = from.data();
        double* y = out.data();
        run.each([&](std::size_t k) {
            double v = cx * x[k] + w.w[0] * m[0][k];
            for (std::size_t j = 1; j < p; ++j) v += w.w[j] * m[j][k];
            if (mn) v += w.w_new * mn[k];
            y[k] = v;
        });
    }

    std::size_t order_;
    mdlab::unipc::Variant variant_;
    bool corrector_, lower_order_final_;
};

}  // namespace

MDLAB_PLUGINS(UniPc)
