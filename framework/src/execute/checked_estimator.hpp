// A score estimator as the runtime hands it to the nodes downstream: every score or denoiser
// it returns is checked for shape and finiteness, so a faulty plugin fails its own sweep cell
// with a message naming the node, the plugin and the time, instead of corrupting a sampler's
// state (or memory) further on.
#pragma once
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <mdlab/components.hpp>
#include <mdlab/estimator_state.hpp>

namespace mdlab::runtime {

// The index of the first NaN or infinite entry of m (row-major), if any.
inline std::optional<std::size_t> first_non_finite(const Matrix& m) {
    for (std::size_t k = 0; k < m.size(); ++k)
        if (!std::isfinite(m.data()[k])) return k;
    return std::nullopt;
}

class CheckedEstimator : public ScoreEstimator, public EstimatorState {
public:
    CheckedEstimator(std::shared_ptr<const ScoreEstimator> inner, std::string node, std::string plugin)
        : inner_(std::move(inner)), node_(std::move(node)), plugin_(std::move(plugin)) {}

    void prepare(const Inputs&, Context&) override {}  // the inner estimator is prepared already
    std::size_t dim() const override { return inner_->dim(); }
    const ForwardProcess& process() const override { return inner_->process(); }
    void score(const Matrix& x, double t, Matrix& out) const override {
        inner_->score(x, t, out);
        check(x, t, out, "score");
    }
    void denoise(const Matrix& x, double t, Matrix& out) const override {
        inner_->denoise(x, t, out);
        check(x, t, out, "denoiser");
    }
    // The wrapped estimator's trained state, when it keeps one (mdlab/estimator_state.hpp).
    void save_state(const std::filesystem::path& file) const override {
        const auto* state = dynamic_cast<const EstimatorState*>(inner_.get());
        if (!state)
            throw InputError(fmt::format("score estimator '{}' (plugin '{}') keeps no trained state to save: it is "
                                         "computed from its inputs",
                                         node_, plugin_));
        state->save_state(file);
    }

private:
    void check(const Matrix& x, double t, const Matrix& out, const char* what) const {
        if (rows(out) != rows(x) || cols(out) != cols(x))
            throw Error(fmt::format("score estimator '{}' (plugin '{}') returned a {} of shape {} x {} for {} x {} points at t = {}",
                                    node_, plugin_, what, rows(out), cols(out), rows(x), cols(x), t));
        if (auto k = first_non_finite(out))
            throw Error(fmt::format("score estimator '{}' (plugin '{}') returned a non-finite {} ({}) at t = {}, row {}",
                                    node_, plugin_, what, out.data()[*k], t, *k / cols(x)));
    }
    std::shared_ptr<const ScoreEstimator> inner_;
    std::string node_, plugin_;
};

}  // namespace mdlab::runtime
